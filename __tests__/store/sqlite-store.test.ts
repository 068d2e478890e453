/**
 * The SQLite store: the backend-independent contract on real temp files, then what only a
 * file-based store has to prove — tamper detection when someone edits the file by hand,
 * migrations on reopen, several connections and processes on one file, and durability of
 * acknowledged writes across `kill -9`.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { spawn } from 'node:child_process'
import { copyFileSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { hashToken } from '../../src/server/auth/secrets.js'
import { hashAuditEvent } from '../../src/server/store/audit-chain.js'
import { openStore } from '../../src/server/store/index.js'
import { openSqliteStore } from '../../src/server/store/sqlite/index.js'
import { MIGRATIONS } from '../../src/server/store/sqlite/migrations.js'
import type { AuditEvent, Project, Store } from '../../src/server/store/types.js'
import { approvalFor } from './approval-input.js'
import { builtStoreModuleUrl } from './built-lib.js'
import { describeStoreContract } from './store-contract.js'
import { tempSqliteFiles } from './temp-sqlite-files.js'

/** What a verified GitHub Actions token says about the run that asked. */
const GITHUB_CLAIMS = {
  issuer: 'https://token.actions.githubusercontent.com',
  repository: 'acme/web',
  ref: 'refs/heads/main',
  sha: 'abc123',
  workflow_ref: 'acme/web/.github/workflows/deploy.yml@refs/heads/main',
  run_id: '42',
  run_attempt: '1',
  actor: 'octocat',
  triggering_actor: 'octocat',
  environment: 'production',
  event_name: 'push',
}

const contractDir = mkdtempSync(join(tmpdir(), 'ag-store-contract-'))
let fileNumber = 0

describeStoreContract(
  'sqlite',
  () => openSqliteStore(join(contractDir, `store-${++fileNumber}.db`)),
  async () => rmSync(contractDir, { recursive: true, force: true }),
)

describe('SQLite store on disk', () => {
  const files = tempSqliteFiles('sqlite')

  /** Opens the file the way an attacker with shell access would: no store, no rules. */
  function rawEdit(file: string, sql: string): void {
    const db = new DatabaseSync(file)
    try {
      db.exec(sql)
    } finally {
      db.close()
    }
  }

  const dropAuditTriggers = 'DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; DROP TRIGGER audit_heads_forward_only; DROP TRIGGER audit_heads_no_delete;'

  /** A closed file holding one project with 7 audit events (4 created, approved, rejected, cancelled). */
  async function fileWithHistory(): Promise<{ file: string; project: Project; events: AuditEvent[] }> {
    const file = files.fresh()
    const store = await openSqliteStore(file)
    const project = await store.createProject('web')
    const ids: string[] = []
    for (let i = 0; i < 4; i++) ids.push((await store.createApproval(approvalFor(project, { action: `a${i}` }))).approval.id)
    await store.decideApproval(project.id, ids[0], { decision: 'approve', reason: null, decided_by: 'ada' })
    await store.decideApproval(project.id, ids[1], { decision: 'reject', reason: 'no', decided_by: 'bob' })
    await store.cancelApproval(project.id, ids[2], { reason: null, by: 'key:ci' })
    const events: AuditEvent[] = []
    for await (const event of store.exportAudit(project.id)) events.push(event)
    await store.close()
    return { file, project, events }
  }

  async function verify(file: string, projectId: string) {
    const store = await openSqliteStore(file)
    try {
      return await store.verifyAudit(projectId)
    } finally {
      await store.close()
    }
  }

  describe('audit tamper detection', () => {
    it('refuses UPDATE and DELETE of audit rows while the triggers are in place', async () => {
      const { file, project } = await fileWithHistory()
      expect(() => rawEdit(file, "UPDATE audit_events SET reason = 'edited' WHERE seq = 3")).toThrow(/append-only/)
      expect(() => rawEdit(file, 'DELETE FROM audit_events WHERE seq = 7')).toThrow(/append-only/)
      expect(() => rawEdit(file, 'DELETE FROM audit_heads')).toThrow(/cannot be deleted/)
      expect(() => rawEdit(file, 'UPDATE audit_heads SET seq = 3')).toThrow(/forward/)
      expect(await verify(file, project.id)).toMatchObject({ ok: true, events: 7 })
    })

    it('pinpoints an edited event', async () => {
      const { file, project } = await fileWithHistory()
      rawEdit(file, `${dropAuditTriggers} UPDATE audit_events SET actor = 'mallory' WHERE seq = 5`)
      expect(await verify(file, project.id)).toEqual({ ok: false, events: 5, seq: 5, problem: 'hash_mismatch' })
    })

    it('pinpoints an edited event whose hash was recomputed: its MAC no longer verifies', async () => {
      const { file, project, events } = await fileWithHistory()
      const forged = { ...events[4], actor: 'mallory' }
      rawEdit(file, `${dropAuditTriggers} UPDATE audit_events SET actor = 'mallory', hash = '${hashAuditEvent(forged)}' WHERE seq = 5`)
      expect(await verify(file, project.id)).toEqual({ ok: false, events: 5, seq: 5, problem: 'mac_mismatch' })
    })

    it('pinpoints a rewritten last event whose hash and head were recomputed', async () => {
      const { file, project, events } = await fileWithHistory()
      const forged = { ...events[6], reason: 'rewritten' }
      const hash = hashAuditEvent(forged)
      rawEdit(file, `${dropAuditTriggers} UPDATE audit_events SET reason = 'rewritten', hash = '${hash}' WHERE seq = 7; UPDATE audit_heads SET hash = '${hash}';`)
      expect(await verify(file, project.id)).toEqual({ ok: false, events: 7, seq: 7, problem: 'mac_mismatch' })
    })

    it('finds an old event edited, every unkeyed hash after it recomputed and the head moved: the MAC check fails', async () => {
      // The attack the unkeyed chain could not see: rewrite an actor, recompute every later hash.
      const { file, project, events } = await fileWithHistory()
      const rewritten = events.map((event) => ({ ...event }))
      rewritten[1].actor = 'mallory'
      for (let i = 1; i < rewritten.length; i++) {
        if (i > 1) rewritten[i].prev_hash = rewritten[i - 1].hash
        rewritten[i].hash = hashAuditEvent(rewritten[i])
      }
      const updates = rewritten
        .slice(1)
        .map((e) => `UPDATE audit_events SET actor = '${e.actor}', prev_hash = '${e.prev_hash}', hash = '${e.hash}' WHERE seq = ${e.seq};`)
        .join(' ')
      rawEdit(file, `${dropAuditTriggers} ${updates} UPDATE audit_heads SET hash = '${rewritten[6].hash}';`)
      expect(await verify(file, project.id)).toEqual({ ok: false, events: 2, seq: 2, problem: 'mac_mismatch' })
    })

    it('pinpoints a deleted event in the middle', async () => {
      const { file, project } = await fileWithHistory()
      rawEdit(file, `${dropAuditTriggers} DELETE FROM audit_events WHERE seq = 3`)
      expect(await verify(file, project.id)).toMatchObject({ ok: false, seq: 3, problem: 'missing_event' })
    })

    it('pinpoints a deleted first event', async () => {
      const { file, project } = await fileWithHistory()
      rawEdit(file, `${dropAuditTriggers} DELETE FROM audit_events WHERE seq = 1`)
      expect(await verify(file, project.id)).toMatchObject({ ok: false, seq: 1, problem: 'missing_event' })
    })

    it('detects deleted events at the tail through the chain head', async () => {
      const { file, project } = await fileWithHistory()
      rawEdit(file, `${dropAuditTriggers} DELETE FROM audit_events WHERE seq >= 6`)
      expect(await verify(file, project.id)).toEqual({ ok: false, events: 5, seq: 6, problem: 'missing_event' })
    })

    it('detects deleted events renumbered to close the gap, at the broken link', async () => {
      const { file, project } = await fileWithHistory()
      rawEdit(file, `${dropAuditTriggers} DELETE FROM audit_events WHERE seq = 4; UPDATE audit_events SET seq = seq - 1 WHERE seq > 4;`)
      expect(await verify(file, project.id)).toMatchObject({ ok: false, seq: 4, problem: 'broken_link' })
    })

    it('names an approval whose verified requester claims were edited, removed or added behind the store', async () => {
      const file = files.fresh()
      const store = await openSqliteStore(file)
      const project = await store.createProject('web')
      const claims = { ...GITHUB_CLAIMS }
      const verified = (await store.createApproval(approvalFor(project, { requester_claims: claims, requested_by: 'oidc:acme/web@refs/heads/main' }))).approval.id
      const plain = (await store.createApproval(approvalFor(project))).approval.id
      await store.close()
      expect(await verify(file, project.id)).toMatchObject({ ok: true })

      const edits: Array<[string, string]> = [
        [`UPDATE approvals SET requester_claims = '${JSON.stringify({ ...claims, actor: 'mallory' })}' WHERE id = '${verified}'`, verified],
        [`UPDATE approvals SET requester_claims = NULL WHERE id = '${verified}'`, verified],
        [`UPDATE approvals SET requester_claims = '${JSON.stringify(claims)}' WHERE id = '${plain}'`, plain],
      ]
      for (const [edit, approvalId] of edits) {
        const copy = files.fresh()
        copyFileSync(file, copy)
        rawEdit(copy, edit)
        expect(await verify(copy, project.id)).toMatchObject({ ok: false, problem: 'approval_mismatch', approval_id: approvalId, detail: expect.stringMatching(/requester_claims .* differ from the verified claims its created event #\d+ recorded/) })
      }
    })

    it('detects an edited link', async () => {
      const { file, project } = await fileWithHistory()
      rawEdit(file, `${dropAuditTriggers} UPDATE audit_events SET prev_hash = '${'f'.repeat(64)}' WHERE seq = 2`)
      expect(await verify(file, project.id)).toMatchObject({ ok: false, seq: 2, problem: 'broken_link' })
    })

    it("refuses votes under a weakened policy snapshot and names the approval whose rule was edited", async () => {
      const file = files.fresh()
      let store = await openSqliteStore(file)
      const project = await store.createProject('web')
      const applied = { version: 1, rule: 'two', requirements: [{ name: 'approvers', members: null, required: 2 }], block_self_approval: false, require_reason: 'none' as const, reject: 'any' as const, windows: [] }
      const { approval } = await store.createApproval(approvalFor(project, { applied_policy: applied }))
      const created = (await store.listAudit(project.id)).items[0]
      expect(created.reason).toMatch(/^policy v1, rule "two", sha256 [0-9a-f]{64}$/)
      await store.close()
      // Someone with the file lowers the rule of the waiting request to one approval.
      rawEdit(file, `UPDATE approvals SET applied_policy = '${JSON.stringify({ ...applied, requirements: [{ name: 'approvers', members: null, required: 1 }] })}'`)
      store = await openSqliteStore(file)
      try {
        const count = () => ({ outcome: 'approved' as const, groups: {} })
        await expect(store.recordVote(project.id, approval.id, { by: 'key:a', email: null, decision: 'approve', reason: null }, count)).rejects.toThrow(/policy rule in the database differs/)
        expect((await store.getApproval(project.id, approval.id))?.status).toBe('pending')
        expect(await store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: false, problem: 'approval_mismatch', approval_id: approval.id, detail: expect.stringContaining('policy rule') })
      } finally {
        await store.close()
      }
    })
  })

  describe('migrations', () => {
    it('applies each migration once, however often the file is reopened', async () => {
      const file = files.fresh()
      const first = await openSqliteStore(file)
      const project = await first.createProject('web')
      await first.close()
      for (let i = 0; i < 3; i++) await (await openSqliteStore(file)).close()
      const reopened = await openSqliteStore(file)
      expect(await reopened.getProject(project.id)).toEqual(project)
      await reopened.close()

      const db = new DatabaseSync(file, { readOnly: true })
      expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all().map((r) => r.version)).toEqual(MIGRATIONS.map((m) => m.version))
      expect(db.prepare('PRAGMA journal_mode').get()).toEqual({ journal_mode: 'wal' })
      db.close()
    })

    it('migrates a version 1 file: old idempotency keys stay bound, but to no request fingerprint', async () => {
      const file = files.fresh()
      const db = new DatabaseSync(file)
      db.exec(`CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT; ${MIGRATIONS[0].sql}`)
      db.prepare("INSERT INTO schema_migrations VALUES (1, 'initial schema', ?)").run(new Date().toISOString())
      const now = new Date().toISOString()
      db.prepare("INSERT INTO projects VALUES ('prj_v1', 'v1', '{}', ?)").run(now)
      db.prepare(
        "INSERT INTO approvals (id, project_id, action, context, status, created_at, expires_at, idempotency_key, requested_by) VALUES ('apr_v1', 'prj_v1', 'deploy', '{}', 'pending', ?, ?, 'run-1', 'key:ci')",
      ).run(now, now)
      db.close()
      const store = await openSqliteStore(file)
      try {
        const project = (await store.getProject('prj_v1'))!
        expect(await store.getApproval(project.id, 'apr_v1')).toMatchObject({ idempotency_key: 'run-1', requested_by_key_id: null })
        // Whatever is sent now, a key from before fingerprints is refused rather than trusted.
        expect(await store.createApproval(approvalFor(project, { idempotency_key: 'run-1', idempotency_fingerprint: 'f' }))).toMatchObject({ key_reused: true, approval: { id: 'apr_v1' } })
      } finally {
        await store.close()
      }
    })

    it('refuses a file written by a newer schema', async () => {
      const file = files.fresh()
      await (await openSqliteStore(file)).close()
      rawEdit(file, "INSERT INTO schema_migrations (version, name, applied_at) VALUES (9999, 'future', '2099-01-01T00:00:00.000Z')")
      await expect(openSqliteStore(file)).rejects.toThrow(/newer than this approval-gate supports/)
    })

    it('applies a migration missing below the highest recorded one', async () => {
      // As a development build could leave it: version 11 recorded, version 10 neither run nor recorded.
      const file = files.fresh()
      await (await openSqliteStore(file)).close()
      rawEdit(file, 'DROP INDEX memberships_by_slack_user; ALTER TABLE memberships DROP COLUMN slack_user_id; DELETE FROM schema_migrations WHERE version = 10')
      await (await openSqliteStore(file)).close()
      const db = new DatabaseSync(file)
      try {
        expect(db.prepare('SELECT version FROM schema_migrations ORDER BY version').all().map((row) => row.version)).toEqual(MIGRATIONS.map((migration) => migration.version))
        expect(db.prepare("SELECT name FROM pragma_table_info('memberships') WHERE name = 'slack_user_id'").get()).toEqual({ name: 'slack_user_id' })
      } finally {
        db.close()
      }
    })

    it('names a migration that fails, and changes nothing', async () => {
      // Version 10 unrecorded but its column present: re-running it fails on the duplicate column.
      const file = files.fresh()
      await (await openSqliteStore(file)).close()
      rawEdit(file, 'DELETE FROM schema_migrations WHERE version = 10')
      await expect(openSqliteStore(file)).rejects.toThrow(/schema migration 10 \(Slack: .*\) failed, nothing was changed: .*duplicate column/)
      const db = new DatabaseSync(file)
      try {
        expect(db.prepare('SELECT version FROM schema_migrations WHERE version >= 10').all().map((row) => row.version)).toEqual([11])
      } finally {
        db.close()
      }
    })

    it('opens through the backend-neutral factory and refuses unknown kinds', async () => {
      const store = await openStore({ kind: 'sqlite', path: files.fresh() })
      expect(await store.listProjects()).toEqual([])
      await store.close()
      await expect(openStore({ kind: 'oracle' } as unknown as Parameters<typeof openStore>[0])).rejects.toThrow(/unknown store kind/)
    })
  })

  describe('upgrading a database written before the chain was keyed (schema 1)', () => {
    /** A file as approval-gate with schema 1 left it: one approved and one pending approval, three unkeyed events. */
    function version1File(): { file: string; projectId: string; approvedId: string; pendingId: string } {
      const file = files.fresh()
      const db = new DatabaseSync(file)
      try {
        db.exec('CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT')
        db.exec(MIGRATIONS[0].sql)
        db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (1, ?, ?)').run(MIGRATIONS[0].name, '2026-01-01T00:00:00.000Z')
        const projectId = 'prj_legacyproject0000000'
        db.prepare("INSERT INTO projects (id, name, settings, created_at) VALUES (?, 'old', ?, '2026-01-01T00:00:00.000Z')").run(projectId, JSON.stringify({ blockSelfApproval: false, defaultTimeoutMs: 3_600_000 }))
        const approvedId = 'apr_legacyapproved000000'
        const pendingId = 'apr_legacypending0000000'
        const insertApproval = db.prepare(
          `INSERT INTO approvals (id, project_id, action, context, agent, status, reason, decided_by, decided_at, created_at, expires_at, requested_by)
           VALUES (?, ?, ?, '{"v":1}', NULL, ?, NULL, ?, ?, '2026-01-01T00:00:01.000Z', '2099-01-01T00:00:00.000Z', 'key:ci')`,
        )
        insertApproval.run(approvedId, projectId, 'deploy', 'approved', 'ada', '2026-01-01T00:00:02.000Z')
        insertApproval.run(pendingId, projectId, 'migrate', 'pending', null, null)
        const events = [
          { type: 'created', approval_id: approvedId, action: 'deploy', actor: 'key:ci', at: '2026-01-01T00:00:01.000Z' },
          { type: 'created', approval_id: pendingId, action: 'migrate', actor: 'key:ci', at: '2026-01-01T00:00:01.000Z' },
          { type: 'approved', approval_id: approvedId, action: 'deploy', actor: 'ada', at: '2026-01-01T00:00:02.000Z' },
        ] as const
        let prev_hash = '0'.repeat(64)
        const insertEvent = db.prepare('INSERT INTO audit_events (project_id, seq, type, approval_id, action, agent, actor, reason, at, prev_hash, hash) VALUES (?, ?, ?, ?, ?, NULL, ?, NULL, ?, ?, ?)')
        events.forEach((e, i) => {
          const hash = hashAuditEvent({ project_id: projectId, seq: i + 1, agent: null, reason: null, prev_hash, ...e })
          insertEvent.run(projectId, i + 1, e.type, e.approval_id, e.action, e.actor, e.at, prev_hash, hash)
          prev_hash = hash
        })
        db.prepare('INSERT INTO audit_heads (project_id, seq, hash) VALUES (?, 3, ?)').run(projectId, prev_hash)
        return { file, projectId, approvedId, pendingId }
      } finally {
        db.close()
      }
    }

    it('seals existing events as legacy, proves their decisions, and keys new events', async () => {
      const { file, projectId, approvedId, pendingId } = version1File()
      const store = await openSqliteStore(file)
      try {
        expect(await store.verifyAudit(projectId)).toEqual({ ok: true, events: 3, head: expect.any(String), legacy_events: 3 })
        const approved = (await store.getApproval(projectId, approvedId))!
        expect(await store.verifyDecision(projectId, approved)).toBeNull()
        const decided = await store.decideApproval(projectId, pendingId, { decision: 'reject', reason: 'no', decided_by: 'bob' })
        expect(decided?.changed && decided.event).toMatchObject({ seq: 4, sealed_at: null, mac: expect.stringMatching(/^[0-9a-f]{64}$/) })
        expect(await store.verifyDecision(projectId, decided!.approval)).toBeNull()
        expect(await store.verifyAudit(projectId)).toMatchObject({ ok: true, events: 4, legacy_events: 3 })
      } finally {
        await store.close()
      }
      // A legacy event edited after the upgrade, its unkeyed hash recomputed: the seal catches it.
      const events: AuditEvent[] = []
      const reader = await openSqliteStore(file)
      for await (const event of reader.exportAudit(projectId)) events.push(event)
      await reader.close()
      const forged = { ...events[2], actor: 'mallory' }
      rawEdit(file, `${dropAuditTriggers} UPDATE audit_events SET actor = 'mallory', hash = '${hashAuditEvent(forged)}' WHERE seq = 3; UPDATE approvals SET decided_by = 'mallory' WHERE id = '${approvedId}'`)
      expect(await verify(file, projectId)).toEqual({ ok: false, events: 3, seq: 3, problem: 'mac_mismatch' })
    })
  })

  describe('several connections on one file', () => {
    let file: string
    let server: Store
    let cli: Store
    beforeAll(async () => {
      file = files.fresh()
      server = await openSqliteStore(file)
      cli = await openSqliteStore(file)
    })
    afterAll(async () => {
      await server.close()
      await cli.close()
    })

    it('sees what the other connection wrote at once (a key created by the CLI works without restart)', async () => {
      const project = await cli.createProject('shared')
      expect(await server.getProjectByName('shared')).toEqual(project)
      const key = await cli.createApiKey({ project_id: project.id, name: 'ci', scopes: ['request'], key_hash: hashToken('agk_live'), prefix: 'agk_li' })
      expect(await server.findApiKey(hashToken('agk_live'))).toEqual(key)
      await cli.revokeApiKey(project.id, key.id)
      expect(await server.findApiKey(hashToken('agk_live'))).toBeNull()
    })

    it('keeps idempotency and first-decision-wins across connections', async () => {
      const project = await server.createProject('race')
      const creates = await Promise.all(
        Array.from({ length: 10 }, (_, i) => (i % 2 ? server : cli).createApproval(approvalFor(project, { idempotency_key: 'one' }))),
      )
      expect(creates.filter((c) => c.created)).toHaveLength(1)
      expect(new Set(creates.map((c) => c.approval.id)).size).toBe(1)
      const id = creates[0].approval.id
      const decisions = await Promise.all(
        Array.from({ length: 20 }, (_, i) => (i % 2 ? server : cli).decideApproval(project.id, id, { decision: 'approve', reason: null, decided_by: `u${i}` })),
      )
      expect(decisions.filter((d) => d?.changed)).toHaveLength(1)
      expect(await cli.verifyAudit(project.id)).toMatchObject({ ok: true, events: 2 })
    })

    it('keeps one audit chain when both connections append to it', async () => {
      const project = await server.createProject('chain')
      for (let i = 0; i < 10; i++) await (i % 2 ? server : cli).createApproval(approvalFor(project))
      expect(await server.verifyAudit(project.id)).toMatchObject({ ok: true, events: 10 })
    })
  })

  it('keeps everything across close and reopen', async () => {
    const file = files.fresh()
    const store = await openSqliteStore(file)
    const project = await store.createProject('web', { blockSelfApproval: true })
    const user = await store.createUser({ email: 'ada@example.com', password_hash: 'h' })
    await store.setMembership(project.id, user.id, 'admin', { github_login: 'ada' })
    const { approval } = await store.createApproval(approvalFor(project, { context: { n: 1 } }))
    const decided = await store.decideApproval(project.id, approval.id, { decision: 'approve', reason: 'ok', decided_by: 'ada@example.com' })
    await store.close()

    const reopened = await openSqliteStore(file)
    expect(await reopened.getProject(project.id)).toEqual(project)
    expect(await reopened.listMembers(project.id)).toEqual([{ ...user, role: 'admin', github_login: 'ada', slack_user_id: null }])
    expect(await reopened.getApproval(project.id, approval.id)).toEqual(decided?.approval)
    expect(await reopened.verifyAudit(project.id)).toMatchObject({ ok: true, events: 2 })
    await reopened.close()
  })

  describe('separate processes (compiled store from lib/)', () => {
    let storeUrl: string
    beforeAll(() => {
      storeUrl = builtStoreModuleUrl()
    }, 120_000)

    /** Runs a plain Node 24 script (the jest runtime's own binary) that imports the compiled store. */
    function spawnScript(name: string, body: string, args: string[]) {
      const script = files.pathOf(name)
      writeFileSync(script, `import { openStore } from ${JSON.stringify(storeUrl)}\n${body}`)
      return spawn(process.execPath, [script, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    }

    function exitOf(child: ReturnType<typeof spawn>): Promise<{ code: number | null; signal: NodeJS.Signals | null; stderr: string }> {
      let stderr = ''
      child.stderr?.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
      return new Promise((resolve) => child.on('close', (code, signal) => resolve({ code, signal, stderr })))
    }

    it('lets several processes open and migrate a new file at the same moment', async () => {
      const file = files.fresh()
      const body = `
        const store = await openStore({ kind: 'sqlite', path: process.argv[2] })
        const name = 'p' + process.argv[3]
        await store.createProject(name)
        await store.close()
      `
      const children = Array.from({ length: 4 }, (_, i) => spawnScript(`open-${i}.mjs`, body, [file, String(i)]))
      const exits = await Promise.all(children.map(exitOf))
      for (const exit of exits) expect(exit).toEqual({ code: 0, signal: null, stderr: '' })
      const store = await openSqliteStore(file)
      expect((await store.listProjects()).map((p) => p.name)).toEqual(['p0', 'p1', 'p2', 'p3'])
      await store.close()
    }, 30_000)

    /**
     * A child creates and decides approvals with `workers` loops in flight (64: batches of
     * group-committed decisions) and prints an id only after decideApproval resolved — the
     * acknowledgement; it is killed with SIGKILL after `killAfter` of them. Every acknowledged
     * decision must be on disk with its audit event, and the chain must verify.
     */
    async function killDuringDecisions(workers: number, killAfter: number): Promise<void> {
      const file = files.fresh()
      const setup = await openSqliteStore(file)
      const project = await setup.createProject('durable')
      await setup.close()

      const child = spawnScript(
        `writer-${workers}.mjs`,
        `
        const [file, projectId, workers] = process.argv.slice(2)
        const store = await openStore({ kind: 'sqlite', path: file })
        let n = 0
        async function loop() {
          for (;;) {
            const i = n++
            const { approval } = await store.createApproval({
              project_id: projectId, action: 'deploy ' + i, context: { i }, agent: null,
              expires_at: new Date(Date.now() + 3600000).toISOString(), idempotency_key: null, requested_by: 'key:ci',
            })
            await store.decideApproval(projectId, approval.id, { decision: i % 2 ? 'approve' : 'reject', reason: null, decided_by: 'ada' })
            process.stdout.write(approval.id + ' ' + (i % 2 ? 'approved' : 'rejected') + '\\n')
          }
        }
        await Promise.all(Array.from({ length: Number(workers) }, loop))
        `,
        [file, project.id, String(workers)],
      )
      const exited = exitOf(child)
      const acknowledged: string[] = []
      let buffered = ''
      child.stdout?.on('data', (chunk: Buffer) => {
        buffered += chunk.toString()
        const lines = buffered.split('\n')
        buffered = lines.pop() ?? ''
        acknowledged.push(...lines)
        if (acknowledged.length >= killAfter) child.kill('SIGKILL')
      })
      const exit = await exited
      expect(exit.signal).toBe('SIGKILL')
      expect(acknowledged.length).toBeGreaterThanOrEqual(killAfter)

      const store = await openSqliteStore(file)
      for (const line of acknowledged) {
        const [id, status] = line.split(' ')
        const approval = await store.getApproval(project.id, id)
        expect(approval?.status).toBe(status)
        // Its decision event is in the chain and its MAC verifies.
        expect(await store.verifyDecision(project.id, approval!)).toBeNull()
      }
      expect(await store.verifyAudit(project.id)).toMatchObject({ ok: true })
      await store.close()
    }

    it('loses no acknowledged decision when the writer is killed with SIGKILL', async () => {
      await killDuringDecisions(1, 200)
    }, 30_000)

    it('loses no acknowledged decision when killed during a burst of group-committed decisions (64 in flight)', async () => {
      await killDuringDecisions(64, 1000)
    }, 30_000)
  })
})
