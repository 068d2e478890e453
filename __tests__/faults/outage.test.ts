/**
 * Fault: the server is unreachable for 30 s in the middle of a wait (stopped, then started
 * again on the same port and data). Waiting gates must neither fail nor give up while it is
 * gone, must not hammer it (capped backoff), and must finish once it is back and decided.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { expectedOutcome, plannedDecision, startGates } from '../helpers/waiting-gates.js'

const GATES = 20
const OUTAGE_MS = 30_000

let server: ServerProcess

beforeAll(async () => {
  server = await startServerProcess()
}, 30_000)

afterAll(async () => {
  await server?.close()
})

describe('the server unreachable for 30 s mid-wait', () => {
  it('gates keep waiting and finish after it returns', async () => {
    const gates = startGates(GATES, 'outage', { apiUrl: server.url, apiKey: server.keys.request, timeoutMs: 120_000 })
    const ids = await Promise.all(gates.map((gate) => gate.created))

    await server.kill('SIGTERM')
    const downAt = Date.now()
    await new Promise((resolve) => setTimeout(resolve, OUTAGE_MS))
    expect(gates.filter((gate) => gate.endedAt !== undefined)).toEqual([])
    await server.restart()

    for (const [i, id] of ids.entries()) {
      const { decision, reason } = plannedDecision(i)
      expect(await server.decide(id, decision, reason)).toBe(200)
    }
    const outcomes = await Promise.all(gates.map((gate) => gate.outcome))
    expect(outcomes).toEqual(ids.map((id, i) => expectedOutcome(i, id)))
    for (const gate of gates) {
      expect(gate.endedAt).toBeGreaterThan(downAt + OUTAGE_MS)
      // Capped exponential backoff (≤ 15 s apart) over 30 s: a handful of retries, not a flood.
      expect(gate.retries).toBeGreaterThan(0)
      expect(gate.retries).toBeLessThan(25)
    }
  }, 85_000)
})
