/**
 * Every `timeoutMs` the core accepts must work against our own server, whose `timeout_ms`
 * extension only takes 1 s … 30 days: the core sends its deadline clamped into that range
 * (the server expires the request no earlier than the client gives up, or at its maximum).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { ApprovalTimeout, requireApproval } from '../../src/client/index.js'
import { call, startTestServer, type TestServer } from '../server/helpers.js'
import { waitUntil } from '../helpers/wait-until.js'
import { rejectionOf } from './gate-fixtures.js'

let t: TestServer
beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.close()
})

describe('timeoutMs outside the server’s timeout_ms range', () => {
  it('under a second: times out (and is withdrawn), instead of failing to create', async () => {
    const error = await rejectionOf(requireApproval('short-gate', { apiUrl: t.url, apiKey: t.keys.request, timeoutMs: 300 }))
    expect(error).toBeInstanceOf(ApprovalTimeout)
    expect((error as ApprovalTimeout).approvalId).toMatch(/\S/)
  })

  it('over 30 days: the request is created and waits', async () => {
    const controller = new AbortController()
    let withdrawal: Promise<unknown> | undefined
    const waiting = requireApproval('long-gate', {
      apiUrl: t.url,
      apiKey: t.keys.request,
      timeoutMs: 40 * 24 * 3_600_000,
      signal: controller.signal,
      onWithdraw: (promise) => (withdrawal = promise),
    })
    const pending = await waitUntil(
      async () => {
        const items = (await call(t.url, 'GET', '/v1/approvals?action=long-gate&status=pending', { key: t.keys.decide })).body.items as unknown[]
        return items.length > 0 ? items : undefined
      },
      { what: 'the long-gate approval to be pending on the server' },
    )
    controller.abort()
    const error = await rejectionOf(waiting)
    await withdrawal
    expect((error as DOMException).name).toBe('AbortError')
    expect(pending).toHaveLength(1)
  })
})
