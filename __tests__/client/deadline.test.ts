/** The deadline is exact: no sleep, request or create outlives it, and the request is withdrawn. */
import { afterEach, describe, expect, it } from '@jest/globals'
import { ApprovalTimeout, requireApproval } from '../../src/client/index.js'
import { reply, startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import { gateOptions, rejectionOf } from './gate-fixtures.js'

let server: ScriptedServer
afterEach(async () => {
  await server.close()
})

/** Runs `promise` and returns its rejection and how long it took. */
async function timed(promise: Promise<unknown>): Promise<{ error: unknown; ms: number }> {
  const start = performance.now()
  const error = await rejectionOf(promise)
  return { error, ms: performance.now() - start }
}

describe('the deadline', () => {
  it('ends a wait without decision with ApprovalTimeout at the deadline, and withdraws the request alongside', async () => {
    server = await startScriptedServer()
    const withdrawals: Array<Promise<unknown>> = []
    // 3 s, not less: the create must be answered before the deadline for the timeout to carry
    // its id, and on a loaded 2-core machine a create alone has taken over half a second.
    const { error, ms } = await timed(requireApproval('deploy', gateOptions(server, { timeoutMs: 3_000, onWithdraw: (w) => withdrawals.push(w) })))
    expect(error).toBeInstanceOf(ApprovalTimeout)
    const timeout = error as ApprovalTimeout
    const [id] = [...server.approvals.keys()]
    expect(timeout.timeoutMs).toBe(3_000)
    expect(timeout.approvalId).toBe(id)
    expect(timeout.cause).toBeUndefined()
    expect(ms).toBeGreaterThanOrEqual(2_990)
    expect(withdrawals).toHaveLength(1)
    await expect(withdrawals[0]).resolves.toBe('withdrawn')
    const cancels = server.requestsTo('cancel')
    expect(cancels).toHaveLength(1)
    expect(cancels[0].approvalId).toBe(id)
    // Withdrawn as timed out, so the server records an expiry, not a cancellation.
    expect(cancels[0].json).toEqual({ reason: 'no decision within 3s', timed_out: true })
    expect(server.approvals.get(id)?.status).toBe('expired')
  })

  it('cuts a long-poll that the server holds past the deadline', async () => {
    server = await startScriptedServer()
    server.script('get', { kind: 'hang' })
    const { error, ms } = await timed(requireApproval('deploy', gateOptions(server, { timeoutMs: 500 })))
    expect(error).toBeInstanceOf(ApprovalTimeout)
    expect(ms).toBeLessThan(500 + 2_000) // generous: the hung poll did not hold it
    await server.waitForRequest('cancel')
    expect(server.requestsTo('cancel')).toHaveLength(1)
  })

  it('cuts a create that hangs at the deadline (no id, nothing to withdraw)', async () => {
    server = await startScriptedServer()
    server.script('create', { kind: 'hang' })
    const withdrawals: Array<Promise<unknown>> = []
    const { error, ms } = await timed(requireApproval('deploy', gateOptions(server, { timeoutMs: 400, onWithdraw: (w) => withdrawals.push(w) })))
    expect(error).toBeInstanceOf(ApprovalTimeout)
    expect((error as ApprovalTimeout).approvalId).toBeUndefined()
    // The hung create is cut at the deadline; no id ever came back, so nothing is pending.
    await expect(withdrawals[0]).resolves.toBe('nothing_created')
    expect(ms).toBeLessThan(400 + 2_000)
  })

  it('throws at the deadline while a hanging withdrawal is bounded at about 2 s', async () => {
    server = await startScriptedServer()
    server.script('cancel', { kind: 'hang' })
    const withdrawals: Array<Promise<unknown>> = []
    const { error, ms } = await timed(requireApproval('deploy', gateOptions(server, { timeoutMs: 300, onWithdraw: (w) => withdrawals.push(w) })))
    expect(error).toBeInstanceOf(ApprovalTimeout)
    expect(ms).toBeLessThan(300 + 1_900) // the hanging cancel (bounded at 2 s) does not hold the timeout back
    const start = performance.now()
    await expect(withdrawals[0]).resolves.toBe('failed')
    const total = ms + performance.now() - start
    expect(server.requestsTo('cancel')).toHaveLength(1)
    expect(total).toBeGreaterThanOrEqual(300 + 1_900)
    expect(total).toBeLessThan(300 + 2_000 + 8_000) // bounded, not hanging (wide: CPU may be scarce)
  })

  it('clamps a Retry-After longer than the deadline', async () => {
    server = await startScriptedServer()
    server.script('get', reply(503, { error: { code: 'unavailable', message: 'maintenance' } }, { 'retry-after': '3600' }))
    const { error, ms } = await timed(requireApproval('deploy', gateOptions(server, { timeoutMs: 500 })))
    expect(error).toBeInstanceOf(ApprovalTimeout)
    expect((error as ApprovalTimeout).cause).toBeUndefined()
    expect(ms).toBeLessThan(500 + 2_000)
  })

  it('clamps the pollIntervalMs sleep to the deadline', async () => {
    server = await startScriptedServer({ honourWait: false })
    const { error, ms } = await timed(requireApproval('deploy', gateOptions(server, { timeoutMs: 400, pollIntervalMs: 60_000 })))
    expect(error).toBeInstanceOf(ApprovalTimeout)
    expect(ms).toBeLessThan(400 + 2_000)
  })
})
