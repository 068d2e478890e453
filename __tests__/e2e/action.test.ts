/**
 * End to end, as a workflow runs the gate: the real server (`approval-gate serve` as a child
 * process, provisioned with the CLI), the committed `dist/index.js` as a real process with
 * `INPUT_*` variables, and an approver in real Chromium deciding on the live dashboard.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import type { Page } from 'playwright-core'
import { createRunnerFiles, inputEnv, readOutputs, RUNNER_ENV, startAction, until, type RunnerFiles, type RunningAction } from '../action/run-action.js'
import { cardOf, decideOnCard, startServerWithApprover, type ServerWithApprover } from '../helpers/dashboard-page.js'
import { APPROVER, eventually, expectTimedOut, type ServerProcess } from '../helpers/server-process.js'

let server: ServerProcess
let page: Page
const runs: { files: RunnerFiles; running: RunningAction }[] = []

let setup: ServerWithApprover | undefined
beforeAll(async () => {
  setup = await startServerWithApprover()
  ;({ server, page } = setup)
}, 60_000)

afterEach(async () => {
  for (const { files, running } of runs.splice(0)) {
    if (running.child.exitCode === null && running.child.signalCode === null) running.child.kill('SIGKILL')
    await running.done.catch(() => {})
    files.remove()
  }
})

afterAll(async () => {
  await setup?.close()
})

let runId = 5000

/** Starts the bundle as a runner would, in a run of its own, against the real server. */
function startGate(action: string, inputs: Record<string, string> = {}): { files: RunnerFiles; running: RunningAction } {
  const files = createRunnerFiles()
  const env = { ...RUNNER_ENV, GITHUB_RUN_ID: String(++runId), ...inputEnv({ action, 'api-url': server.url, 'api-key': server.keys.request, ...inputs }) }
  const run = { files, running: startAction(files, env) }
  runs.push(run)
  return run
}

/** The approval id from the step's `::notice` line (it links to the card). */
async function approvalIdOf(running: RunningAction): Promise<string> {
  const pattern = /::notice title=Approval requested::.*\/approvals\/(apr_[A-Za-z0-9_-]+)/
  await until(() => pattern.test(running.stdout()), 'the "Approval requested" notice', 15_000)
  return pattern.exec(running.stdout())![1]
}

describe('the action (dist/index.js) against the real server, decided in Chromium', () => {
  it('approve: the step exits 0 with approval-id, decision, approver, reason and a job summary', async () => {
    const { files, running } = startGate('e2e-deploy-approve', { context: '{"version":"4.2.0"}', timeout: '2m' })
    const id = await approvalIdOf(running)
    const card = cardOf(page, id)
    await card.waitFor()
    await expect(card.locator('.card-title').textContent()).resolves.toBe('e2e-deploy-approve')
    await decideOnCard(card, 'Approve', 'Canary is green')

    const result = await running.done
    expect(result.code).toBe(0)
    expect(readOutputs(files)).toMatchObject({ 'approval-id': id, decision: 'approved', approver: APPROVER.email, reason: 'Canary is green' })
    const summary = readFileSync(files.summary, 'utf8')
    expect(summary).toContain('✅ Approved')
    expect(summary).toContain(APPROVER.email)
    expect(summary).toContain('Canary is green')
    expect((await server.auditOf(id)).map((event) => event.type)).toEqual(['created', 'approved'])
  })

  it('reject: the step fails with the reason', async () => {
    const { files, running } = startGate('e2e-deploy-reject', { timeout: '2m' })
    const id = await approvalIdOf(running)
    await decideOnCard(cardOf(page, id), 'Reject', 'Freeze until Monday')

    const result = await running.done
    expect(result.code).not.toBe(0)
    expect(result.stdout).toMatch(new RegExp(`::error::.*${id}.*rejected by ${APPROVER.email}: Freeze until Monday`))
    expect(readOutputs(files)).toMatchObject({ 'approval-id': id, decision: 'rejected', approver: APPROVER.email, reason: 'Freeze until Monday' })
    expect(readFileSync(files.summary, 'utf8')).toContain('❌ Rejected')
  })

  it('SIGINT: the step exits in time, the card leaves the open dashboard, the audit trail shows it cancelled', async () => {
    const { files, running } = startGate('e2e-deploy-cancel', { timeout: '2m' })
    const id = await approvalIdOf(running)
    const card = cardOf(page, id)
    await card.waitFor()

    const signalledAt = Date.now()
    running.child.kill('SIGINT')
    const result = await running.done
    // A correctness bound (the runner escalates to SIGKILL after ~7.5 s), not a speed target.
    expect(Date.now() - signalledAt).toBeLessThan(7_500)
    expect(result.code).not.toBe(0)
    expect(readOutputs(files)).toMatchObject({ 'approval-id': id, decision: 'cancelled' })

    await card.waitFor({ state: 'detached', timeout: 15_000 })
    const events = await server.auditOf(id)
    expect(events.map((event) => event.type)).toEqual(['created', 'cancelled'])
  })

  it('timeout: the step fails with decision timed_out and the audit trail shows it timed out', async () => {
    const { files, running } = startGate('e2e-deploy-timeout', { timeout: '2s' })
    const id = await approvalIdOf(running)
    const result = await running.done
    expect(result.code).not.toBe(0)
    expect(result.stdout).toMatch(/::error::No decision on "e2e-deploy-timeout" .* within 2s/)
    expect(readOutputs(files)).toMatchObject({ 'approval-id': id, decision: 'timed_out' })

    const ended = await eventually(async () => (await server.auditOf(id)).find((event) => event.type !== 'created'), 'the end of the approval in the audit trail')
    expectTimedOut(ended)
    await cardOf(page, id).waitFor({ state: 'detached', timeout: 15_000 })
  })
})
