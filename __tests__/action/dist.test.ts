/**
 * The committed bundle as a real process (as a runner starts it) against the scripted
 * approvals server: approve, reject, timeout, invalid inputs, escaped summary, SIGINT, and the
 * post step. Rebuild with `npm run bundle` after changing the sources.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import {
  createRunnerFiles,
  inputEnv,
  postStepEnv,
  readOutputs,
  readState,
  runAction,
  RUNNER_ENV,
  startAction,
  until,
  type RunnerFiles,
} from './run-action.js'

let server: ScriptedServer
let files: RunnerFiles

beforeAll(async () => {
  server = await startScriptedServer({ apiKey: 'ag_test_key_123' })
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => {
  files = createRunnerFiles()
})
afterEach(() => {
  files.remove()
})

let runId = 1000

/** Inputs of a valid gate against the scripted server, in a run of its own (its own idempotency key). */
function gateEnv(inputs: Record<string, string> = {}): Record<string, string> {
  return {
    ...RUNNER_ENV,
    GITHUB_RUN_ID: String(++runId),
    ...inputEnv({ action: 'deploy-production', 'api-url': server.url, 'api-key': 'ag_test_key_123', ...inputs }),
  }
}

/** Resolves with the id of the approval created after request number `fromIndex`. */
async function createdApprovalId(fromIndex: number): Promise<string> {
  const create = await server.waitForRequest('create', { fromIndex })
  // The create's answer holds the id; the first status check names it too.
  const check = await server.waitForRequest('get', { fromIndex: create.index })
  return check.approvalId as string
}

describe('dist/index.js as a process', () => {
  it('approved: exits 0 and writes every output, the state and the summary', async () => {
    const from = server.requests.length
    const running = startAction(files, gateEnv({ context: '{"version":"1.2.3"}' }))
    const id = await createdApprovalId(from)
    server.decide(id, 'approve', 'looks good\nship it', 'alice@example.com')
    const result = await running.done

    expect(result.code).toBe(0)
    const outputs = readOutputs(files)
    expect(outputs).toMatchObject({
      'approval-id': id,
      decision: 'approved',
      approver: 'alice@example.com',
      reason: 'looks good\nship it',
      url: `${server.url}/approvals/${id}`,
    })
    expect(outputs['waited-seconds']).toMatch(/^\d+$/)
    expect(outputs['decided-at']).toMatch(/^\d{4}-\d\d-\d\dT/)

    // The request: key, agent, idempotency key, the run context for the self-approval rule.
    const create = server.requestsTo('create').find((req) => req.index >= from)!
    expect(create.headers.authorization).toBe('Bearer ag_test_key_123')
    expect(create.headers['idempotency-key']).toMatch(/^gha-[0-9a-f]{40}$/)
    expect(create.json).toMatchObject({
      action: 'deploy-production',
      agent: 'github-actions:octo/shop/Deploy#release',
      context: {
        version: '1.2.3',
        github: { repository: 'octo/shop', actor: 'mona', run_id: String(runId), run_attempt: '1', run_url: `https://github.com/octo/shop/actions/runs/${runId}` },
      },
    })

    // The key is masked before anything else is logged, and never printed.
    expect(result.stdout).toContain('::add-mask::ag_test_key_123')
    expect(result.stdout.replace('::add-mask::ag_test_key_123', '')).not.toContain('ag_test_key_123')
    expect(result.stdout).toMatch(new RegExp(`::notice title=Approval requested::Waiting for someone to approve "deploy-production": ${server.url}/approvals/${id}`))

    expect(readState(files)).toMatchObject({ isPost: 'true', approvalId: id, settled: 'true' })
    const summary = readFileSync(files.summary, 'utf8')
    expect(summary).toContain('✅ Approved')
    expect(summary).toContain('alice@example.com')
    expect(summary).toContain('looks good<br>ship it')
  })

  it('rejected: exits non-zero with the approver and reason in the error', async () => {
    const from = server.requests.length
    const running = startAction(files, gateEnv())
    const id = await createdApprovalId(from)
    server.decide(id, 'reject', 'freeze until Monday', 'bob@example.com')
    const result = await running.done

    expect(result.code).not.toBe(0)
    expect(result.stdout).toMatch(/::error::"deploy-production" \(approval apr_[0-9a-f]+\) was rejected by bob@example.com: freeze until Monday/)
    expect(readOutputs(files)).toMatchObject({ 'approval-id': id, decision: 'rejected', approver: 'bob@example.com', reason: 'freeze until Monday' })
    expect(readFileSync(files.summary, 'utf8')).toContain('❌ Rejected')
  })

  it('rejected with fail-on-reject: false succeeds and reports the decision', async () => {
    const from = server.requests.length
    const running = startAction(files, gateEnv({ 'fail-on-reject': 'false' }))
    server.decide(await createdApprovalId(from), 'reject')
    const result = await running.done
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/::warning::.*was rejected.*fail-on-reject is false/)
    expect(readOutputs(files).decision).toBe('rejected')
  })

  it('timeout: exits non-zero with decision timed_out and withdraws the request', async () => {
    const from = server.requests.length
    const result = await runAction(files, gateEnv({ timeout: '2s' }))

    expect(result.code).not.toBe(0)
    expect(result.stdout).toMatch(/::error::No decision on "deploy-production" \(approval apr_[0-9a-f]+\) within 2s; the approval request was withdrawn\./)
    const outputs = readOutputs(files)
    expect(outputs.decision).toBe('timed_out')
    expect(server.requestsTo('cancel').some((req) => req.index >= from && req.approvalId === outputs['approval-id'])).toBe(true)
    expect(server.approvals.get(outputs['approval-id'])?.status).toBe('expired')
    expect(readFileSync(files.summary, 'utf8')).toContain('Timed out')
  })

  it.each([
    ['action', { action: '' }, /::error::Input "action" is required/],
    ['context (not JSON)', { context: '{oops' }, /::error::Input "context" is not valid JSON/],
    ['context (not an object)', { context: '["a"]' }, /::error::Input "context" must be a JSON object/],
    ['context (too large)', { context: JSON.stringify({ blob: 'x'.repeat(70_000) }) }, /::error::Input "context" is \d+ bytes; the limit is 65536/],
    ['timeout', { timeout: '10 minutes' }, /::error::Input "timeout" is invalid/],
    ['poll-interval', { 'poll-interval': '0' }, /::error::Input "poll-interval" is invalid/],
    ['api-key', { 'api-key': '' }, /::error::Input "api-key" is required/],
    ['api-url', { 'api-url': 'localhost:8080' }, /::error::Input "api-url" needs a scheme: use http:\/\/localhost:8080 /],
    ['fail-on-reject', { 'fail-on-reject': 'maybe' }, /::error::Input "fail-on-reject" must be true or false/],
  ])('a bad %s fails the step and makes no request', async (_name, inputs, message) => {
    const before = server.requests.length
    const result = await runAction(files, gateEnv(inputs))
    expect(result.code).not.toBe(0)
    expect(result.stdout).toMatch(message)
    expect(server.requests.length).toBe(before)
    expect(readOutputs(files)).toEqual({})
  })

  it('escapes hostile context in the job summary', async () => {
    const from = server.requests.length
    const hostile = { note: '<script>alert(1)</script>', '<img src=x onerror=alert(2)>': 'x\n\n# not a heading' }
    const running = startAction(files, gateEnv({ context: JSON.stringify(hostile) }))
    server.decide(await createdApprovalId(from), 'approve', '<b>fine</b>')
    expect((await running.done).code).toBe(0)

    const summary = readFileSync(files.summary, 'utf8')
    expect(summary).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(summary).toContain('&lt;img src=x onerror=alert(2)&gt;')
    expect(summary).toContain('&lt;b&gt;fine&lt;/b&gt;')
    expect(summary).not.toMatch(/<script|<img|<b>/)
    // No blank line inside the HTML block, so nothing after it is read as Markdown.
    expect(summary.trimEnd()).not.toMatch(/\n\s*\n/)
  })

  it.each(['SIGINT', 'SIGTERM'] as const)('%s: exits before the runner escalates (7.5 s) with decision=cancelled, after the server got the withdrawal', async (signal) => {
    const from = server.requests.length
    const running = startAction(files, gateEnv())
    const id = await createdApprovalId(from)
    await until(() => running.stdout().includes('::notice'), 'the notice')

    const signalledAt = Date.now()
    running.child.kill(signal)
    const result = await running.done
    const exitMs = Date.now() - signalledAt

    expect(result.code).not.toBe(0)
    // A correctness bound (the runner escalates to SIGKILL after ~7.5 s), not a speed target:
    // 3 s failed on a loaded 2-core machine while the withdrawal itself had gone through.
    expect(exitMs).toBeLessThan(7_500)
    expect(readOutputs(files)).toMatchObject({ 'approval-id': id, decision: 'cancelled' })
    expect(result.stdout).toContain(`::error::The step was cancelled (${signal}) while`)
    expect(result.stdout).toMatch(/::error::The step was cancelled \(SIG\w+\) while waiting for approval of "deploy-production".*withdrawn/)
    expect(server.requestsTo('cancel').some((req) => req.approvalId === id)).toBe(true)
    expect(server.approvals.get(id)?.status).toBe('cancelled')
    expect(readFileSync(files.summary, 'utf8')).toContain('Cancelled')
  })

  it('post step: withdraws a request the main step recorded but could not withdraw (killed)', async () => {
    const from = server.requests.length
    const running = startAction(files, gateEnv())
    const id = await createdApprovalId(from)
    running.child.kill('SIGKILL') // no chance to withdraw
    await running.done
    expect(server.approvals.get(id)?.status).toBe('pending')

    const post = await runAction(files, { ...gateEnv(), ...postStepEnv(files) })
    expect(post.code).toBe(0)
    expect(post.stdout).toContain(`Withdrew approval request ${id}`)
    expect(server.approvals.get(id)?.status).toBe('cancelled')
  })

  it('a re-executed step in the same run finds its card instead of creating a second one', async () => {
    const env = gateEnv()
    const from = server.requests.length
    const first = startAction(files, env)
    const id = await createdApprovalId(from)
    first.child.kill('SIGKILL')
    await first.done
    const approvalsBefore = server.approvals.size

    const again = startAction(files, env)
    await server.waitForRequest('get', { fromIndex: server.requests.length })
    server.decide(id, 'approve')
    expect((await again.done).code).toBe(0)
    expect(server.approvals.size).toBe(approvalsBefore)
    expect(readOutputs(files)['approval-id']).toBe(id)
  })

  it('post step: does nothing after a decision, and never fails the job', async () => {
    const settled = server.addApproval({ status: 'approved' })
    let before = server.requests.length
    const quiet = await runAction(files, { ...gateEnv(), STATE_isPost: 'true', STATE_approvalId: settled.id, STATE_settled: 'true' })
    expect(quiet.code).toBe(0)
    expect(server.requests.length).toBe(before)

    // Already decided on the server (409): fine. Unreachable server: a warning, still exit 0.
    before = server.requests.length
    const moot = await runAction(files, { ...gateEnv(), STATE_isPost: 'true', STATE_approvalId: settled.id, STATE_apiUrl: server.url })
    expect(moot.code).toBe(0)
    expect(server.requestsTo('cancel').filter((req) => req.index >= before)).toHaveLength(1)
    expect(moot.stdout).not.toContain('::warning')

    const unreachable = await runAction(files, { ...gateEnv(), STATE_isPost: 'true', STATE_approvalId: 'apr_x', STATE_apiUrl: 'http://127.0.0.1:1' })
    expect(unreachable.code).toBe(0)
    expect(unreachable.stdout).toContain('::warning::Could not withdraw the approval request')
  })
})
