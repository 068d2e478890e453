/**
 * `Retry-After` values from a hostile or confused server that would make a naive client hammer
 * the API (0, a date in the past) or sleep past every decision (absurdly large).
 */
import { afterEach, describe, expect, it } from '@jest/globals'
import { ApprovalTimeout, requireApproval } from '../../src/client/index.js'
import { errorBody, reply, startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import { gateOptions, rejectionOf } from './gate-fixtures.js'

let server: ScriptedServer
afterEach(async () => {
  await server?.close()
})

describe('Retry-After that would make a client hammer the API', () => {
  it.each([
    ['0', '0'],
    ['an HTTP date in the past', 'Wed, 21 Oct 2015 07:28:00 GMT'],
  ])('429 with Retry-After %s is retried with backoff, not in a tight loop', async (_name, retryAfter) => {
    server = await startScriptedServer()
    const limited = reply(429, errorBody('rate_limited', 'slow down'), { 'retry-after': retryAfter })
    server.script('get', ...Array.from({ length: 10_000 }, () => limited))
    const error = await rejectionOf(requireApproval('deploy', gateOptions(server, { timeoutMs: 1_500 })))
    expect(error).toBeInstanceOf(ApprovalTimeout)
    // Backoff from 250 ms (full jitter, doubling) allows a handful in 1.5 s; a tight loop makes hundreds.
    expect(server.requestsTo('get').length).toBeLessThan(40)
  })

  it('a timeout above the 32-bit timer limit does not turn Retry-After sleeps into 1 ms ones', async () => {
    server = await startScriptedServer()
    const limited = reply(429, errorBody('rate_limited', 'slow down'), { 'retry-after': '99999999' })
    server.script('get', ...Array.from({ length: 10_000 }, () => limited))
    const controller = new AbortController()
    const waiting = requireApproval('deploy', gateOptions(server, { timeoutMs: 30 * 24 * 3_600_000, signal: controller.signal }))
    await server.waitForRequest('get')
    await new Promise((resolve) => setTimeout(resolve, 500))
    controller.abort()
    await rejectionOf(waiting)
    expect(server.requestsTo('get').length).toBeLessThanOrEqual(2)
  })
})
