/**
 * Abuse paths of the approvals API against a real server (issue #10 items 1, 2, 4, 11, 14):
 * Idempotency-Key replay with a different request, a key deciding its own request, the
 * self-approval rule reading `triggering_actor`, mass expiry, the per-key create rate limit
 * and names that look blank.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { startServer } from '../../src/server/server.js'
import { DATABASE_FILE } from '../../src/server/server.js'
import { runCli, startServe, stop } from '../cli/helpers.js'
import { ADMIN, FormClient, createViaApi, startDashboard } from '../dashboard/fixture.js'
import { call, createKey, expectError, startTestServer, type TestServer } from './helpers.js'

let t: TestServer
beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.close()
})

const create = (json: unknown, key = t.keys.request, headers: Record<string, string> = {}) => call(t.url, 'POST', '/v1/approvals', { key, json, headers })
/** The newest approval and audit event of the project: unchanged when nothing was written. */
const newest = async () => ({
  approval: (await t.store.listApprovals(t.project.id, { limit: 1 })).items[0]?.id,
  event: (await t.store.listAudit(t.project.id, { limit: 1 })).items[0]?.seq,
})

describe('Idempotency-Key replay (#10.1)', () => {
  it('answers 422 idempotency_key_reused for the same key with a different request, and changes nothing', async () => {
    const key = { 'idempotency-key': 'deploy-prod' }
    const first = await create({ action: 'deploy-staging', context: { env: 'staging' } }, t.keys.request, key)
    expect(first.status).toBe(201)
    const before = await newest()
    for (const body of [
      { action: 'drop-production-database', context: { env: 'staging' } },
      { action: 'deploy-staging', context: { env: 'production' } },
      { action: 'deploy-staging', context: { env: 'staging' }, agent: 'other-bot' },
      { action: 'deploy-staging', context: { env: 'staging' }, timeout_ms: 5_000 },
    ]) {
      const replay = await create(body, t.keys.request, key)
      expectError(replay, 422, 'idempotency_key_reused', 'Idempotency-Key')
      expect(replay.body.approval).toBeUndefined()
    }
    expect(await newest()).toEqual(before)
    expect((await call(t.url, 'GET', `/v1/approvals/${first.body.id}`, { key: t.keys.request })).body).toMatchObject({ action: 'deploy-staging', status: 'pending' })
  })

  it('answers the original record (200) for the same key and the same request, whatever the key order of context', async () => {
    const key = { 'idempotency-key': 'same-body' }
    const first = await create({ action: 'ship', context: { a: 1, b: { c: [1, 2], d: 'x' } }, agent: 'bot', timeout_ms: 60_000 }, t.keys.request, key)
    const again = await create({ timeout_ms: 60_000, agent: 'bot', context: { b: { d: 'x', c: [1, 2] }, a: 1 }, action: 'ship' }, t.keys.request, key)
    expect([first.status, again.status]).toEqual([201, 200])
    expect(again.body.id).toBe(first.body.id)
    // No body fields given is the same request as explicit defaults of nothing.
    const bare = await create({ action: 'bare' }, t.keys.request, { 'idempotency-key': 'bare' })
    const bareAgain = await create({ action: 'bare', context: {} }, t.keys.request, { 'idempotency-key': 'bare' })
    expect([bare.status, bareAgain.status, bareAgain.body.id]).toEqual([201, 200, bare.body.id])
  })

  it('lets a key older than 24 h start a new approval', async () => {
    const key = { 'idempotency-key': 'yesterday' }
    const old = await create({ action: 'nightly' }, t.keys.request, key)
    expect(old.status).toBe(201)
    // Age the key by a day in the database file.
    const db = new DatabaseSync(join(t.dataDir, DATABASE_FILE))
    try {
      const dayAgo = new Date(Date.now() - 24 * 3_600_000 - 1_000).toISOString()
      expect(Number(db.prepare('UPDATE idempotency_keys SET created_at = ? WHERE idempotency_key = ?').run(dayAgo, 'yesterday').changes)).toBe(1)
    } finally {
      db.close()
    }
    const fresh = await create({ action: 'something-new' }, t.keys.request, key)
    expect(fresh.status).toBe(201)
    expect(fresh.body.id).not.toBe(old.body.id)
    // The new record now owns the key.
    expectError(await create({ action: 'nightly' }, t.keys.request, key), 422, 'idempotency_key_reused')
    expect((await create({ action: 'something-new' }, t.keys.request, key)).body.id).toBe(fresh.body.id)
  })
})

describe('a key deciding its own request (#10.2)', () => {
  it('refuses 403 self_approval for a request+decide key and for an admin key, and writes nothing', async () => {
    const both = await createKey(t.store, t.project.id, ['request', 'decide'], 'both-scopes')
    for (const key of [both, t.keys.admin]) {
      const created = await create({ action: 'deploy-production' }, key)
      expect(created.status).toBe(201)
      const before = await newest()
      const refused = await call(t.url, 'POST', `/v1/approvals/${created.body.id}/decision`, { key, json: { decision: 'approve' } })
      expectError(refused, 403, 'self_approval', 'API key that created')
      expect((await t.store.getApproval(t.project.id, created.body.id))?.status).toBe('pending')
      expect(await newest()).toEqual(before)
      // Another key may decide it.
      const other = await call(t.url, 'POST', `/v1/approvals/${created.body.id}/decision`, { key: t.keys.decide, json: { decision: 'approve' } })
      expect(other.body).toMatchObject({ status: 'approved', decided_by: 'key:decide-key' })
    }
  })
})

describe('self-approval rule reads triggering_actor too (#10.4)', () => {
  it("refuses the member who re-ran someone else's run", async () => {
    const fx = await startDashboard()
    try {
      await fx.store.updateProjectSettings(fx.project.id, { blockSelfApproval: true })
      const client = new FormClient(fx.url)
      await client.login(ADMIN.email, ADMIN.password)
      const csrf = await client.csrf()
      for (const github of [{ actor: 'someone-else', triggering_actor: ADMIN.github.toUpperCase() }, { actor: ADMIN.github, triggering_actor: 'someone-else' }]) {
        const created = await createViaApi(fx.url, fx.keys.request, { action: 'rerun', context: { github } })
        const refused = await client.request('POST', `/approvals/${created.id}/decision`, { form: { _csrf: csrf, decision: 'approve' }, headers: { accept: 'application/json' } })
        expect(refused.status).toBe(403)
        expect(JSON.parse(refused.text)).toMatchObject({ result: 'refused', message: expect.stringContaining(ADMIN.github) })
        expect((await fx.store.getApproval(fx.project.id, created.id))?.status).toBe('pending')
      }
    } finally {
      await fx.close()
    }
  })
})

describe('blank-looking names (#10.14)', () => {
  it('refuses action and agent names without a visible character, naming the field', async () => {
    for (const blank of ['\u3164', '\u3164\u3164', '\u2800', '\u2800 \u2800', '\u0301', '\u0301\u0302', ' \u0301', '\u115F\u1160', '\uFFA0']) {
      expectError(await create({ action: blank }), 400, 'invalid_request', 'body.action')
      expectError(await create({ action: 'ok', agent: blank }), 400, 'invalid_request', 'body.agent')
    }
    expectError(await create({ action: 'ok', agent: '   ' }), 400, 'invalid_request', 'body.agent')
    for (const name of ['e\u0301', '🚀', '-', '$', '\u3164x', 'déploiement prod']) {
      const created = await create({ action: name, agent: name })
      expect(created.status).toBe(201)
      expect(created.body).toMatchObject({ action: name, agent: name })
    }
    // An empty agent still means "no agent".
    expect((await create({ action: 'ok', agent: '' })).body.agent).toBeNull()
  })
})

describe('per-key create rate limit (#10.11)', () => {
  it('answers 429 rate_limited with Retry-After past the limit, per key', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'approval-gate-rate-'))
    const server = await startServer({ dataDir, port: 0, createRateLimit: { limit: 3, windowMs: 60_000 } })
    try {
      const project = await server.store.createProject('rate')
      const busy = await createKey(server.store, project.id, ['request'], 'busy')
      const calm = await createKey(server.store, project.id, ['request'], 'calm')
      for (let i = 0; i < 3; i++) expect((await call(server.url, 'POST', '/v1/approvals', { key: busy, json: { action: `a${i}` } })).status).toBe(201)
      const limited = await call(server.url, 'POST', '/v1/approvals', { key: busy, json: { action: 'one-too-many' } })
      expectError(limited, 429, 'rate_limited')
      const retryAfter = Number(limited.headers.get('retry-after'))
      expect(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60).toBe(true)
      expect((await server.store.listApprovals(project.id)).items).toHaveLength(3)
      // Another key of the same project, and reads by the limited key, are not limited.
      expect((await call(server.url, 'POST', '/v1/approvals', { key: calm, json: { action: 'calm' } })).status).toBe(201)
      expect((await call(server.url, 'GET', '/v1/approvals', { key: busy })).status).toBe(200)
    } finally {
      await server.close()
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})

describe('serve --create-rate-limit', () => {
  it('sets the per-key limit of a served process, and refuses a malformed rate', async () => {
    const bad = await runCli(['serve', '--create-rate-limit', 'fast'])
    expect(bad.code).toBe(64)
    expect(bad.stderr).toMatch(/--create-rate-limit: .*600\/min/)
    const dataDir = await mkdtemp(join(tmpdir(), 'approval-gate-rate-cli-'))
    const served = await startServe(dataDir, ['--create-rate-limit', '2/h'])
    try {
      const key = /API key\s+(agk_\S+)/.exec(served.process.stdout())?.[1]
      expect(key).toBeDefined()
      const statuses: number[] = []
      for (let i = 0; i < 3; i++) statuses.push((await call(served.url, 'POST', '/v1/approvals', { key, json: { action: `cli-${i}` } })).status)
      expect(statuses).toEqual([201, 201, 429])
    } finally {
      await stop(served.process)
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})

describe('mass expiry (#10.11)', () => {
  it('expires 30,000 due approvals in batches, answering /healthz while the sweep runs', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'approval-gate-mass-'))
    const server = await startServer({ dataDir, port: 0 })
    const total = 30_000
    try {
      const project = await server.store.createProject('mass')
      const decider = await createKey(server.store, project.id, ['decide'], 'decider')
      // Written straight into the file: 30k creates through the API would only slow the test.
      const db = new DatabaseSync(join(dataDir, DATABASE_FILE))
      const past = new Date(Date.now() - 60_000).toISOString()
      try {
        db.exec('BEGIN')
        const insert = db.prepare(
          `INSERT INTO approvals (id, project_id, action, context, agent, status, created_at, expires_at, idempotency_key, requested_by)
           VALUES (?, ?, 'due', '{}', NULL, 'pending', ?, ?, NULL, 'key:ci')`,
        )
        for (let i = 0; i < total; i++) insert.run(`apr_mass_${String(i).padStart(6, '0')}`, project.id, past, past)
        db.exec('COMMIT')
      } finally {
        db.close()
      }
      let expiredEvents = 0
      let expiredWhenHealthAnswered = -1
      let health: Promise<void> | null = null
      server.notifier.onProject(project.id, (event) => {
        if (event.type !== 'expired') return
        expiredEvents++
        // As soon as the sweep has begun, ask for /healthz.
        health ??= fetch(`${server.url}/healthz`).then(async (response) => {
          expect(response.status).toBe(200)
          await response.text()
          expiredWhenHealthAnswered = expiredEvents
        })
      })
      // A decision on a due approval runs the sweep before answering.
      const late = await call(server.url, 'POST', '/v1/approvals/apr_mass_000000/decision', { key: decider, json: { decision: 'approve' } })
      expectError(late, 409, 'conflict')
      expect(late.body.approval.status).toBe('expired')
      expect(health).not.toBeNull()
      await health
      expect(expiredEvents).toBe(total)
      // Answered in between batches, not after the whole sweep.
      expect(expiredWhenHealthAnswered).toBeGreaterThan(0)
      expect(expiredWhenHealthAnswered).toBeLessThan(total)
      expect(await server.store.countPending(project.id)).toBe(0)
    } finally {
      await server.close()
      await rm(dataDir, { recursive: true, force: true })
    }
  }, 120_000)
})
