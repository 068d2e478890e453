/** The wire contract (README "Wire contract", `src/contract/`) against a real server: create, get, list, decide, cancel. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { call, startTestServer, type TestServer } from './helpers.js'

let t: TestServer
beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t.close()
})

const create = (json: unknown, key = t.keys.request, headers: Record<string, string> = {}) => call(t.url, 'POST', '/v1/approvals', { key, json, headers })

describe('the JamJet client shape', () => {
  it('creates with {action, context} → 201 {id, status: pending} and polls {status, reason}', async () => {
    const created = await create({ action: 'production_deploy', context: { service: 'auth-api', version: '2.3.1' } })
    expect(created.status).toBe(201)
    expect(created.body).toEqual({
      id: expect.stringMatching(/^apr_[A-Za-z0-9_-]+$/),
      status: 'pending',
      action: 'production_deploy',
      context: { service: 'auth-api', version: '2.3.1' },
      agent: null,
      reason: null,
      decided_by: null,
      decided_at: null,
      created_at: expect.any(String),
      expires_at: expect.any(String),
      url: `https://gate.example.test/approvals/${created.body.id}`,
      requester: null,
      required_approvals: 1,
      votes: [],
      policy: null,
    })
    const polled = await call(t.url, 'GET', `/v1/approvals/${created.body.id}`, { key: t.keys.request })
    expect(polled.status).toBe(200)
    expect(polled.body).toMatchObject({ id: created.body.id, status: 'pending', reason: null })

    const decided = await call(t.url, 'POST', `/v1/approvals/${created.body.id}/decision`, { key: t.keys.decide, json: { decision: 'reject', reason: 'not today' } })
    expect(decided.status).toBe(200)
    expect(decided.body).toMatchObject({ status: 'rejected', reason: 'not today', decided_by: 'key:decide-key', decided_at: expect.any(String) })
    // The decision is a vote like any other: the record lists it.
    expect(decided.body.votes).toEqual([{ by: 'key:decide-key', decision: 'reject', reason: 'not today', at: decided.body.decided_at, groups: ['approvers'] }])
    const after = await call(t.url, 'GET', `/v1/approvals/${created.body.id}`, { key: t.keys.request })
    expect(after.body).toMatchObject({ status: 'rejected', reason: 'not today' })
  })

  it('never leaks store-only fields and sets API security headers', async () => {
    const created = await create({ action: 'leak-check' }, t.keys.request, { 'idempotency-key': 'leak-1' })
    expect(Object.keys(created.body)).not.toEqual(expect.arrayContaining(['project_id']))
    expect(created.text).not.toContain('leak-1')
    expect(created.text).not.toContain(t.project.id)
    expect(created.headers.get('x-content-type-options')).toBe('nosniff')
    expect(created.headers.get('cache-control')).toBe('no-store')
  })
})

describe('create', () => {
  it('defaults the expiry to the project default (1 h) and honours timeout_ms', async () => {
    const plain = await create({ action: 'expiry-default' })
    const lifetime = Date.parse(plain.body.expires_at) - Date.parse(plain.body.created_at)
    expect(lifetime).toBe(3_600_000)
    const short = await create({ action: 'expiry-short', timeout_ms: 120_000, agent: 'deploy-bot' })
    expect(short.body.agent).toBe('deploy-bot')
    expect(Date.parse(short.body.expires_at) - Date.parse(short.body.created_at)).toBe(120_000)
  })

  it('is idempotent per Idempotency-Key: 201 then 200 with the same approval', async () => {
    const first = await create({ action: 'idem' }, t.keys.request, { 'Idempotency-Key': 'run-42-attempt-1' })
    const again = await create({ action: 'idem' }, t.keys.request, { 'Idempotency-Key': 'run-42-attempt-1' })
    expect(first.status).toBe(201)
    expect(again.status).toBe(200)
    expect(again.body.id).toBe(first.body.id)
    const other = await create({ action: 'idem' }, t.keys.request, { 'Idempotency-Key': 'run-42-attempt-2' })
    expect(other.status).toBe(201)
    expect(other.body.id).not.toBe(first.body.id)
  })

  it('keeps idempotency keys per project', async () => {
    const other = await t.addProject('idem-other')
    const mine = await create({ action: 'idem-project' }, t.keys.request, { 'idempotency-key': 'shared' })
    const theirs = await create({ action: 'idem-project' }, other.keys.request, { 'idempotency-key': 'shared' })
    expect(theirs.status).toBe(201)
    expect(theirs.body.id).not.toBe(mine.body.id)
  })
})

describe('decision and cancel', () => {
  it('first decision wins; a second answers 409 with the current record', async () => {
    const { body } = await create({ action: 'twice' })
    const first = await call(t.url, 'POST', `/v1/approvals/${body.id}/decision`, { key: t.keys.decide, json: { decision: 'approve' } })
    expect(first.status).toBe(200)
    expect(first.body).toMatchObject({ status: 'approved', reason: null })
    const second = await call(t.url, 'POST', `/v1/approvals/${body.id}/decision`, { key: t.keys.decide, json: { decision: 'reject', reason: 'late' } })
    expect(second.status).toBe(409)
    expect(second.body.error.code).toBe('conflict')
    expect(second.body.approval).toMatchObject({ id: body.id, status: 'approved', decided_by: 'key:decide-key' })
  })

  it('exactly one of 20 concurrent decisions wins', async () => {
    const { body } = await create({ action: 'race' })
    const results = await Promise.all(
      Array.from({ length: 20 }, (_, i) =>
        call(t.url, 'POST', `/v1/approvals/${body.id}/decision`, { key: t.keys.decide, json: { decision: i % 2 ? 'approve' : 'reject', reason: `racer ${i}` } }),
      ),
    )
    const winners = results.filter((r) => r.status === 200)
    expect(winners).toHaveLength(1)
    expect(results.filter((r) => r.status === 409)).toHaveLength(19)
    const final = await call(t.url, 'GET', `/v1/approvals/${body.id}`, { key: t.keys.decide })
    expect(final.body.reason).toBe(winners[0].body.reason)
    const audit = await call(t.url, 'GET', `/v1/audit?limit=200`, { key: t.keys.decide })
    const decisions = audit.body.items.filter((e: { approval_id: string; type: string }) => e.approval_id === body.id && e.type !== 'created')
    expect(decisions).toHaveLength(1)
  })

  it('cancel withdraws a pending request (with or without a body) and 409s after', async () => {
    const a = await create({ action: 'withdraw' })
    const cancelled = await call(t.url, 'POST', `/v1/approvals/${a.body.id}/cancel`, { key: t.keys.request, json: { reason: 'step cancelled' } })
    expect(cancelled.status).toBe(200)
    expect(cancelled.body).toMatchObject({ status: 'cancelled', reason: 'step cancelled', decided_by: 'key:request-key' })
    const again = await call(t.url, 'POST', `/v1/approvals/${a.body.id}/cancel`, { key: t.keys.request })
    expect(again.status).toBe(409)
    expect(again.body.approval.status).toBe('cancelled')

    const b = await create({ action: 'withdraw-no-body' })
    const bare = await call(t.url, 'POST', `/v1/approvals/${b.body.id}/cancel`, { key: t.keys.request })
    expect(bare.status).toBe(200)
    expect(bare.body.status).toBe('cancelled')
    const decideAfter = await call(t.url, 'POST', `/v1/approvals/${b.body.id}/decision`, { key: t.keys.decide, json: { decision: 'approve' } })
    expect(decideAfter.status).toBe(409)
  })

  it('cancel with timed_out (the requester gave up at its deadline) expires it and audits timed_out', async () => {
    const a = await create({ action: 'gave-up' })
    const bad = await call(t.url, 'POST', `/v1/approvals/${a.body.id}/cancel`, { key: t.keys.request, json: { timed_out: 'yes' } })
    expect(bad.status).toBe(400)
    const expired = await call(t.url, 'POST', `/v1/approvals/${a.body.id}/cancel`, { key: t.keys.request, json: { reason: 'no decision within 5s', timed_out: true } })
    expect(expired.status).toBe(200)
    // Recorded by system, as the expiry sweep records it; the reason keeps who withdrew it.
    expect(expired.body).toMatchObject({ status: 'expired', reason: 'no decision within 5s; withdrawn by key:request-key', decided_by: 'system' })
    const audit = await call(t.url, 'GET', '/v1/audit?action=gave-up', { key: t.keys.decide })
    expect(audit.body.items.map((e: { type: string; actor: string }) => [e.type, e.actor])).toEqual([
      ['timed_out', 'system'],
      ['created', 'key:request-key'],
    ])
  })
})

describe('list', () => {
  it('filters and paginates newest first with an opaque cursor', async () => {
    const p = await t.addProject('listing')
    const ids: string[] = []
    for (let i = 0; i < 5; i++) {
      const r = await call(t.url, 'POST', '/v1/approvals', { key: p.keys.request, json: { action: i < 3 ? 'deploy' : 'migrate', agent: `agent-${i % 2}` } })
      ids.push(r.body.id)
    }
    await call(t.url, 'POST', `/v1/approvals/${ids[0]}/decision`, { key: p.keys.decide, json: { decision: 'approve' } })

    const page1 = await call(t.url, 'GET', '/v1/approvals?limit=2', { key: p.keys.request })
    expect(page1.status).toBe(200)
    expect(page1.body.items.map((a: { id: string }) => a.id)).toEqual([ids[4], ids[3]])
    expect(page1.body.next_cursor).toEqual(expect.any(String))
    const page2 = await call(t.url, 'GET', `/v1/approvals?limit=2&cursor=${encodeURIComponent(page1.body.next_cursor)}`, { key: p.keys.request })
    expect(page2.body.items.map((a: { id: string }) => a.id)).toEqual([ids[2], ids[1]])
    const page3 = await call(t.url, 'GET', `/v1/approvals?limit=2&cursor=${encodeURIComponent(page2.body.next_cursor)}`, { key: p.keys.request })
    expect(page3.body.items.map((a: { id: string }) => a.id)).toEqual([ids[0]])
    expect(page3.body.next_cursor).toBeNull()

    const deploys = await call(t.url, 'GET', '/v1/approvals?action=deploy&status=pending', { key: p.keys.decide })
    expect(deploys.body.items.map((a: { id: string }) => a.id)).toEqual([ids[2], ids[1]])
    const byAgent = await call(t.url, 'GET', '/v1/approvals?agent=agent-1', { key: p.keys.decide })
    expect(byAgent.body.items.map((a: { id: string }) => a.id)).toEqual([ids[3], ids[1]])
    const byDecider = await call(t.url, 'GET', `/v1/approvals?decided_by=${encodeURIComponent('key:decide-key')}`, { key: p.keys.decide })
    expect(byDecider.body.items.map((a: { id: string }) => a.id)).toEqual([ids[0]])

    const badCursor = await call(t.url, 'GET', '/v1/approvals?cursor=nonsense', { key: p.keys.decide })
    expect(badCursor.status).toBe(400)
    expect(badCursor.body.error.code).toBe('invalid_request')
  })
})

describe('health and unknown routes', () => {
  it('answers /healthz and JSON 404s', async () => {
    const health = await call(t.url, 'GET', '/healthz')
    expect(health.status).toBe(200)
    expect(health.body.status).toBe('ok')
    const missing = await call(t.url, 'GET', '/v1/nope', { key: t.keys.admin })
    expect(missing.status).toBe(404)
    expect(missing.body.error.code).toBe('not_found')
  })
})
