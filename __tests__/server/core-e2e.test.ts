/** The polling core (`requireApproval`, `ApprovalsClient`) end to end against this server. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { ApprovalRejected, ApprovalTimeout, ApprovalsClient, requireApproval } from '../../src/client/index.js'
import { waitUntil } from '../helpers/wait-until.js'
import { call, startTestServer, type TestServer } from './helpers.js'

let t: TestServer
beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.close()
})

/** Decides the next approval created for `action` as soon as it shows up. */
async function decideWhenCreated(action: string, decision: 'approve' | 'reject', reason?: string): Promise<string> {
  const id = await waitUntil(
    async () => (await call(t.url, 'GET', `/v1/approvals?action=${encodeURIComponent(action)}&status=pending`, { key: t.keys.decide })).body.items[0]?.id as string | undefined,
    { what: `a pending approval for ${action}` },
  )
  await call(t.url, 'POST', `/v1/approvals/${id}/decision`, { key: t.keys.decide, json: { decision, reason } })
  return id
}

describe('core against the server', () => {
  it('requireApproval resolves with the id once approved', async () => {
    const decided = decideWhenCreated('core-approve', 'approve')
    const id = await requireApproval('core-approve', { apiUrl: t.url, apiKey: t.keys.request, context: { env: 'prod' }, timeoutMs: 20_000 })
    expect(id).toBe(await decided)
  })

  it('requireApproval throws ApprovalRejected with the reason', async () => {
    const decided = decideWhenCreated('core-reject', 'reject', 'freeze week')
    const error = await requireApproval('core-reject', { apiUrl: `${t.url}/`, apiKey: t.keys.request, timeoutMs: 20_000 }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ApprovalRejected)
    expect((error as ApprovalRejected).reason).toBe('freeze week')
    expect((error as ApprovalRejected).approvalId).toBe(await decided)
  })

  it('times out and withdraws the request; abort withdraws it too', async () => {
    const timedOut = await requireApproval('core-timeout', { apiUrl: t.url, apiKey: t.keys.request, timeoutMs: 1_200 }).catch((e: unknown) => e)
    expect(timedOut).toBeInstanceOf(ApprovalTimeout)
    const id = (timedOut as ApprovalTimeout).approvalId!
    // The core asks the server to expire at its own deadline and withdraws as timed out: either
    // way the server records it as expired.
    const status = await waitUntil(
      async () => {
        const current = (await call(t.url, 'GET', `/v1/approvals/${id}`, { key: t.keys.decide })).body.status as string
        return current === 'pending' ? undefined : current
      },
      { what: `approval ${id} to leave pending` },
    )
    expect(status).toBe('expired')

    const controller = new AbortController()
    let withdrawal: Promise<unknown> | undefined
    const pending = requireApproval('core-abort', { apiUrl: t.url, apiKey: t.keys.request, signal: controller.signal, onWithdraw: (w) => (withdrawal = w) })
    await waitUntil(async () => (await call(t.url, 'GET', '/healthz')).body.waiting > 0, { what: 'the server to hold the long-poll of core-abort' })
    controller.abort()
    await expect(pending).rejects.toMatchObject({ name: 'AbortError' })
    await withdrawal
    const list = await call(t.url, 'GET', '/v1/approvals?action=core-abort', { key: t.keys.decide })
    expect(list.body.items[0].status).toBe('cancelled')
  })

  it('ApprovalsClient speaks every route', async () => {
    const requester = new ApprovalsClient({ apiUrl: t.url, apiKey: t.keys.request })
    const decider = new ApprovalsClient({ apiUrl: t.url, apiKey: t.keys.decide })
    const created = await requester.create({ action: 'client-routes', context: { a: 1 }, agent: 'bot', idempotencyKey: 'client-1', timeoutMs: 60_000 })
    expect(created).toMatchObject({ status: 'pending', agent: 'bot' })
    expect((await requester.create({ action: 'client-routes', context: { a: 1 }, agent: 'bot', idempotencyKey: 'client-1', timeoutMs: 60_000 })).id).toBe(created.id)
    // The same key for a different request is refused (422), not answered with the first record.
    await expect(requester.create({ action: 'client-routes', idempotencyKey: 'client-1' })).rejects.toThrow()
    const waiting = requester.get(created.id, { waitSeconds: 20 })
    await new Promise((r) => setTimeout(r, 50))
    await decider.decide(created.id, 'approve', 'ok')
    expect(await waiting).toMatchObject({ id: created.id, status: 'approved', reason: 'ok' })
    const page = await decider.list({ action: 'client-routes' })
    expect(page.items.map((a) => a.id)).toEqual([created.id])
    await expect(requester.cancel(created.id)).rejects.toMatchObject({ code: 'conflict' })
  })
})
