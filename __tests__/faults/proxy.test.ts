/**
 * Faults between the gate and the server, made by a proxy in front of the real server: 5xx
 * answers (three in a row end the wait with the `server_error` timeout; fewer, with a success
 * between, do not), and requests that hang (per-request timeouts fire, the overall deadline
 * holds). Durations here are correctness bounds with generous slack, not speed targets.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { performance } from 'node:perf_hooks'
import { ApprovalError, ApprovalsClient, ApprovalTimeout, requireApproval, WITHDRAW_BOUND_MS } from '../../src/client/index.js'
import { startFaultProxy, startSilentListener, withoutWait, type FaultProxy, type ProxyBehaviour } from '../helpers/fault-proxy.js'
import { eventually, startServerProcess, type ServerProcess } from '../helpers/server-process.js'

/** Slack on top of a deadline for a loaded 2-core machine. */
const SLACK_MS = 2_500

let server: ServerProcess
const closers: (() => Promise<void>)[] = []

beforeAll(async () => {
  server = await startServerProcess()
}, 30_000)

afterEach(async () => {
  for (const close of closers.splice(0)) await close()
})

afterAll(async () => {
  await server?.close()
})

async function proxy(behave: Parameters<typeof startFaultProxy>[1]): Promise<FaultProxy> {
  const started = await startFaultProxy(server.url, behave)
  closers.push(started.close)
  return started
}

const isStatusCheck = (method: string | undefined, path: string | undefined) => method === 'GET' && /^\/v1\/approvals\/[^/?]+(\?|$)/.test(path ?? '')
const FORWARD: ProxyBehaviour = { forward: true }

/** Runs `work`, resolving with what it threw (or returned) and how long it took. */
async function timed(work: () => Promise<unknown>): Promise<{ result: unknown; ms: number }> {
  const started = performance.now()
  const result = await work().catch((error: unknown) => error)
  return { result, ms: performance.now() - started }
}

describe('5xx from the server', () => {
  it('three in a row end the wait with ApprovalTimeout cause server_error, and the request is withdrawn', async () => {
    const faulty = await proxy((request) => (isStatusCheck(request.method, request.url) ? { status: 502 } : FORWARD))
    let id: string | undefined
    let withdrawal: Promise<unknown> | undefined
    const { result } = await timed(() =>
      requireApproval('proxy-5xx', {
        apiUrl: faulty.url,
        apiKey: server.keys.request,
        timeoutMs: 30_000,
        onProgress: (e) => e.type === 'created' && (id = e.approvalId),
        onWithdraw: (w) => (withdrawal = w),
      }),
    )
    expect(result).toBeInstanceOf(ApprovalTimeout)
    expect(result).toMatchObject({ cause: 'server_error', approvalId: id, timeoutMs: 30_000 })
    expect(faulty.statusChecks()).toHaveLength(3)
    // The withdrawal runs alongside the thrown error (bounded): wait for it before reading the
    // trail. It went through (the proxy forwards cancel), and the trail says why.
    await expect(withdrawal).resolves.toBe('withdrawn')
    const events = await server.auditOf(id!)
    expect(events.map((event) => [event.type, event.reason])).toEqual([
      ['created', null],
      ['cancelled', 'the requester gave up after repeated server errors'],
    ])
  })

  it('two at a time with a success between do not end the wait', async () => {
    // Checks 1–2: 500; 3: an immediate pending answer; 4–5: 503; 6 on: the real long-poll.
    const plan: ProxyBehaviour[] = [{ status: 500 }, { status: 500 }, { forward: true, path: '' }, { status: 503 }, { status: 503 }]
    const faulty = await proxy((request, seen) => {
      if (!isStatusCheck(request.method, request.url)) return FORWARD
      const step = plan[seen.filter((s) => isStatusCheck(s.method, s.path)).length] ?? FORWARD
      return 'forward' in step && step.path === '' ? { forward: true, path: withoutWait(request.url ?? '') } : step
    })
    let id: string | undefined
    const waiting = requireApproval('proxy-5xx-reset', {
      apiUrl: faulty.url,
      apiKey: server.keys.request,
      timeoutMs: 30_000,
      pollIntervalMs: 200,
      onProgress: (e) => e.type === 'created' && (id = e.approvalId),
    })
    await eventually(() => (faulty.statusChecks().length >= 6 ? true : undefined), 'the sixth status check')
    expect(await server.decide(id!, 'approve', 'fine')).toBe(200)
    await expect(waiting).resolves.toBe(id)
  })
})

describe('a proxy that hangs', () => {
  it('status checks that never answer: the deadline holds and the abandoned requests are closed', async () => {
    const timeoutMs = 3_000
    const hanging = await proxy((request) => (request.method === 'POST' && request.url === '/v1/approvals' ? FORWARD : { hang: true }))
    let id: string | undefined
    let withdrawal: Promise<unknown> | undefined
    const { result, ms } = await timed(() =>
      requireApproval('proxy-hang', {
        apiUrl: hanging.url,
        apiKey: server.keys.request,
        timeoutMs,
        onProgress: (e) => e.type === 'created' && (id = e.approvalId),
        onWithdraw: (w) => (withdrawal = w),
      }),
    )
    expect(result).toBeInstanceOf(ApprovalTimeout)
    expect((result as ApprovalTimeout).cause).toBeUndefined()
    // At the deadline, plus the withdrawal (it hangs too, bounded), plus slack.
    expect(ms).toBeGreaterThanOrEqual(timeoutMs - 50)
    expect(ms).toBeLessThan(timeoutMs + WITHDRAW_BOUND_MS + SLACK_MS)
    // The withdrawal hangs too and gives up at its bound.
    await expect(withdrawal).resolves.toBe('failed')
    // Every hung request (status checks and the withdrawal) reached the proxy and was given up
    // by the client. (Checked together: the withdrawal may reach the proxy after the timeout.)
    const hung = () => hanging.requests.filter((seen) => 'hang' in seen.behaviour)
    await eventually(
      () => (['GET', 'POST'].every((method) => hung().some((seen) => seen.method === method)) && hung().every((seen) => seen.closedAt !== undefined) ? true : undefined),
      'hung status checks and the hung withdrawal, all closed by the client',
    )
    // The withdrawal never reached the server, but the request carried its timeout: the
    // server expires it on its own, so no card is left waiting for nobody.
    const ended = await eventually(async () => (await server.auditOf(id!)).find((event) => event.type !== 'created'), 'the server to expire the approval')
    expect(ended).toMatchObject({ type: 'timed_out', actor: 'system' })
  })

  it('a per-request timeout fires well before the overall deadline', async () => {
    const hanging = await proxy(() => ({ hang: true }))
    const client = new ApprovalsClient({ apiUrl: hanging.url, apiKey: server.keys.request, requestTimeoutMs: 500 })
    const { result, ms } = await timed(() => client.get('apr_whatever'))
    expect(result).toBeInstanceOf(ApprovalError)
    expect(result).toMatchObject({ code: 'network_error' })
    expect((result as Error).message).toMatch(/no answer from .* within 500ms/)
    expect(ms).toBeLessThan(500 + SLACK_MS)
  })

  it('a listener that accepts and never answers (create hangs): the deadline holds', async () => {
    const silent = await startSilentListener()
    closers.push(silent.close)
    const timeoutMs = 2_000
    const { result, ms } = await timed(() => requireApproval('silent', { apiUrl: silent.url, apiKey: server.keys.request, timeoutMs }))
    expect(result).toBeInstanceOf(ApprovalTimeout)
    expect(silent.accepted()).toBeGreaterThan(0)
    expect(ms).toBeGreaterThanOrEqual(timeoutMs - 50)
    expect(ms).toBeLessThan(timeoutMs + WITHDRAW_BOUND_MS + SLACK_MS)
  })
})
