/** Transient failures: 5xx, network errors, 429/503 with Retry-After, and idempotent create retries. */
import { afterEach, describe, expect, it } from '@jest/globals'
import { ApprovalTimeout, requireApproval, type ApprovalProgress } from '../../src/client/index.js'
import { errorBody, reply, replyRaw, startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import { gateOptions, rejectionOf } from './gate-fixtures.js'

let server: ScriptedServer
afterEach(async () => {
  await server.close()
})

const oops = reply(500, errorBody('internal', 'database on fire'))

describe('retries', () => {
  it('three consecutive 5xx end the wait with ApprovalTimeout cause "server_error"', async () => {
    server = await startScriptedServer()
    server.script('get', oops, replyRaw(502, '<html>Bad Gateway</html>'), oops)
    const error = (await rejectionOf(requireApproval('deploy', gateOptions(server)))) as ApprovalTimeout
    expect(error).toBeInstanceOf(ApprovalTimeout)
    expect(error.cause).toBe('server_error')
    expect(error.approvalId).toBe([...server.approvals.keys()][0])
    expect(server.requestsTo('get')).toHaveLength(3)
    await server.waitForRequest('cancel') // withdrawn alongside, best effort
    expect(server.requestsTo('cancel')).toHaveLength(1)
  })

  it('a success resets the 5xx count', async () => {
    server = await startScriptedServer({ honourWait: false })
    // 5xx, 5xx, pending, 5xx, 5xx, then served normally (and decided below).
    server.script('get', oops, oops, { kind: 'delay', ms: 0 }, oops, oops)
    const waiting = requireApproval('deploy', gateOptions(server, { pollIntervalMs: 10 }))
    await server.waitForRequest('get', { fromIndex: 7 })
    server.decide([...server.approvals.keys()][0], 'approve')
    await expect(waiting).resolves.toMatch(/^apr_/)
  })

  it('retries network errors (server gone, then back) with backoff until it answers', async () => {
    server = await startScriptedServer()
    const events: ApprovalProgress[] = []
    const waiting = requireApproval('deploy', gateOptions(server, { onProgress: (e) => events.push(e) }))
    const check = await server.waitForRequest('get')
    await server.pause() // cuts the held long-poll, refuses new connections
    await new Promise((resolve) => setTimeout(resolve, 400))
    await server.resume()
    const again = await server.waitForRequest('get', { fromIndex: check.index + 1 })
    server.decide(again.approvalId ?? '', 'approve')
    await expect(waiting).resolves.toBe(check.approvalId)
    const retries = events.filter((e) => e.type === 'retrying')
    expect(retries.length).toBeGreaterThanOrEqual(1)
    expect(retries[0]).toMatchObject({ approvalId: check.approvalId, attempt: 1, error: expect.stringContaining('could not reach') })
    // Network errors never count as 5xx: no server_error timeout however many there were.
  })

  it('retries a dropped connection', async () => {
    server = await startScriptedServer()
    server.script('get', { kind: 'drop' }, { kind: 'drop' }, { kind: 'drop' }, { kind: 'drop' })
    const waiting = requireApproval('deploy', gateOptions(server))
    const fifth = await server.waitForRequest('get', { fromIndex: 5 })
    server.decide(fifth.approvalId ?? '', 'approve')
    await expect(waiting).resolves.toBe(fifth.approvalId)
  })

  it('honours Retry-After in seconds on 429', async () => {
    server = await startScriptedServer()
    server.script('get', reply(429, errorBody('rate_limited', 'slow down'), { 'retry-after': '1' }))
    const waiting = requireApproval('deploy', gateOptions(server))
    const limited = await server.waitForRequest('get')
    const next = await server.waitForRequest('get', { fromIndex: limited.index + 1 })
    expect(next.receivedAt - limited.receivedAt).toBeGreaterThanOrEqual(990)
    server.decide(next.approvalId ?? '', 'approve')
    await waiting
  })

  it('honours Retry-After as an HTTP date on 503 (and it counts as a 5xx)', async () => {
    server = await startScriptedServer()
    const inTwoSeconds = new Date(Date.now() + 2_000).toUTCString() // HTTP dates have 1 s resolution
    server.script('get', reply(503, errorBody('unavailable', 'deploying'), { 'retry-after': inTwoSeconds }))
    const waiting = requireApproval('deploy', gateOptions(server))
    const limited = await server.waitForRequest('get')
    const next = await server.waitForRequest('get', { fromIndex: limited.index + 1 })
    expect(next.receivedAt - limited.receivedAt).toBeGreaterThanOrEqual(500)
    server.decide(next.approvalId ?? '', 'approve')
    await waiting
  })

  it('retries create with the same Idempotency-Key, so one approval exists', async () => {
    server = await startScriptedServer()
    // The first create is served (approval made) but its answer is lost; then a 503; then success.
    server.script('create', { kind: 'loseAnswer' })
    server.script('create', reply(503, errorBody('unavailable', 'busy')))
    const waiting = requireApproval('deploy', gateOptions(server))
    const check = await server.waitForRequest('get')
    server.decide(check.approvalId ?? '', 'approve')
    await waiting
    const creates = server.requestsTo('create')
    expect(creates).toHaveLength(3)
    const keys = creates.map((c) => c.headers['idempotency-key'])
    expect(typeof keys[0]).toBe('string')
    expect(new Set(keys).size).toBe(1)
    expect(server.approvals.size).toBe(1)
  })

  it('sends the given idempotencyKey; a new call without one generates a new key', async () => {
    server = await startScriptedServer()
    const first = requireApproval('deploy', gateOptions(server, { idempotencyKey: 'run-7-attempt-1' }))
    const check = await server.waitForRequest('get')
    server.decide(check.approvalId ?? '', 'approve')
    await first
    const second = requireApproval('deploy', gateOptions(server))
    const check2 = await server.waitForRequest('get', { fromIndex: check.index + 1 })
    server.decide(check2.approvalId ?? '', 'approve')
    await second
    const [a, b] = server.requestsTo('create').map((c) => c.headers['idempotency-key'])
    expect(a).toBe('run-7-attempt-1')
    expect(b).toMatch(/^[0-9a-f-]{36}$/)
  })
})
