/**
 * The pull request comment from the committed bundle: `dist/index.js` as a real process on a
 * `pull_request` event (`GITHUB_EVENT_PATH`), against the real server and a loopback GitHub API
 * stand-in (`GITHUB_API_URL`) that records the comment's create and update calls.
 * Rebuild with `npm run bundle` after changing the sources.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { writeFileSync } from 'node:fs'
import { join } from 'node:path'
import { GitHubApiStandIn } from '../helpers/github-api.js'
import { call, createKey, startTestServer, type TestServer } from '../server/helpers.js'
import { createRunnerFiles, inputEnv, postStepEnv, readOutputs, RUNNER_ENV, startAction, until, type RunnerFiles, type RunningAction } from './run-action.js'

let server: TestServer
/** A decide key named `reviewer`, the name the comment shows for who decided. */
let decideKey: string
let github: GitHubApiStandIn
let files: RunnerFiles

beforeAll(async () => {
  server = await startTestServer({}, { linksToLoopback: true })
  decideKey = await createKey(server.store, server.project.id, ['decide'], 'reviewer')
  github = await GitHubApiStandIn.start()
}, 30_000)

afterAll(async () => {
  await server?.close()
  await github?.close()
})

beforeEach(() => {
  github.mode = 'normal'
  files = createRunnerFiles()
})
afterEach(() => {
  files.remove()
})

let pullNumber = 40
let runId = 7000

interface RunOptions {
  action?: string
  run?: number
  attempt?: number
  token?: string
  timeout?: string
}

/** The environment of a gate on pull request #`number` of octo/shop, run `run` attempt `attempt`. */
function pullRequestEnv(files: RunnerFiles, number: number, options: RunOptions = {}): Record<string, string> {
  const eventPath = join(files.dir, 'event.json')
  writeFileSync(eventPath, JSON.stringify({ action: 'synchronize', number, pull_request: { number, head: { sha: 'abc' } }, repository: { name: 'shop', owner: { login: 'octo' } } }))
  return {
    ...RUNNER_ENV,
    GITHUB_EVENT_NAME: 'pull_request',
    GITHUB_EVENT_PATH: eventPath,
    GITHUB_API_URL: github.url,
    GITHUB_RUN_ID: String(options.run ?? ++runId),
    GITHUB_RUN_ATTEMPT: String(options.attempt ?? 1),
    ...inputEnv({ action: options.action ?? 'deploy-preview', 'api-url': server.url, 'api-key': server.keys.request, timeout: options.timeout ?? '2m', 'github-token': options.token ?? github.token }),
  }
}

function pullRequestRun(files: RunnerFiles, number: number, options: RunOptions = {}): RunningAction {
  return startAction(files, pullRequestEnv(files, number, options))
}

/** The approval the running gate created (from its log's dashboard link). */
async function approvalOf(running: RunningAction): Promise<string> {
  await until(() => /\/approvals\/(apr_[A-Za-z0-9_-]+)/.test(running.stdout()), 'the approval link', 20_000)
  return /\/approvals\/(apr_[A-Za-z0-9_-]+)/.exec(running.stdout())![1]
}

async function decide(id: string, decision: 'approve' | 'reject', reason: string): Promise<void> {
  const answer = await call(server.url, 'POST', `/v1/approvals/${id}/decision`, { key: decideKey, json: { decision, reason } })
  expect(answer.status).toBe(200)
}

const onPull = (number: number) => github.comments.filter((comment) => comment.on === `octo/shop#${number}`)

describe('the action on a pull request (dist/index.js)', () => {
  it('comments the approval link while waiting, then the approver and reason; the token is masked', async () => {
    const number = ++pullNumber
    const running = pullRequestRun(files, number)
    const id = await approvalOf(running)
    // The waiting comment is there before anyone decides.
    await until(() => onPull(number).length === 1, 'the waiting comment', 20_000)
    expect(onPull(number)[0].body).toContain('⏳ Waiting for approval: deploy-preview')
    expect(onPull(number)[0].body).toContain(`<a href="${server.url}/approvals/${id}" rel="noopener noreferrer">`)

    await decide(id, 'approve', 'preview @octo/everyone looks fine')
    const result = await running.done
    expect(result.code).toBe(0)
    expect(readOutputs(files)).toMatchObject({ 'approval-id': id, decision: 'approved' })

    const comments = onPull(number)
    expect(comments).toHaveLength(1)
    expect(comments[0].body).toMatch(/^<!-- approval-gate:[0-9a-f]{40} -->\n<h2>✅ Approved: deploy-preview<\/h2>/)
    expect(comments[0].body).toContain('<td>key:reviewer</td>')
    expect(comments[0].body).toContain('<td>preview @\u200Bocto/everyone looks fine</td>')
    const writes = github.writes().filter((write) => write.path.includes(`/${number}/`) || write.path.endsWith(`/comments/${comments[0].id}`))
    expect(writes.map((write) => write.method)).toEqual(['POST', 'PATCH'])
    expect(writes.every((write) => write.authorization === `token ${github.token}`)).toBe(true)
    // Masked before use, and never printed otherwise.
    expect(result.stdout).toContain(`::add-mask::${github.token}`)
    expect(result.stdout.split('\n').filter((line) => line.includes(github.token) && !line.startsWith('::add-mask::'))).toEqual([])
    expect(result.stderr).not.toContain(github.token)
    expect(result.stdout).not.toMatch(/::warning::/)
  }, 60_000)

  it('a re-run of the gate updates the same comment: rejected, with the reason', async () => {
    const number = ++pullNumber
    const run = ++runId
    for (const attempt of [1, 2]) {
      // Each attempt is a fresh runner of its own.
      const attemptFiles = createRunnerFiles()
      try {
        const running = pullRequestRun(attemptFiles, number, { run, attempt })
        const id = await approvalOf(running)
        await until(() => onPull(number).some((comment) => comment.body.includes(`<code>${id}</code>`)), 'the waiting comment', 20_000)
        await decide(id, 'reject', `not yet (attempt ${attempt})`)
        const result = await running.done
        expect(result.code).not.toBe(0)
        expect(readOutputs(attemptFiles).decision).toBe('rejected')
      } finally {
        attemptFiles.remove()
      }
    }
    const comments = onPull(number)
    expect(comments).toHaveLength(1)
    expect(comments[0].body).toContain('❌ Rejected: deploy-preview')
    expect(comments[0].body).toContain('<td>not yet (attempt 2)</td>')
    expect(github.calls.filter((c) => c.method === 'POST' && c.path === `/repos/octo/shop/issues/${number}/comments`)).toHaveLength(1)
  }, 90_000)

  it('cancelled (SIGINT): the comment says so', async () => {
    const number = ++pullNumber
    const running = pullRequestRun(files, number)
    const id = await approvalOf(running)
    await until(() => onPull(number).length === 1, 'the waiting comment', 20_000)
    running.child.kill('SIGINT')
    const result = await running.done
    expect(result.code).not.toBe(0)
    expect(readOutputs(files)).toMatchObject({ 'approval-id': id, decision: 'cancelled' })
    expect(onPull(number)[0].body).toContain('🚫 Cancelled: deploy-preview')
    expect(onPull(number)[0].body).toContain('withdrawn')
  }, 60_000)

  it('killed while waiting: the post step withdraws the request and the comment says so', async () => {
    const number = ++pullNumber
    const run = ++runId
    const running = pullRequestRun(files, number, { run })
    const id = await approvalOf(running)
    await until(() => onPull(number).length === 1, 'the waiting comment', 20_000)
    await until(() => postStepEnv(files).STATE_pullRequestComment !== undefined, 'the comment in the state', 20_000)
    running.child.kill('SIGKILL') // no chance to withdraw or to update the comment
    await running.done
    expect(onPull(number)[0].body).toContain('⏳ Waiting for approval')

    const post = startAction(files, { ...pullRequestEnv(files, number, { run }), ...postStepEnv(files) })
    const result = await post.done
    expect(result.code).toBe(0)
    expect(result.stdout).toContain(`Withdrew approval request ${id}`)
    expect((await server.store.getApproval(server.project.id, id))?.status).toBe('cancelled')
    expect(onPull(number)).toHaveLength(1)
    expect(onPull(number)[0].body).toMatch(/^<!-- approval-gate:[0-9a-f]{40} -->\n<h2>🚫 Cancelled: deploy-preview<\/h2>/)
    expect(onPull(number)[0].body).toContain('the post step withdrew the approval request')
    expect(result.stdout).not.toMatch(/::warning::/)
  }, 60_000)

  it('timed out: the comment says nobody decided in time', async () => {
    const number = ++pullNumber
    const result = await pullRequestRun(files, number, { timeout: '3s' }).done
    expect(result.code).not.toBe(0)
    expect(readOutputs(files).decision).toBe('timed_out')
    expect(onPull(number)).toHaveLength(1)
    expect(onPull(number)[0].body).toContain('⏱️ Timed out: deploy-preview')
    expect(onPull(number)[0].body).toMatch(/No decision on .*deploy-preview.* within 3s/)
  }, 60_000)

  it('a read-only token (GitHub answers 403): one warning, and the gate is approved as usual', async () => {
    github.mode = 'forbidden'
    const number = ++pullNumber
    const from = github.calls.length
    const running = pullRequestRun(files, number)
    const id = await approvalOf(running)
    await until(() => github.calls.length > from, 'the comment attempt', 20_000)
    await decide(id, 'approve', 'ok')
    const result = await running.done
    expect(result.code).toBe(0)
    expect(readOutputs(files)).toMatchObject({ 'approval-id': id, decision: 'approved' })
    const warnings = result.stdout.split('\n').filter((line) => line.startsWith('::warning::'))
    expect(warnings).toEqual([expect.stringMatching(/^::warning::Could not comment on pull request #\d+ \(HTTP 403\).*pull-requests: write.*not affected/)])
    expect(github.calls.length - from).toBe(1)
    expect(onPull(number)).toEqual([])
  }, 60_000)

  it('a push (no pull request) makes no GitHub call', async () => {
    const from = github.calls.length
    const running = startAction(files, {
      ...RUNNER_ENV,
      GITHUB_API_URL: github.url,
      GITHUB_RUN_ID: String(++runId),
      ...inputEnv({ action: 'deploy-preview', 'api-url': server.url, 'api-key': server.keys.request, timeout: '2m', 'github-token': github.token }),
    })
    await decide(await approvalOf(running), 'approve', 'ok')
    expect((await running.done).code).toBe(0)
    expect(github.calls.length).toBe(from)
  }, 60_000)
})
