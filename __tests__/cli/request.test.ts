/** `approval-gate request` and `decide` as real processes against a real server: every exit code. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { call, startTestServer, type TestServer } from '../server/helpers.js'
import { runCli, startCli } from './helpers.js'

let t: TestServer
let env: Record<string, string>
beforeAll(async () => {
  t = await startTestServer()
  env = { APPROVAL_GATE_API_URL: t.url, APPROVAL_GATE_API_KEY: t.keys.request }
})
afterAll(async () => {
  await t?.close()
})

const APPROVAL_ID = /waiting for approval (apr_[A-Za-z0-9_-]+)/

describe('request', () => {
  it('exits 0 and prints the id when approved', async () => {
    const gate = startCli(['request', 'deploy-prod', '--context', '{"service":"api","version":"1.2.3"}', '--timeout', '1m', '--agent', 'ci-runner'], { env })
    const [, id] = await gate.waitFor(APPROVAL_ID)
    const record = await call(t.url, 'GET', `/v1/approvals/${id}`, { key: t.keys.decide })
    expect(record.body).toMatchObject({ action: 'deploy-prod', agent: 'ci-runner', context: { service: 'api', version: '1.2.3' }, status: 'pending' })
    expect(Date.parse(record.body.expires_at) - Date.parse(record.body.created_at)).toBeGreaterThan(50_000)
    await call(t.url, 'POST', `/v1/approvals/${id}/decision`, { key: t.keys.decide, json: { decision: 'approve', reason: 'lgtm' } })
    const result = await gate.done
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe(id)
    expect(result.stderr).toContain('approved by key:decide-key')
  })

  it('exits 1 and prints the reason when rejected', async () => {
    const gate = startCli(['request', 'drop-table', '--timeout', '1m'], { env })
    const [, id] = await gate.waitFor(APPROVAL_ID)
    await call(t.url, 'POST', `/v1/approvals/${id}/decision`, { key: t.keys.decide, json: { decision: 'reject', reason: 'not on a Friday' } })
    const result = await gate.done
    expect(result.code).toBe(1)
    expect(result.stdout.trim()).toBe('not on a Friday')
    expect(result.stderr).toContain('rejected')
  })

  it('exits 2 when nobody decides in time, and withdraws the request', async () => {
    const result = await runCli(['request', 'slow-approval', '--timeout', '1500ms'], { env })
    expect(result.code).toBe(2)
    expect(result.stderr).toMatch(/timed out/)
    const id = result.stderr.match(APPROVAL_ID)![1]
    const record = await call(t.url, 'GET', `/v1/approvals/${id}`, { key: t.keys.decide })
    expect(['cancelled', 'expired']).toContain(record.body.status)
  })

  it('exits 130 on SIGINT after withdrawing the request', async () => {
    const gate = startCli(['request', 'interrupt-me', '--timeout', '1m'], { env })
    const [, id] = await gate.waitFor(APPROVAL_ID)
    gate.child.kill('SIGINT')
    const result = await gate.done
    expect(result.code).toBe(130)
    expect(result.stderr).toContain('withdrawing')
    const record = await call(t.url, 'GET', `/v1/approvals/${id}`, { key: t.keys.decide })
    expect(record.body.status).toBe('cancelled')
  })

  it('exits 3 on a bad key or an unreachable server config', async () => {
    const badKey = await runCli(['request', 'deploy', '--timeout', '10s'], { env: { ...env, APPROVAL_GATE_API_KEY: 'agk_wrong' } })
    expect(badKey.code).toBe(3)
    expect(badKey.stderr).toMatch(/401|unauthorized|key/i)
    const noKey = await runCli(['request', 'deploy', '--api-url', t.url])
    expect(noKey.code).toBe(3)
    expect(noKey.stderr).toContain('API key')
  })
})

describe('the idempotency-key replay of issue 10', () => {
  it('a key reused for another action fails (exit 3), never passing on the old approval', async () => {
    const first = await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'deploy-staging' }, headers: { 'idempotency-key': 'replay-deploy-prod' } })
    await call(t.url, 'POST', `/v1/approvals/${first.body.id}/decision`, { key: t.keys.decide, json: { decision: 'approve' } })
    const result = await runCli(['request', 'drop-production-database', '--idempotency-key', 'replay-deploy-prod', '--timeout', '1m'], { env })
    expect(result.code).toBe(3)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('idempotency key was already used for a different request')
  })

  it('a key that tries to decide its own request is told someone else must decide', async () => {
    const created = await call(t.url, 'POST', '/v1/approvals', { key: t.keys.admin, json: { action: 'self-approve' } })
    const result = await runCli(['decide', created.body.id, 'approve', '--api-url', t.url, '--api-key', t.keys.admin])
    expect(result.code).toBe(3)
    expect(result.stderr).toContain('Someone else must decide it')
  })
})

describe('decide', () => {
  it('records a decision with a decide key, then reports a conflict with exit 3', async () => {
    const created = await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'cli-decide' } })
    const id = created.body.id
    const decided = await runCli(['decide', id, 'reject', '--reason', 'too risky', '--api-url', t.url, '--api-key', t.keys.decide])
    expect(decided.code).toBe(0)
    expect(decided.stdout).toContain(`${id}: rejected by key:decide-key`)
    const record = await call(t.url, 'GET', `/v1/approvals/${id}`, { key: t.keys.decide })
    expect(record.body).toMatchObject({ status: 'rejected', reason: 'too risky' })

    const again = await runCli(['decide', id, 'approve', '--json'], { env: { APPROVAL_GATE_API_URL: t.url, APPROVAL_GATE_API_KEY: t.keys.decide } })
    expect(again.code).toBe(3)
    expect(again.stderr).toContain('already rejected by key:decide-key')
    const forbidden = await runCli(['decide', id, 'approve'], { env })
    expect(forbidden.code).toBe(3)
    const missing = await runCli(['decide', 'apr_missing', 'approve', '--api-url', t.url, '--api-key', t.keys.decide])
    expect(missing.code).toBe(3)
  })
})
