/** `run()` with `@actions/core` and the polling core mocked: every ending → outputs, summary, result. */
import { afterAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import type { ApprovalRecord, RequireApprovalOptions } from '../../src/client/index.js'
import * as core from '../../__fixtures__/core.js'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { GitHubApiStandIn } from '../helpers/github-api.js'

const requestApproval = jest.fn<(action: string, options?: RequireApprovalOptions) => Promise<ApprovalRecord>>()
jest.unstable_mockModule('@actions/core', () => core)
jest.unstable_mockModule('../../src/client/index.js', async () => ({
  // The real errors and limits; only the network part is replaced.
  ...(await import('../../src/client/errors.js')),
  ...(await import('../../src/client/config.js')),
  requestApproval,
}))
const savedEnv = { ...process.env }
// A clean runner environment, set before @actions/github reads it (its context is built on import):
// the run context comes from these, the summary "file" is mocked.
for (const name of Object.keys(process.env)) if (/^(GITHUB_|RUNNER_|APPROVAL_GATE_|JAMJET_)/.test(name)) delete process.env[name]
Object.assign(process.env, { GITHUB_REPOSITORY: 'octo/shop', GITHUB_RUN_ID: '9', GITHUB_ACTOR: 'mona', GITHUB_STEP_SUMMARY: '/dev/null' })
// The run belongs to pull request #7 (commented on only when a test sets github-token), and the GitHub API is a stand-in.
const github = await GitHubApiStandIn.start()
const eventDir = mkdtempSync(join(tmpdir(), 'approval-gate-main-'))
writeFileSync(join(eventDir, 'event.json'), JSON.stringify({ pull_request: { number: 7 } }))
Object.assign(process.env, { GITHUB_EVENT_PATH: join(eventDir, 'event.json'), GITHUB_API_URL: github.url })
const { ApprovalError, ApprovalRejected, ApprovalTimeout } = await import('../../src/client/errors.js')
const { CANCELLED_COMMENT_WAIT_MS, run } = await import('../../src/action/main.js')

const INPUTS = { action: 'deploy', 'api-key': 'k', 'api-url': 'https://approvals.example.com' }
const PENDING: ApprovalRecord = { id: 'apr_1', status: 'pending', url: 'https://approvals.example.com/approvals/apr_1' }
const APPROVED: ApprovalRecord = { ...PENDING, status: 'approved', decided_by: 'alice', reason: 'ok', decided_at: '2025-01-01T00:00:00.000Z' }

/** A core stand-in that announces the created request, then ends with `ending`. */
function coreThat(ending: (options: RequireApprovalOptions) => Promise<ApprovalRecord>) {
  return async (_action: string, options: RequireApprovalOptions = {}): Promise<ApprovalRecord> => {
    options.onProgress?.({ type: 'created', approvalId: PENDING.id, url: PENDING.url ?? undefined, record: PENDING })
    return ending(options)
  }
}

afterAll(async () => {
  process.env = savedEnv
  await github.close()
  rmSync(eventDir, { recursive: true, force: true })
})
beforeEach(() => {
  core.resetCore()
  requestApproval.mockReset()
  core.setInputs(INPUTS)
})

describe('run', () => {
  it('approved: passes the settings to the core, sets outputs, writes the summary, succeeds', async () => {
    requestApproval.mockImplementation(coreThat(async () => APPROVED))
    await run()

    const [action, options] = requestApproval.mock.calls[0]
    expect(action).toBe('deploy')
    expect(options).toMatchObject({
      apiUrl: 'https://approvals.example.com',
      apiKey: 'k',
      timeoutMs: 3_600_000,
      pollIntervalMs: 5_000,
      agent: 'github-actions:octo/shop',
      idempotencyKey: expect.stringMatching(/^gha-/),
      context: { github: { repository: 'octo/shop', actor: 'mona', run_id: '9', run_url: 'https://github.com/octo/shop/actions/runs/9' } },
    })
    expect(Object.fromEntries(core.outputs)).toEqual({
      'approval-id': 'apr_1',
      decision: 'approved',
      approver: 'alice',
      reason: 'ok',
      'decided-at': '2025-01-01T00:00:00.000Z',
      'waited-seconds': '0',
      url: PENDING.url,
    })
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(core.summaryWrites.join('')).toContain('✅ Approved')
    expect(Object.fromEntries(core.savedState)).toEqual({ approvalId: 'apr_1', apiUrl: 'https://approvals.example.com', settled: 'true' })
    expect(core.notice).toHaveBeenCalledTimes(1)
  })

  it('keeps server-sent text on one log line, so it cannot issue workflow commands', async () => {
    requestApproval.mockImplementation(coreThat(async () => ({ ...APPROVED, decided_by: 'eve\n::add-mask::x', reason: 'ok\r\n::error::fake' })))
    await run()
    const lines = core.info.mock.calls.map(([line]) => line)
    expect(lines).toContainEqual(expect.stringMatching(/^"deploy" was approved by eve ::add-mask::x after \d+ms: ok ::error::fake$/))
    expect(lines.join('\n')).not.toMatch(/^::/m)
  })

  it('invalid inputs: fails with every problem and never calls the core', async () => {
    core.setInputs({ context: 'nope' })
    await run()
    expect(requestApproval).not.toHaveBeenCalled()
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringMatching(/^3 inputs are invalid:\n- Input "api-key".*\n- Input "action".*\n- Input "context"/s))
    expect(core.outputs.size).toBe(0)
  })

  it('rejected: fails with approver and reason, outputs the decision', async () => {
    requestApproval.mockImplementation(coreThat(async () => Promise.reject(new ApprovalRejected('apr_1', 'not today', 'bob'))))
    await run()
    expect(core.setFailed).toHaveBeenCalledWith('"deploy" (approval apr_1) was rejected by bob: not today')
    expect(core.outputs.get('decision')).toBe('rejected')
    expect(core.outputs.get('approver')).toBe('bob')
    expect(core.outputs.get('reason')).toBe('not today')
    expect(core.savedState.get('settled')).toBe('true')
    expect(core.summaryWrites.join('')).toContain('❌ Rejected')
  })

  it('rejected with fail-on-reject: false only warns', async () => {
    core.setInputs({ ...INPUTS, 'fail-on-reject': 'false' })
    requestApproval.mockImplementation(coreThat(async () => Promise.reject(new ApprovalRejected('apr_1'))))
    await run()
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(core.warning).toHaveBeenCalledWith('"deploy" (approval apr_1) was rejected (no reason given). Continuing because fail-on-reject is false.')
  })

  it('timeout: fails with decision timed_out, or warns with fail-on-timeout: false', async () => {
    requestApproval.mockImplementation(coreThat(async () => Promise.reject(new ApprovalTimeout(60_000, 'apr_1'))))
    await run()
    expect(core.outputs.get('decision')).toBe('timed_out')
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringMatching(/^No decision on "deploy" \(approval apr_1\) within 1m; the approval request is being withdrawn\./))
    // The core withdrew it; the post step may retry harmlessly, so it is not marked settled.
    expect(core.savedState.has('settled')).toBe(false)

    core.resetCore()
    core.setInputs({ ...INPUTS, 'fail-on-timeout': 'false' })
    await run()
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(core.warning).toHaveBeenCalledWith(expect.stringContaining('Continuing because fail-on-timeout is false'))
  })

  it('expired on the server: timed_out, settled', async () => {
    requestApproval.mockImplementation(coreThat(async () => Promise.reject(new ApprovalTimeout(60_000, 'apr_1', 'expired'))))
    await run()
    expect(core.outputs.get('decision')).toBe('timed_out')
    expect(core.setFailed).toHaveBeenCalledWith('"deploy" (approval apr_1) expired on the server before anyone decided.')
    expect(core.savedState.get('settled')).toBe('true')
  })

  it('an API that never answered: a clear error, even with fail-on-timeout: false', async () => {
    core.setInputs({ ...INPUTS, 'fail-on-timeout': 'false' })
    requestApproval.mockImplementation(async (_action, options = {}) => {
      options.onProgress?.({ type: 'retrying', attempt: 7, delayMs: 1_000, error: 'could not reach https://approvals.example.com (ECONNREFUSED)' })
      throw new ApprovalTimeout(30_000)
    })
    await run()
    expect(core.setFailed).toHaveBeenCalledWith(
      'Could not create the approval request for "deploy" within 30s: the approvals API did not answer. Last error: could not reach https://approvals.example.com (ECONNREFUSED). Check api-url and that the server is up.',
    )
    expect(core.outputs.get('approval-id')).toBe('')
  })

  it('server errors always fail, even with fail-on-timeout: false', async () => {
    core.setInputs({ ...INPUTS, 'fail-on-timeout': 'false' })
    requestApproval.mockImplementation(coreThat(async () => Promise.reject(new ApprovalTimeout(60_000, 'apr_1', 'server_error'))))
    await run()
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringContaining('server errors (5xx) three times in a row'))
  })

  it('cancelled: waits for the withdrawal, then fails with decision cancelled', async () => {
    const controller = new AbortController()
    let withdrawn = false
    requestApproval.mockImplementation(
      coreThat(async (options) => {
        await new Promise((resolve) => setTimeout(resolve, 5))
        controller.abort('SIGTERM')
        options.onWithdraw?.(new Promise((resolve) => setTimeout(() => ((withdrawn = true), resolve('withdrawn')), 50)))
        throw new DOMException('The approval wait was aborted', 'AbortError')
      }),
    )
    core.setFailed.mockImplementation(() => expect(withdrawn).toBe(true))
    await run({ signal: controller.signal })
    expect(core.setFailed).toHaveBeenCalledWith('The step was cancelled (SIGTERM) while waiting for approval of "deploy" (approval apr_1); the approval request was withdrawn.')
    expect(core.outputs.get('decision')).toBe('cancelled')
    expect(core.summaryWrites.join('')).toContain('🚫 Cancelled')
    core.setFailed.mockReset()
  })

  it('cancelled: gives up on a withdrawal that hangs, and says so', async () => {
    const controller = new AbortController()
    requestApproval.mockImplementation(
      coreThat(async (options) => {
        controller.abort('SIGINT')
        options.onWithdraw?.(new Promise(() => {}))
        throw new DOMException('aborted', 'AbortError')
      }),
    )
    await run({ signal: controller.signal })
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringContaining('the withdrawal did not finish in time; the post step will try again.'))
  })

  it('cancelled: says so when the API did not accept the withdrawal (JamJet has no cancel)', async () => {
    const controller = new AbortController()
    requestApproval.mockImplementation(
      coreThat(async (options) => {
        controller.abort('SIGINT')
        options.onWithdraw?.(Promise.resolve('failed'))
        throw new DOMException('aborted', 'AbortError')
      }),
    )
    await run({ signal: controller.signal })
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringContaining('could not be withdrawn'))
    // Still pending as far as the step knows: the post step must try again.
    expect(core.savedState.get('settled')).toBeUndefined()
  })

  it('withdrawn on the server: decision cancelled', async () => {
    requestApproval.mockImplementation(coreThat(async () => Promise.reject(new ApprovalError('cancelled', 'approval apr_1 was cancelled by key:ops', { approvalId: 'apr_1' }))))
    await run()
    expect(core.outputs.get('decision')).toBe('cancelled')
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringContaining('was withdrawn on the server before anyone decided'))
  })

  it('auth and API errors: no decision, a message with a hint, no summary', async () => {
    requestApproval.mockRejectedValue(new ApprovalError('unauthorized', 'the API key was refused', { status: 401 }))
    await run()
    expect(core.outputs.get('decision')).toBe('')
    expect(core.outputs.get('approval-id')).toBe('')
    expect(core.setFailed).toHaveBeenCalledWith(expect.stringMatching(/^Approval gate failed \(unauthorized, HTTP 401\): the API key was refused\. Also check that the secret behind it exists/))
    expect(core.summaryWrites).toEqual([])
  })

  it('job-summary: false writes no summary', async () => {
    core.setInputs({ ...INPUTS, 'job-summary': 'false' })
    requestApproval.mockImplementation(coreThat(async () => APPROVED))
    await run()
    expect(core.summary.write).not.toHaveBeenCalled()
  })

  it('an unexpected error still ends in setFailed, never a rejection', async () => {
    requestApproval.mockRejectedValue(new TypeError('boom'))
    await expect(run()).resolves.toBeUndefined()
    expect(core.setFailed).toHaveBeenCalledWith('Approval gate failed: boom')
  })
})

describe('run on a pull request (github-token set)', () => {
  beforeEach(() => {
    core.setInputs({ ...INPUTS, 'github-token': github.token })
    github.mode = 'normal'
  })

  it('comments while waiting and shows the outcome once decided', async () => {
    const from = github.calls.length
    requestApproval.mockImplementation(coreThat(async () => APPROVED))
    await run()
    expect(github.calls.slice(from).map((call) => call.method)).toEqual(['GET', 'POST', 'PATCH'])
    expect(github.comments.at(-1)?.body).toContain('✅ Approved: deploy')
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(core.warning).not.toHaveBeenCalled()
  })

  it('a GitHub API that never answers never holds the gate: the result is set first, then one warning', async () => {
    github.mode = 'hang'
    requestApproval.mockImplementation(coreThat(async () => APPROVED))
    await run()
    expect(core.outputs.get('decision')).toBe('approved')
    expect(core.setFailed).not.toHaveBeenCalled()
    expect(core.warning).toHaveBeenCalledTimes(1)
    expect(core.warning.mock.calls[0][0]).toMatch(/^Could not comment on pull request #7: GitHub did not answer within 5s/)
    expect(core.setOutput.mock.invocationCallOrder[0]).toBeLessThan(core.warning.mock.invocationCallOrder[0])
  }, 30_000)

  it('cancelled: waits for the comment only briefly, so the step ends within the runner\'s grace', async () => {
    github.mode = 'hang'
    const controller = new AbortController()
    requestApproval.mockImplementation(
      coreThat(async () => {
        controller.abort('SIGINT')
        throw new DOMException('aborted', 'AbortError')
      }),
    )
    await run({ signal: controller.signal })
    expect(core.outputs.get('decision')).toBe('cancelled')
    expect(core.warning).toHaveBeenCalledWith(`The pull request comment was not updated within ${CANCELLED_COMMENT_WAIT_MS / 1000}s; the gate's result stands.`)
  }, 30_000)
})
