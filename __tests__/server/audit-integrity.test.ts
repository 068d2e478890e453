/**
 * Audit trail integrity against someone who can edit the database but does not hold the audit
 * key: a row edited to `approved` is never reported as approved (API, long-poll, list, the
 * CLI gate), `audit verify` names the approval, rewritten history with recomputed unkeyed
 * hashes fails the MAC check, checkpoints anchor the head, and the key file is guarded.
 * Verification runs in chunks (the server keeps answering) and is rate-limited per key.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { chmodSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { readAuditKeyFile } from '../../src/server/store/audit-key.js'
import { hashAuditEvent, headMac, macAuditEvent } from '../../src/server/store/audit-chain.js'
import { DATABASE_FILE } from '../../src/server/server.js'
import type { Approval, AuditEvent } from '../../src/server/store/types.js'
import { hashPassword } from '../../src/server/auth/secrets.js'
import { runCli, startCli } from '../cli/helpers.js'
import { FormClient } from '../dashboard/fixture.js'
import { createRunnerFiles, inputEnv, readOutputs, RUNNER_ENV, startAction, until } from '../action/run-action.js'
import { call, createKey, expectError, startTestServer, type TestServer } from './helpers.js'

/** Opens the server's database file the way an attacker with file access would: no store, no rules. */
function rawEdit(t: TestServer, sql: string, ...params: string[]): void {
  const db = new DatabaseSync(join(t.dataDir, DATABASE_FILE))
  try {
    if (params.length) db.prepare(sql).run(...params)
    else db.exec(sql)
  } finally {
    db.close()
  }
}

const DROP_TRIGGERS = 'DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; DROP TRIGGER audit_heads_forward_only; DROP TRIGGER audit_heads_no_delete;'

async function allEvents(t: TestServer): Promise<AuditEvent[]> {
  const events: AuditEvent[] = []
  for await (const event of t.store.exportAudit(t.project.id)) events.push(event)
  return events
}

describe('a pending approval set to approved in the database', () => {
  let t: TestServer
  let forged: string
  let genuine: string
  beforeAll(async () => {
    t = await startTestServer()
    forged = (await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'drop-production' } })).body.id
    genuine = (await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'deploy' } })).body.id
    expect((await call(t.url, 'POST', `/v1/approvals/${genuine}/decision`, { key: t.keys.decide, json: { decision: 'approve' } })).status).toBe(200)
    rawEdit(t, "UPDATE approvals SET status = 'approved', decided_by = 'key:decide-key', decided_at = ? WHERE id = ?", new Date().toISOString(), forged)
  })
  afterAll(async () => {
    await t?.close()
  })

  it('is answered 500 integrity_error naming it, never approved: get, long-poll and list', async () => {
    expectError(await call(t.url, 'GET', `/v1/approvals/${forged}`, { key: t.keys.request }), 500, 'integrity_error', forged)
    expectError(await call(t.url, 'GET', `/v1/approvals/${forged}?wait=5`, { key: t.keys.request }), 500, 'integrity_error', forged)
    expectError(await call(t.url, 'GET', '/v1/approvals', { key: t.keys.request }), 500, 'integrity_error', forged)
    expectError(await call(t.url, 'POST', `/v1/approvals/${forged}/decision`, { key: t.keys.decide, json: { decision: 'reject' } }), 500, 'integrity_error', forged)
    // A decision the audit trail proves is still reported.
    expect((await call(t.url, 'GET', `/v1/approvals/${genuine}`, { key: t.keys.request })).body).toMatchObject({ status: 'approved' })
    expect((await call(t.url, 'GET', '/v1/approvals?status=pending', { key: t.keys.request })).status).toBe(200)
  })

  it('wakes a waiting long-poll (as a forged notification would) with 500, not approved', async () => {
    const waiting = (await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'wake-me' } })).body.id
    const poll = call(t.url, 'GET', `/v1/approvals/${waiting}?wait=30`, { key: t.keys.request })
    rawEdit(t, "UPDATE approvals SET status = 'approved', decided_by = 'key:decide-key', decided_at = ? WHERE id = ?", new Date().toISOString(), waiting)
    const edited = (await t.store.getApproval(t.project.id, waiting)) as Approval
    // Published until the poll answers: it may not be held yet when the first one goes out.
    const timer = setInterval(() => t.server.notifier.publish({ type: 'approved', approval: edited }), 50)
    try {
      expectError(await poll, 500, 'integrity_error', waiting)
    } finally {
      clearInterval(timer)
    }
  })

  it('shows an error page naming it in the dashboard, not an approved card', async () => {
    const user = await t.store.createUser({ email: 'ann@example.com', password_hash: await hashPassword('a long enough password') })
    await t.store.setMembership(t.project.id, user.id, 'member')
    const browser = new FormClient(t.url)
    expect(await browser.login('ann@example.com', 'a long enough password')).toBe(303)
    const page = await browser.request('GET', `/approvals/${forged}`)
    expect(page.status).toBe(500)
    expect(page.text).toContain(forged)
    expect(page.text).not.toMatch(/badge-approved/)
    expect((await browser.request('GET', `/approvals/${genuine}`)).status).toBe(200)
  })

  it('is named by GET /v1/audit/verify and by `audit verify` (exit 1)', async () => {
    const verified = await call(t.url, 'GET', '/v1/audit/verify', { key: t.keys.decide })
    expect(verified.body).toMatchObject({ ok: false, problem: 'approval_mismatch', approval_id: forged })
    const cli = await runCli(['audit', 'verify', '--project', 'main', '--data', t.dataDir])
    expect(cli.code).toBe(1)
    expect(cli.stdout).toContain(`TAMPERED: approval ${forged}`)
    expect(cli.stdout).toContain('no audit event records that decision')
  })

  it('fails `approval-gate request` instead of passing the gate', async () => {
    const key = await createKey(t.store, t.project.id, ['request'], 'ci')
    const gate = startCli(['request', 'deploy-production', '--timeout', '60s'], { env: { APPROVAL_GATE_API_URL: t.url, APPROVAL_GATE_API_KEY: key } })
    const id = (await gate.waitFor(/(apr_[A-Za-z0-9_-]+)/))[1]
    rawEdit(t, "UPDATE approvals SET status = 'approved', decided_by = 'key:decide-key', decided_at = ? WHERE id = ?", new Date().toISOString(), id)
    const edited = (await t.store.getApproval(t.project.id, id)) as Approval
    const timer = setInterval(() => t.server.notifier.publish({ type: 'approved', approval: edited }), 100)
    try {
      const result = await gate.done
      expect(result.code).not.toBe(0)
      expect(result.code).not.toBe(1)
      expect(result.stdout).not.toMatch(/approved/i)
    } finally {
      clearInterval(timer)
    }
  }, 60_000)

  it('fails the GitHub Action (dist/index.js) instead of passing the gate', async () => {
    const files = createRunnerFiles()
    try {
      const running = startAction(files, { ...RUNNER_ENV, ...inputEnv({ action: 'deploy-from-action', 'api-url': t.url, 'api-key': t.keys.request, timeout: '60s' }) })
      await until(() => /\/approvals\/(apr_[A-Za-z0-9_-]+)/.test(running.stdout()), 'the approval notice', 30_000)
      const id = /\/approvals\/(apr_[A-Za-z0-9_-]+)/.exec(running.stdout())![1]
      rawEdit(t, "UPDATE approvals SET status = 'approved', decided_by = 'key:decide-key', decided_at = ? WHERE id = ?", new Date().toISOString(), id)
      const edited = (await t.store.getApproval(t.project.id, id)) as Approval
      const timer = setInterval(() => t.server.notifier.publish({ type: 'approved', approval: edited }), 100)
      try {
        const result = await running.done
        expect(result.code).not.toBe(0)
        expect(readOutputs(files).decision).not.toBe('approved')
      } finally {
        clearInterval(timer)
      }
    } finally {
      files.remove()
    }
  }, 60_000)
})

describe('history rewritten behind the server', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startTestServer()
    for (const action of ['one', 'two', 'three']) {
      const id = (await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action } })).body.id
      await call(t.url, 'POST', `/v1/approvals/${id}/decision`, { key: t.keys.decide, json: { decision: 'approve' } })
    }
  })
  afterAll(async () => {
    await t?.close()
  })

  it('fails verification when an old actor is changed and every unkeyed hash and the head are recomputed', async () => {
    expect((await call(t.url, 'GET', '/v1/audit/verify', { key: t.keys.decide })).body).toMatchObject({ ok: true, events: 6 })
    const events = await allEvents(t)
    // Event 2 approved "one": claim someone else approved it, in the event and the row, and relink the chain.
    const rewritten = events.map((event) => ({ ...event }))
    rewritten[1].actor = 'alice@example.com'
    for (let i = 1; i < rewritten.length; i++) {
      if (i > 1) rewritten[i].prev_hash = rewritten[i - 1].hash
      rewritten[i].hash = hashAuditEvent(rewritten[i])
    }
    const db = new DatabaseSync(join(t.dataDir, DATABASE_FILE))
    try {
      db.exec(DROP_TRIGGERS)
      const update = db.prepare('UPDATE audit_events SET actor = ?, prev_hash = ?, hash = ? WHERE project_id = ? AND seq = ?')
      for (const e of rewritten.slice(1)) update.run(e.actor, e.prev_hash, e.hash, t.project.id, e.seq)
      db.prepare('UPDATE audit_heads SET hash = ? WHERE project_id = ?').run(rewritten[5].hash, t.project.id)
      db.prepare("UPDATE approvals SET decided_by = 'alice@example.com' WHERE id = ?").run(events[1].approval_id)
    } finally {
      db.close()
    }
    expect((await call(t.url, 'GET', '/v1/audit/verify?full=true', { key: t.keys.admin })).body).toEqual({ ok: false, events: 2, seq: 2, problem: 'mac_mismatch' })
    expectError(await call(t.url, 'GET', `/v1/approvals/${events[1].approval_id}`, { key: t.keys.request }), 500, 'integrity_error', events[1].approval_id)
    const cli = await runCli(['audit', 'verify', '--project', 'main', '--data', t.dataDir])
    expect(cli.code).toBe(1)
    expect(cli.stdout).toContain('fails at seq 2')
  })
})

describe('audit checkpoints', () => {
  let t: TestServer
  let dir: string
  const run = (...args: string[]) => runCli(['audit', ...args, '--project', 'main', '--data', t.dataDir])
  beforeAll(async () => {
    t = await startTestServer()
    dir = mkdtempSync(join(tmpdir(), 'ag-checkpoint-'))
    for (const action of ['one', 'two']) await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action } })
  })
  afterAll(async () => {
    await t?.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('prints a signed checkpoint that verify accepts while the chain extends it', async () => {
    const printed = await run('checkpoint')
    expect(printed.code).toBe(0)
    const checkpoint = JSON.parse(printed.stdout) as Record<string, unknown>
    expect(checkpoint).toEqual({ project: t.project.id, seq: 2, head: expect.stringMatching(/^[0-9a-f]{64}$/), at: expect.any(String), mac: expect.stringMatching(/^[0-9a-f]{64}$/) })
    const file = join(dir, 'checkpoint.json')
    writeFileSync(file, printed.stdout)
    await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'three' } })
    const verified = await run('verify', '--checkpoint', file)
    expect(verified.code).toBe(0)
    expect(verified.stdout).toContain('still extends the checkpoint at seq 2')

    // A checkpoint edited by hand (its seq or head) is refused: the signature needs the key.
    writeFileSync(join(dir, 'edited.json'), JSON.stringify({ ...checkpoint, seq: 1 }))
    const edited = await run('verify', '--checkpoint', join(dir, 'edited.json'))
    expect(edited.code).toBe(1)
    expect(edited.stdout).toContain('signature does not verify')
    writeFileSync(join(dir, 'garbage.json'), 'not json')
    expect((await run('verify', '--checkpoint', join(dir, 'garbage.json'))).code).toBe(1)
  })

  it('catches history rewritten by someone holding the database and the key', async () => {
    const file = join(dir, 'before-rewrite.json')
    writeFileSync(file, (await run('checkpoint')).stdout)
    // With the key, every MAC can be recomputed: only the checkpoint kept elsewhere shows it.
    const key = readAuditKeyFile(join(t.dataDir, 'audit.key')).key
    const events = await allEvents(t)
    const rewritten = events.map((event) => ({ ...event }))
    rewritten[0].action = 'something-else'
    for (let i = 0; i < rewritten.length; i++) {
      if (i > 0) {
        rewritten[i].prev_hash = rewritten[i - 1].hash
        rewritten[i].prev_mac = rewritten[i - 1].mac
      }
      rewritten[i].hash = hashAuditEvent(rewritten[i])
      rewritten[i].mac = macAuditEvent(key, rewritten[i])
    }
    const last = rewritten[rewritten.length - 1]
    const db = new DatabaseSync(join(t.dataDir, DATABASE_FILE))
    try {
      db.exec(DROP_TRIGGERS)
      const update = db.prepare('UPDATE audit_events SET action = ?, prev_hash = ?, hash = ?, prev_mac = ?, mac = ? WHERE project_id = ? AND seq = ?')
      for (const e of rewritten) update.run(e.action, e.prev_hash, e.hash, e.prev_mac, e.mac, t.project.id, e.seq)
      db.prepare('UPDATE audit_heads SET hash = ?, mac = ? WHERE project_id = ?').run(last.hash, headMac(key, t.project.id, last.seq, last.mac as string), t.project.id)
      db.prepare('UPDATE approvals SET action = ? WHERE id = ?').run('something-else', events[0].approval_id)
    } finally {
      db.close()
    }
    expect((await run('verify')).code).toBe(0)
    const checked = await run('verify', '--checkpoint', file)
    expect(checked.code).toBe(1)
    expect(checked.stdout).toContain('no longer has the checkpoint')
  })
})

describe('the audit key', () => {
  let dir: string
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), 'ag-audit-key-'))
  })
  afterAll(() => {
    rmSync(dir, { recursive: true, force: true })
  })

  it('is created 0600 beside the database on first start, and reused', async () => {
    const t = await startTestServer()
    try {
      const file = join(t.dataDir, 'audit.key')
      expect(statSync(file).mode & 0o777).toBe(0o600)
      expect(readFileSync(file, 'utf8')).toMatch(/^[0-9a-f]{64}\n$/)
      const verified = await runCli(['audit', 'verify', '--project', 'main', '--data', t.dataDir])
      expect(verified).toMatchObject({ code: 0, stderr: '' })
    } finally {
      await t.close()
    }
  })

  it('warns when the key file is readable by others, and refuses a malformed, missing or unreadable one', async () => {
    const data = join(dir, 'data')
    expect((await runCli(['project', 'create', 'web', '--data', data])).code).toBe(0)
    chmodSync(join(data, 'audit.key'), 0o644)
    const wide = await runCli(['keys', 'list', '--project', 'web', '--data', data])
    expect(wide.code).toBe(0)
    expect(wide.stderr).toContain('readable by others')
    expect(wide.stderr).toContain(`chmod 600 ${join(data, 'audit.key')}`)

    const malformed = join(dir, 'malformed.key')
    writeFileSync(malformed, 'not a key\n', { mode: 0o600 })
    const bad = await runCli(['keys', 'list', '--project', 'web', '--data', data, '--audit-key-file', malformed])
    expect(bad.code).toBe(3)
    expect(bad.stderr).toContain(`the audit key in the file ${malformed} is malformed or too short`)

    const missing = await runCli(['keys', 'list', '--project', 'web', '--data', data, '--audit-key-file', join(dir, 'nope.key')])
    expect(missing.code).toBe(3)
    expect(missing.stderr).toContain('does not exist')

    mkdirSync(join(dir, 'a-directory.key'))
    const unreadable = await runCli(['keys', 'list', '--project', 'web', '--data', data, '--audit-key-file', join(dir, 'a-directory.key')])
    expect(unreadable.code).toBe(3)
    expect(unreadable.stderr).toContain('is a directory')
    if (process.getuid?.() !== 0) {
      const locked = join(dir, 'locked.key')
      writeFileSync(locked, `${'c3'.repeat(32)}\n`, { mode: 0o000 })
      const denied = await runCli(['keys', 'list', '--project', 'web', '--data', data, '--audit-key-file', locked])
      expect(denied.stderr).toContain('permission denied')
    }
  })

  it('refuses another key than the one the chain was written with', async () => {
    const data = join(dir, 'data2')
    expect((await runCli(['project', 'create', 'web', '--data', data])).code).toBe(0)
    const other = join(dir, 'other.key')
    writeFileSync(other, `${'d4'.repeat(32)}\n`, { mode: 0o600 })
    const refused = await runCli(['audit', 'verify', '--project', 'web', '--data', data, '--audit-key-file', other])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain('written with another audit key')
    // The environment variable works like the file.
    const own = readFileSync(join(data, 'audit.key'), 'utf8').trim()
    expect((await runCli(['audit', 'verify', '--project', 'web', '--data', data], { env: { APPROVAL_GATE_AUDIT_KEY: own } })).code).toBe(0)
  })
})

describe('verification does not hold the server', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startTestServer()
    // 3,000 approvals, 2,000 decided: 5,000 events and 3,000 rows to check, in many chunks.
    for (let i = 0; i < 3000; i++) {
      const { approval } = await t.store.createApproval({
        project_id: t.project.id,
        action: `deploy-${i}`,
        context: { build: i },
        agent: null,
        expires_at: new Date(Date.now() + 3_600_000).toISOString(),
        idempotency_key: null,
        requested_by: 'key:request-key',
      })
      if (i % 3 !== 0) await t.store.decideApproval(t.project.id, approval.id, { decision: 'approve', reason: null, decided_by: 'key:decide-key' })
    }
  }, 120_000)
  afterAll(async () => {
    await t?.close()
  })

  it('answers /healthz again and again while a full verification runs', async () => {
    let verified = false
    const verification = call(t.url, 'GET', '/v1/audit/verify?full=true', { key: t.keys.decide }).then((result) => {
      verified = true
      return result
    })
    let answeredDuring = 0
    while (!verified) {
      const health = await call(t.url, 'GET', '/healthz')
      expect(health.status).toBe(200)
      if (!verified) answeredDuring++
    }
    expect((await verification).body).toMatchObject({ ok: true, events: 5000 })
    // A verification that ran in one go would let at most the first of these in before it.
    expect(answeredDuring).toBeGreaterThanOrEqual(3)
  }, 60_000)

  it('continues from the last verified event, and re-verifies everything on request', async () => {
    const key = await createKey(t.store, t.project.id, ['decide'], 'incremental')
    await call(t.url, 'GET', '/v1/audit/verify', { key })
    await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'one-more' } })
    expect((await call(t.url, 'GET', '/v1/audit/verify', { key })).body).toMatchObject({ ok: true, events: 5001 })
    expect((await call(t.url, 'GET', '/v1/audit/verify?full=true', { key })).body).toMatchObject({ ok: true, events: 5001 })
  }, 60_000)

  it('limits verifications per key: one at a time, then 429 rate_limited with Retry-After', async () => {
    const key = await createKey(t.store, t.project.id, ['decide'], 'impatient')
    const together = await Promise.all(Array.from({ length: 4 }, () => call(t.url, 'GET', '/v1/audit/verify?full=true', { key })))
    const limited = together.filter((r) => r.status === 429)
    expect(together.filter((r) => r.status === 200).length).toBeGreaterThanOrEqual(1)
    expect(limited.length).toBeGreaterThanOrEqual(1)
    for (const result of limited) {
      expectError(result, 429, 'rate_limited')
      expect(Number(result.headers.get('retry-after'))).toBeGreaterThanOrEqual(1)
    }
    // Another key is not held back by this one.
    expect((await call(t.url, 'GET', '/v1/audit/verify', { key: t.keys.admin })).status).toBe(200)
    let last = 200
    for (let i = 0; i < 12 && last !== 429; i++) last = (await call(t.url, 'GET', '/v1/audit/verify', { key })).status
    expect(last).toBe(429)
  }, 60_000)
})

describe('verified requester claims edited in the database', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startTestServer()
  })
  afterAll(async () => {
    await t?.close()
  })

  it('is named by `audit verify` (exit 1) and GET /v1/audit/verify: the created event covers the claims', async () => {
    const claims = {
      issuer: 'https://token.actions.githubusercontent.com',
      repository: 'acme/web',
      ref: 'refs/heads/main',
      sha: 'abc123',
      workflow_ref: 'acme/web/.github/workflows/deploy.yml@refs/heads/main',
      run_id: '7',
      run_attempt: '1',
      actor: 'octocat',
      triggering_actor: 'octocat',
      environment: 'production',
      event_name: 'push',
    }
    const { approval } = await t.store.createApproval({
      project_id: t.project.id,
      action: 'deploy',
      context: {},
      agent: null,
      expires_at: new Date(Date.now() + 3_600_000).toISOString(),
      idempotency_key: null,
      requested_by: 'oidc:acme/web@refs/heads/main',
      requester_claims: claims,
    })
    expect((await runCli(['audit', 'verify', '--project', 'main', '--data', t.dataDir])).code).toBe(0)
    // Someone with file access makes another person the run's actor, so the self-approval rule lets the real actor approve.
    rawEdit(t, 'UPDATE approvals SET requester_claims = ? WHERE id = ?', JSON.stringify({ ...claims, actor: 'someone-else', triggering_actor: 'someone-else' }), approval.id)
    const cli = await runCli(['audit', 'verify', '--project', 'main', '--data', t.dataDir])
    expect(cli.code).toBe(1)
    expect(cli.stdout).toContain(`TAMPERED: approval ${approval.id}`)
    expect(cli.stdout).toContain('requester_claims')
    const verified = await call(t.url, 'GET', '/v1/audit/verify?full=true', { key: t.keys.decide })
    expect(verified.body).toMatchObject({ ok: false, problem: 'approval_mismatch', approval_id: approval.id })
  })
})
