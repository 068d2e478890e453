/**
 * End to end for non-GitHub CI: `approval-gate request` (the built CLI, a real process) gates a
 * shell step against the real server (`serve` as a child process), decided by an approver in
 * real Chromium. Exit codes: 0 approved, 1 rejected, 2 timed out, 130 interrupted.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import type { Page } from 'playwright-core'
import { startCli, type CliProcess } from '../cli/helpers.js'
import { cardOf, decideOnCard, startServerWithApprover, type ServerWithApprover } from '../helpers/dashboard-page.js'
import { APPROVER, eventually, expectTimedOut, type ServerProcess } from '../helpers/server-process.js'

let server: ServerProcess
let page: Page
const gates: CliProcess[] = []

let setup: ServerWithApprover | undefined
beforeAll(async () => {
  setup = await startServerWithApprover()
  ;({ server, page } = setup)
}, 60_000)

afterEach(async () => {
  for (const gate of gates.splice(0)) {
    if (gate.child.exitCode === null && gate.child.signalCode === null) gate.child.kill('SIGKILL')
    await gate.done
  }
})

afterAll(async () => {
  await setup?.close()
})

/** `approval-gate request ACTION …args` with the API in the environment, as a CI job sets it. */
function request(action: string, args: string[] = []): CliProcess {
  const gate = startCli(['request', action, '--context', '{"pipeline":"e2e"}', ...args], {
    env: { APPROVAL_GATE_API_URL: server.url, APPROVAL_GATE_API_KEY: server.keys.request },
  })
  gates.push(gate)
  return gate
}

async function approvalIdOf(gate: CliProcess): Promise<string> {
  return (await gate.waitFor(/waiting for approval (apr_[A-Za-z0-9_-]+)/))[1]
}

describe('approval-gate request against the real server, decided in Chromium', () => {
  it('approved: exit 0, the approval id on stdout', async () => {
    const gate = request('e2e-cli-approve', ['--timeout', '2m'])
    const id = await approvalIdOf(gate)
    await decideOnCard(cardOf(page, id), 'Approve', 'Go ahead')
    const result = await gate.done
    expect(result.code).toBe(0)
    expect(result.stdout.trim()).toBe(id)
    expect(result.stderr).toContain(`approved by ${APPROVER.email}: Go ahead`)
  })

  it('rejected: exit 1, the reason on stdout', async () => {
    const gate = request('e2e-cli-reject', ['--timeout', '2m'])
    const id = await approvalIdOf(gate)
    await decideOnCard(cardOf(page, id), 'Reject', 'Not on a Friday')
    const result = await gate.done
    expect(result.code).toBe(1)
    expect(result.stdout.trim()).toBe('Not on a Friday')
  })

  it('timed out: exit 2, and the audit trail shows it timed out', async () => {
    const gate = request('e2e-cli-timeout', ['--timeout', '2s'])
    const id = await approvalIdOf(gate)
    const result = await gate.done
    expect(result.code).toBe(2)
    const ended = await eventually(async () => (await server.auditOf(id)).find((event) => event.type !== 'created'), 'the end of the approval in the audit trail')
    expectTimedOut(ended)
  })

  it('SIGINT: exit 130, the card leaves the dashboard, the audit trail shows it cancelled', async () => {
    const gate = request('e2e-cli-interrupt', ['--timeout', '2m'])
    const id = await approvalIdOf(gate)
    const card = cardOf(page, id)
    await card.waitFor()
    gate.child.kill('SIGINT')
    const result = await gate.done
    expect(result.code).toBe(130)
    await card.waitFor({ state: 'detached', timeout: 15_000 })
    expect((await server.auditOf(id)).map((event) => event.type)).toEqual(['created', 'cancelled'])
  })
})
