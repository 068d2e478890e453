/** How the core waits: an immediate first check, long-polls, and spacing against a server that ignores `wait`. */
import { afterEach, describe, expect, it } from '@jest/globals'
import { requireApproval } from '../../src/client/index.js'
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import { gateOptions, longPollHeld } from './gate-fixtures.js'

let server: ScriptedServer
afterEach(async () => {
  await server.close()
})

describe('waiting for the decision', () => {
  it('checks the status right after creating, as a long-poll of at most 30 s', async () => {
    server = await startScriptedServer()
    const waiting = requireApproval('deploy', gateOptions(server, { timeoutMs: 3_600_000 }))
    const check = await server.waitForRequest('get')
    const create = server.requestsTo('create')[0]
    expect(check.index).toBe(create.index + 1)
    expect(check.query.wait).toBe('30')
    server.decide(check.approvalId ?? '', 'approve')
    await waiting
  })

  it('never asks to wait past the deadline', async () => {
    server = await startScriptedServer()
    const waiting = requireApproval('deploy', gateOptions(server, { timeoutMs: 8_000 }))
    const check = await server.waitForRequest('get')
    expect(Number(check.query.wait)).toBeGreaterThan(0)
    expect(Number(check.query.wait)).toBeLessThanOrEqual(8)
    server.decide(check.approvalId ?? '', 'approve')
    await waiting
  })

  it('resumes from a held long-poll when the decision lands, without further requests', async () => {
    server = await startScriptedServer()
    const waiting = requireApproval('deploy', gateOptions(server))
    await longPollHeld(server)
    await new Promise((resolve) => setTimeout(resolve, 100)) // the poll stays held: no polling meanwhile
    const before = server.requests.length
    server.decide([...server.approvals.keys()][0], 'approve')
    await waiting
    expect(before).toBe(2) // create + one long-poll
    expect(server.requests.length).toBe(2)
  })

  it('asks again at once when a long-poll ends pending after (most of) its wait', async () => {
    server = await startScriptedServer()
    // The first poll is held 1.6 s and ends pending: more than half the asked wait (≤ 3 s), so the
    // core polls again at once; with pollIntervalMs = 60 s a paced poll could not come before the deadline.
    server.script('get', {
      kind: 'handle',
      handler: (req, res) => {
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({ id: req.approvalId, status: 'pending' }))
        }, 1_600)
      },
    })
    const waiting = requireApproval('deploy', gateOptions(server, { timeoutMs: 3_000, pollIntervalMs: 60_000 }))
    const first = await server.waitForRequest('get')
    const second = await server.waitForRequest('get', { fromIndex: first.index + 1 })
    expect(Number(second.query.wait)).toBeLessThan(Number(first.query.wait))
    server.decide(first.approvalId ?? '', 'approve')
    await waiting
  })

  it('spaces requests by pollIntervalMs when the server ignores wait', async () => {
    server = await startScriptedServer({ honourWait: false })
    const waiting = requireApproval('deploy', gateOptions(server, { pollIntervalMs: 150 }))
    await server.waitForRequest('get', { fromIndex: 5 })
    server.decide([...server.approvals.keys()][0], 'approve')
    await waiting
    const checks = server.requestsTo('get')
    expect(checks[0].query.wait).toBeDefined() // still offered: a server may start honouring it
    // Request starts are spaced by pollIntervalMs on the client; server arrival times jitter by
    // scheduling (a slow request shortens the sleep after it), so check the mean spacing: timers
    // never fire early, so it cannot fall below the interval unless requests are not spaced.
    const span = checks.at(-1)!.receivedAt - checks[0].receivedAt
    expect(span / (checks.length - 1)).toBeGreaterThanOrEqual(140)
  })
})
