/**
 * Fault: the server process is killed with SIGKILL (no graceful shutdown) while 50 gates wait
 * in this process and two `approval-gate request` processes wait beside them (and three more
 * gates start while it is down). It restarts on
 * the same data dir and port. Nothing may be lost: decisions made just before the kill still
 * hold, the rest are made after the restart, every gate resumes and ends as decided, no
 * approval is created twice, and the audit chain verifies.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { runCli, startCli, type CliProcess } from '../cli/helpers.js'
import { startServerProcess, type ServerProcess } from '../helpers/server-process.js'
import { expectedOutcome, plannedDecision, startGates, type WaitingGate } from '../helpers/waiting-gates.js'

const GATES = 50
/** Gates decided before the kill; the rest after the restart. */
const DECIDED_BEFORE = 20

let server: ServerProcess
const cliGates: CliProcess[] = []

beforeAll(async () => {
  server = await startServerProcess()
}, 30_000)

afterAll(async () => {
  for (const gate of cliGates) if (gate.child.exitCode === null && gate.child.signalCode === null) gate.child.kill('SIGKILL')
  await Promise.all(cliGates.map((gate) => gate.done))
  await server?.close()
})

describe('kill -9 of the server while gates wait', () => {
  it('loses no approval or decision; every gate resumes after the restart and ends as decided', async () => {
    const gates: WaitingGate[] = startGates(GATES, 'kill9', { apiUrl: server.url, apiKey: server.keys.request, timeoutMs: 60_000 })
    const env = { APPROVAL_GATE_API_URL: server.url, APPROVAL_GATE_API_KEY: server.keys.request }
    cliGates.push(startCli(['request', 'kill9-cli-before', '--timeout', '60s'], { env }), startCli(['request', 'kill9-cli-after', '--timeout', '60s'], { env }))
    const ids = await Promise.all(gates.map((gate) => gate.created))
    const [cliBefore, cliAfter] = await Promise.all(cliGates.map(async (gate) => (await gate.waitFor(/waiting for approval (apr_[A-Za-z0-9_-]+)/))[1]))

    // Decided, acknowledged, and the server dies at once: the decisions must be on disk.
    for (let i = 0; i < DECIDED_BEFORE; i++) {
      const { decision, reason } = plannedDecision(i)
      expect(await server.decide(ids[i], decision, reason)).toBe(200)
    }
    expect(await server.decide(cliBefore, 'approve', 'before the crash')).toBe(200)
    await server.kill('SIGKILL')

    // Down for a moment: gates see resets and refused connections, and keep waiting. Gates
    // started now cannot even create their approval yet: they retry the create.
    const lateGates = startGates(3, 'kill9-late', { apiUrl: server.url, apiKey: server.keys.request, timeoutMs: 60_000 })
    await new Promise((resolve) => setTimeout(resolve, 1_000))
    await server.restart()

    for (let i = DECIDED_BEFORE; i < GATES; i++) {
      const { decision, reason } = plannedDecision(i)
      expect(await server.decide(ids[i], decision, reason)).toBe(200)
    }
    expect(await server.decide(cliAfter, 'reject', 'after the crash')).toBe(200)

    const lateIds = await Promise.all(lateGates.map((gate) => gate.created))
    for (const [i, id] of lateIds.entries()) expect(await server.decide(id, plannedDecision(i).decision, plannedDecision(i).reason)).toBe(200)
    expect(await Promise.all(lateGates.map((gate) => gate.outcome))).toEqual(lateIds.map((id, i) => expectedOutcome(i, id)))
    expect(lateGates.every((gate) => gate.retries > 0)).toBe(true)

    const outcomes = await Promise.all(gates.map((gate) => gate.outcome))
    expect(outcomes).toEqual(ids.map((id, i) => expectedOutcome(i, id)))
    const [before, after] = await Promise.all(cliGates.map((gate) => gate.done))
    expect(before).toMatchObject({ code: 0 })
    expect(before.stdout.trim()).toBe(cliBefore)
    expect(after).toMatchObject({ code: 1 })
    expect(after.stdout.trim()).toBe('after the crash')

    // One approval per gate (retried creates are idempotent) and exactly one decision each.
    for (const action of ['kill9-0', 'kill9-late-0', 'kill9-late-1', 'kill9-late-2']) {
      const listed = await fetch(`${server.url}/v1/approvals?action=${action}`, { headers: { authorization: `Bearer ${server.keys.admin}` } })
      expect(((await listed.json()) as { items: unknown[] }).items).toHaveLength(1)
    }
    for (const [i, id] of ids.entries()) {
      const types = (await server.auditOf(id)).map((event) => event.type)
      expect(types).toEqual(['created', plannedDecision(i).decision === 'approve' ? 'approved' : 'rejected'])
    }
    await server.kill('SIGTERM')
    const verify = await runCli(['audit', 'verify', '--project', 'e2e', '--data', server.dataDir])
    expect(verify.code).toBe(0)
  }, 80_000)
})

describe('kill -9 of the server during a burst of group-committed decisions', () => {
  const APPROVALS = 400
  const IN_FLIGHT = 64
  /** Decisions acknowledged (200) before the kill. */
  const KILL_AFTER = 120

  it('acknowledges no decision that is not stored, and loses none it acknowledged', async () => {
    const burst = await startServerProcess()
    try {
      const post = async (path: string, key: string, body: unknown) => {
        const response = await fetch(`${burst.url}${path}`, { method: 'POST', headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: JSON.stringify(body) })
        return { status: response.status, body: (await response.json()) as { id: string; status: string } }
      }
      const ids: string[] = []
      for (let i = 0; i < APPROVALS; i += IN_FLIGHT) {
        const created = await Promise.all(Array.from({ length: Math.min(IN_FLIGHT, APPROVALS - i) }, (_, j) => post('/v1/approvals', burst.keys.request, { action: `burst-${i + j}` })))
        for (const { status, body } of created) {
          expect(status).toBe(201)
          ids.push(body.id)
        }
      }

      // 64 deciders at once; the server dies mid-burst, with batches in flight.
      const acknowledged = new Map<string, 'approved' | 'rejected'>()
      let next = 0
      let killing: Promise<void> | null = null
      const decider = async () => {
        while (next < ids.length && !killing) {
          const i = next++
          const decision = i % 2 ? 'approve' : 'reject'
          try {
            const { status } = await post(`/v1/approvals/${ids[i]}/decision`, burst.keys.decide, { decision, reason: 'burst' })
            if (status === 200) acknowledged.set(ids[i], decision === 'approve' ? 'approved' : 'rejected')
          } catch {
            // The connection died with the server: not acknowledged.
          }
          if (acknowledged.size >= KILL_AFTER) killing ??= burst.kill('SIGKILL')
        }
      }
      await Promise.all(Array.from({ length: IN_FLIGHT }, decider))
      await killing
      expect(acknowledged.size).toBeGreaterThanOrEqual(KILL_AFTER)

      await burst.restart()
      // Every acknowledged decision is there; a settled record is only served when its audit event verifies.
      for (const [id, status] of acknowledged) {
        const response = await fetch(`${burst.url}/v1/approvals/${id}`, { headers: { authorization: `Bearer ${burst.keys.admin}` } })
        expect(response.status).toBe(200)
        expect(((await response.json()) as { status: string }).status).toBe(status)
      }
      await burst.kill('SIGTERM')
      const verify = await runCli(['audit', 'verify', '--project', 'e2e', '--data', burst.dataDir])
      expect(verify.code).toBe(0)
    } finally {
      await burst.close()
    }
  }, 120_000)
})
