/**
 * A decision's answer and the long-polls it wakes in this process are proven by the audit event
 * the store returned with the record (no read-back of the trail), and say exactly what a re-read
 * would; an event that does not match the record is refused like a stored one would be.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import { ownDecisionProblem } from '../../src/server/store/audit-chain.js'
import { provenWire } from '../../src/server/http/wire.js'
import { ApiError } from '../../src/server/http/errors.js'
import type { Approval, AuditEvent } from '../../src/server/store/types.js'
import { waitUntil } from '../helpers/wait-until.js'
import { call, startTestServer, type TestServer } from './helpers.js'

let t: TestServer
beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.close()
})

async function pending(action: string): Promise<string> {
  // A context with text that JSON escapes and nesting: the answer must carry it byte for byte.
  const context = { run: 7, note: 'déploiement "prod" \u2028 ✓', nested: { list: [1, null, { deep: true }] } }
  const created = await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action, context, agent: 'bench-agent' } })
  expect(created.status).toBe(201)
  return created.body.id
}

async function untilWaiting(n: number): Promise<void> {
  await waitUntil(async () => (await call(t.url, 'GET', '/healthz')).body.waiting >= n, { what: `the server to hold ${n} long-poll(s)` })
}

describe('answers proven by the event written with the decision', () => {
  it('gives the decider and every waiter of this process the same bytes as a re-read, without reading the trail back', async () => {
    const id = await pending('deploy own-event')
    const polls = [0, 1].map(() => call(t.url, 'GET', `/v1/approvals/${id}?wait=30`, { key: t.keys.request }))
    await untilWaiting(2)
    const verify = jest.spyOn(t.store, 'verifyDecision')
    try {
      const decided = await call(t.url, 'POST', `/v1/approvals/${id}/decision`, { key: t.keys.decide, json: { decision: 'reject', reason: 'not «today»' } })
      const woken = await Promise.all(polls)
      expect(decided.status).toBe(200)
      expect(verify).not.toHaveBeenCalled()
      const reread = await call(t.url, 'GET', `/v1/approvals/${id}`, { key: t.keys.request })
      // The re-read is checked against the stored trail: the one read-back of this test.
      expect(verify).toHaveBeenCalledTimes(1)
      expect(reread.body).toMatchObject({ id, status: 'rejected', reason: 'not «today»', decided_by: 'key:decide-key' })
      for (const answer of [decided, ...woken]) {
        expect(answer.status).toBe(200)
        expect(answer.text).toBe(reread.text)
      }
    } finally {
      verify.mockRestore()
    }
  })

  it('does the same for a cancel and the waiter it wakes', async () => {
    const id = await pending('deploy own-event cancel')
    const poll = call(t.url, 'GET', `/v1/approvals/${id}?wait=30`, { key: t.keys.request })
    await untilWaiting(1)
    const cancelled = await call(t.url, 'POST', `/v1/approvals/${id}/cancel`, { key: t.keys.request, json: { reason: 'superseded' } })
    const woken = await poll
    const reread = await call(t.url, 'GET', `/v1/approvals/${id}`, { key: t.keys.request })
    expect(reread.body.status).toBe('cancelled')
    expect(cancelled.text).toBe(reread.text)
    expect(woken.text).toBe(reread.text)
  })

  it('still reads the trail back for a record another process changed (a notification without its event)', async () => {
    const id = await pending('deploy own-event elsewhere')
    const poll = call(t.url, 'GET', `/v1/approvals/${id}?wait=30`, { key: t.keys.request })
    await untilWaiting(1)
    // Decided through the store, as another process (a replica, the CLI) would: this process
    // publishes only the record, as the PostgreSQL notifier does after re-reading it.
    const decided = await t.store.decideApproval(t.project.id, id, { decision: 'approve', reason: null, decided_by: 'key:elsewhere' })
    expect(decided?.changed).toBe(true)
    const verify = jest.spyOn(t.store, 'verifyDecision')
    try {
      t.server.notifier.publish({ type: 'approved', approval: (decided as { approval: Approval }).approval })
      const woken = await poll
      expect(woken.body).toMatchObject({ id, status: 'approved', decided_by: 'key:elsewhere' })
      expect(verify).toHaveBeenCalledTimes(1)
    } finally {
      verify.mockRestore()
    }
  })
})

describe('an own event that does not prove the record', () => {
  let approval: Approval
  let event: AuditEvent
  beforeAll(async () => {
    const id = await pending('deploy own-event mismatch')
    const result = await t.store.decideApproval(t.project.id, id, { decision: 'approve', reason: 'ok', decided_by: 'key:decide-key' })
    if (!result?.changed) throw new Error('the decision was not written')
    ;({ approval, event } = result)
  })

  it('proves the record it was written with', () => {
    expect(ownDecisionProblem(approval, event)).toBeNull()
  })

  it.each([
    ['another status', (a: Approval) => ({ ...a, status: 'rejected' as const }), 'records approved'],
    ['another decider', (a: Approval) => ({ ...a, decided_by: 'key:someone-else' }), 'decided_by'],
    ['another reason', (a: Approval) => ({ ...a, reason: 'edited' }), 'reason'],
    ['another context', (a: Approval) => ({ ...a, context: { ...a.context, run: 8 } }), 'context'],
    ['another approval', (a: Approval) => ({ ...a, id: 'apr_other' }), 'another approval'],
  ])('is refused with 500 integrity_error for a record with %s, without falling back to the stored trail', async (_what, edit, named) => {
    const record = edit(approval)
    expect(ownDecisionProblem(record, event)).toContain(named)
    const store = { verifyDecision: async (): Promise<string | null> => Promise.reject(new Error('an own event must not be read back')) }
    const answer = provenWire(store, record, 'https://gate.example.test', event)
    await expect(answer).rejects.toBeInstanceOf(ApiError)
    await expect(answer).rejects.toMatchObject({ statusCode: 500, code: 'integrity_error' })
  })

  it('is refused when it is a vote that did not settle the record', () => {
    expect(ownDecisionProblem(approval, { ...event, type: 'vote_approve' })).toContain('records vote_approve')
  })
})
