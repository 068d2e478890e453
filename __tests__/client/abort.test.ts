/** Abort: a DOMException AbortError at once, wherever the wait is, and the request withdrawn alongside. */
import { afterEach, describe, expect, it } from '@jest/globals'
import { getEventListeners } from 'node:events'
import { requireApproval } from '../../src/client/index.js'
import { reply, startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import { waitUntil } from '../helpers/wait-until.js'
import { gateOptions, longPollHeld, rejectionOf } from './gate-fixtures.js'

let server: ScriptedServer
afterEach(async () => {
  await server.close()
})

function expectAbortError(error: unknown): void {
  expect(error).toBeInstanceOf(DOMException)
  expect((error as DOMException).name).toBe('AbortError')
}

/** Aborts, then measures how long the pending call takes to reject. */
async function abortAndTime(controller: AbortController, waiting: Promise<unknown>, reason?: unknown): Promise<{ error: unknown; ms: number }> {
  const start = performance.now()
  controller.abort(reason)
  const error = await rejectionOf(waiting)
  return { error, ms: performance.now() - start }
}

describe('abort', () => {
  it('an already aborted signal throws AbortError without any request', async () => {
    server = await startScriptedServer()
    const error = await rejectionOf(requireApproval('deploy', gateOptions(server, { signal: AbortSignal.abort() })))
    expectAbortError(error)
    expect(server.requests).toHaveLength(0)
  })

  it('during a long-poll: throws at once and withdraws the request', async () => {
    server = await startScriptedServer()
    const controller = new AbortController()
    const withdrawals: Array<Promise<unknown>> = []
    const waiting = requireApproval('deploy', gateOptions(server, { signal: controller.signal, onWithdraw: (w) => withdrawals.push(w) }))
    await longPollHeld(server)
    const { error, ms } = await abortAndTime(controller, waiting, new Error('runner cancelled'))
    expectAbortError(error)
    expect((error as Error & { cause?: unknown }).cause).toEqual(new Error('runner cancelled'))
    expect(ms).toBeLessThan(10_000) // the held poll would have lasted 30 s (a wide margin: CPU may be scarce)
    expect(withdrawals).toHaveLength(1)
    await expect(withdrawals[0]).resolves.toBe('withdrawn')
    const [id] = [...server.approvals.keys()]
    const cancel = server.requestsTo('cancel')
    expect(cancel).toHaveLength(1)
    expect(cancel[0].approvalId).toBe(id)
    expect(cancel[0].json).toEqual({ reason: expect.stringContaining('aborted') })
    expect(server.approvals.get(id)?.status).toBe('cancelled')
  })

  it('during the pollIntervalMs sleep: throws at once and withdraws', async () => {
    server = await startScriptedServer({ honourWait: false })
    const controller = new AbortController()
    const withdrawals: Array<Promise<unknown>> = []
    let ticks = 0
    const waiting = requireApproval(
      'deploy',
      gateOptions(server, { signal: controller.signal, pollIntervalMs: 60_000, onProgress: (e) => void (e.type === 'waiting' && ticks++), onWithdraw: (w) => withdrawals.push(w) }),
    )
    await waitUntil(() => ticks > 0, { what: 'the first waiting tick', intervalMs: 5 })
    const { error, ms } = await abortAndTime(controller, waiting)
    expectAbortError(error)
    expect(ms).toBeLessThan(10_000) // the next poll was 60 s away
    await withdrawals[0]
    expect(server.requestsTo('cancel')).toHaveLength(1)
  })

  it('during create: throws at once; the create still finishing is withdrawn', async () => {
    server = await startScriptedServer()
    server.script('create', { kind: 'delay', ms: 800 }) // under the withdrawal's 2 s bound, long enough to abort within
    const controller = new AbortController()
    const withdrawals: Array<Promise<unknown>> = []
    const waiting = requireApproval('deploy', gateOptions(server, { signal: controller.signal, onWithdraw: (w) => withdrawals.push(w) }))
    await server.waitForRequest('create')
    const { error } = await abortAndTime(controller, waiting)
    expectAbortError(error)
    expect(server.approvals.size).toBe(0) // rejected before the create was even handled
    expect(server.requestsTo('cancel')).toHaveLength(0)
    await expect(withdrawals[0]).resolves.toBe('withdrawn') // waits for the create's answer, then cancels
    const [id] = [...server.approvals.keys()]
    expect(server.requestsTo('cancel').map((r) => r.approvalId)).toEqual([id])
    expect(server.requestsTo('get')).toHaveLength(0) // no polling after the abort
  })

  it('during a retry backoff: throws at once', async () => {
    server = await startScriptedServer()
    server.script('get', { kind: 'reply', status: 429, headers: { 'retry-after': '60' } })
    const controller = new AbortController()
    let retrying = false
    const waiting = requireApproval('deploy', gateOptions(server, { signal: controller.signal, onProgress: (e) => void (e.type === 'retrying' && (retrying = true)) }))
    await waitUntil(() => retrying, { what: 'the first retry', intervalMs: 5 })
    const { error, ms } = await abortAndTime(controller, waiting)
    expectAbortError(error)
    expect(ms).toBeLessThan(10_000) // the Retry-After was 60 s
  })

  it('adds exactly one abort listener per call and removes it when the call ends', async () => {
    server = await startScriptedServer()
    const controller = new AbortController()
    const first = requireApproval('a', gateOptions(server, { signal: controller.signal }))
    await longPollHeld(server)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(1)
    server.decide([...server.approvals.keys()][0], 'approve')
    await first
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)

    const second = requireApproval('b', gateOptions(server, { signal: controller.signal, timeoutMs: 200 }))
    await rejectionOf(second)
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  it('reports a withdrawal that finds the request already decided as not_pending', async () => {
    server = await startScriptedServer()
    server.script('cancel', reply(409, { error: { code: 'conflict', message: 'already approved' } }))
    const controller = new AbortController()
    const withdrawals: Array<Promise<unknown>> = []
    const waiting = requireApproval('deploy', gateOptions(server, { signal: controller.signal, onWithdraw: (w) => withdrawals.push(w) }))
    await longPollHeld(server)
    expectAbortError((await abortAndTime(controller, waiting)).error)
    await expect(withdrawals[0]).resolves.toBe('not_pending')
  })

  it('a withdrawal failure never replaces the AbortError', async () => {
    server = await startScriptedServer()
    server.script('cancel', { kind: 'reply', status: 500 })
    const controller = new AbortController()
    const withdrawals: Array<Promise<unknown>> = []
    const waiting = requireApproval('deploy', gateOptions(server, { signal: controller.signal, onWithdraw: (w) => withdrawals.push(w) }))
    await longPollHeld(server)
    const { error } = await abortAndTime(controller, waiting)
    expectAbortError(error)
    await expect(withdrawals[0]).resolves.toBe('failed')
  })
})
