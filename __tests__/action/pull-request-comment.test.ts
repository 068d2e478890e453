/**
 * The pull request comment against a loopback GitHub API stand-in, through the real
 * `@actions/github` Octokit (`GITHUB_API_URL` points at the stand-in); only `@actions/core` is
 * mocked, to read the warnings.
 */
import { afterAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import * as core from '../../__fixtures__/core.js'
import { GitHubApiStandIn } from '../helpers/github-api.js'
import { waitUntil } from '../helpers/wait-until.js'
import type { PullRequestCommentSettings } from '../../src/action/settings.js'

const api = await GitHubApiStandIn.start()
const savedApiUrl = process.env.GITHUB_API_URL
process.env.GITHUB_API_URL = api.url // read by @actions/github when it loads
jest.unstable_mockModule('@actions/core', () => core)
const { commentMarker, createPullRequestComment, GITHUB_REQUEST_TIMEOUT_MS, MAX_COMMENT_CHARS, outcomeBody, showWithdrawalOnComment, waitingBody } = await import('../../src/action/pull-request-comment.js')
type PostedComment = import('../../src/action/pull-request-comment.js').PostedComment

afterAll(async () => {
  process.env.GITHUB_API_URL = savedApiUrl
  await api.close()
})

let gate = 0
/** Settings of a gate of its own on pull request octo/shop#7. */
function settings(overrides: Partial<PullRequestCommentSettings> = {}): PullRequestCommentSettings {
  return { token: api.token, pullRequest: { owner: 'octo', repo: 'shop', number: 7 }, gateId: `gate-${++gate}`, runUrl: 'https://github.com/octo/shop/actions/runs/42', ...overrides }
}

const APPROVED = { decision: 'approved' as const, approvalId: 'apr_1', approver: 'alice', reason: 'looks good', url: 'https://approvals.example.com/approvals/apr_1', waitedMs: 90_000 }
const ZWSP = '\u200B'

beforeEach(() => {
  core.resetCore()
  api.mode = 'normal'
})

describe('the pull request comment', () => {
  it('posts one comment with the link while waiting, then updates it with the outcome', async () => {
    const gateSettings = settings()
    const from = api.calls.length
    const comment = createPullRequestComment(gateSettings, 'deploy-production')
    comment.waiting('apr_1', 'https://approvals.example.com/approvals/apr_1')
    await comment.decided(APPROVED)

    const ours = api.comments.filter((c) => c.body.startsWith(commentMarker(gateSettings.gateId)))
    expect(ours).toHaveLength(1)
    expect(ours[0].on).toBe('octo/shop#7')
    const calls = api.calls.slice(from)
    expect(calls.map((call) => `${call.method} ${call.path}`)).toEqual([
      'GET /repos/octo/shop/issues/7/comments',
      'POST /repos/octo/shop/issues/7/comments',
      `PATCH /repos/octo/shop/issues/comments/${ours[0].id}`,
    ])
    expect(calls.every((call) => call.authorization === `token ${api.token}`)).toBe(true)
    const waiting = String(calls[1].body?.body)
    expect(waiting).toContain('⏳ Waiting for approval: deploy-production')
    expect(waiting).toContain('<a href="https://approvals.example.com/approvals/apr_1" rel="noopener noreferrer">')
    expect(ours[0].body).toContain('✅ Approved: deploy-production')
    expect(ours[0].body).toContain('<td>alice</td>')
    expect(ours[0].body).toContain('<td>looks good</td>')
    expect(ours[0].body).toContain('<a href="https://github.com/octo/shop/actions/runs/42" rel="noopener noreferrer">')
    expect(core.warning).not.toHaveBeenCalled()
  })

  it('a re-run of the same gate updates its comment; another gate gets its own', async () => {
    const gateSettings = settings()
    const first = createPullRequestComment(gateSettings, 'deploy')
    first.waiting('apr_1', undefined)
    await first.decided({ decision: 'rejected', approvalId: 'apr_1', approver: 'bob', reason: 'not today', waitedMs: 1_000, failure: '"deploy" was rejected by bob: not today' })

    const rerun = createPullRequestComment(gateSettings, 'deploy')
    rerun.waiting('apr_2', undefined)
    await rerun.decided({ ...APPROVED, approvalId: 'apr_2' })
    const ours = api.comments.filter((c) => c.body.startsWith(commentMarker(gateSettings.gateId)))
    expect(ours).toHaveLength(1)
    expect(ours[0].body).toContain('<code>apr_2</code>')

    const otherSettings = settings()
    const other = createPullRequestComment(otherSettings, 'deploy')
    other.waiting('apr_3', undefined)
    await other.decided({ ...APPROVED, approvalId: 'apr_3' })
    expect(api.comments.filter((c) => c.body.startsWith(commentMarker(otherSettings.gateId))).map((c) => c.body)).toEqual([expect.stringContaining('<code>apr_3</code>')])
    expect(api.comments.filter((c) => c.body.startsWith(commentMarker(gateSettings.gateId))).map((c) => c.body)).toEqual([expect.stringContaining('<code>apr_2</code>')])
  })

  it('never edits a comment someone else wrote with the marker in it', async () => {
    const gateSettings = settings()
    const planted = api.seed('octo/shop#7', `${commentMarker(gateSettings.gateId)}\nplanted by a user`, { login: 'mallory', type: 'User' })
    const comment = createPullRequestComment(gateSettings, 'deploy')
    comment.waiting('apr_1', undefined)
    await comment.decided(APPROVED)
    expect(planted.body).toBe(`${commentMarker(gateSettings.gateId)}\nplanted by a user`)
    expect(api.comments.filter((c) => c.body.startsWith(commentMarker(gateSettings.gateId)) && c.user.type === 'Bot')).toHaveLength(1)
  })

  it('finds its comment past the first page of comments', async () => {
    const gateSettings = settings({ pullRequest: { owner: 'octo', repo: 'shop', number: 8 } })
    for (let i = 0; i < 120; i++) api.seed('octo/shop#8', `chatter ${i}`, { login: 'mona', type: 'User' })
    const own = api.seed('octo/shop#8', `${commentMarker(gateSettings.gateId)}\nold`, { login: 'github-actions[bot]', type: 'Bot' })
    const comment = createPullRequestComment(gateSettings, 'deploy')
    comment.waiting('apr_1', undefined)
    await comment.decided(APPROVED)
    expect(own.body).toContain('✅ Approved')
    expect(api.comments.filter((c) => c.on === 'octo/shop#8')).toHaveLength(121)
  })

  it('a read-only token (403): one warning naming the permission and fork pull requests, no more calls, no throw', async () => {
    api.mode = 'forbidden'
    const from = api.calls.length
    const comment = createPullRequestComment(settings(), 'deploy')
    comment.waiting('apr_1', undefined)
    await expect(comment.decided(APPROVED)).resolves.toBeUndefined()
    expect(api.calls.length - from).toBe(1)
    expect(core.warning).toHaveBeenCalledTimes(1)
    expect(core.warning.mock.calls[0][0]).toMatch(/^Could not comment on pull request #7 \(HTTP 403\).*permissions: pull-requests: write.*forks.*The gate itself is not affected\.$/)
  })

  it('a token GitHub refuses (401) is a warning too', async () => {
    const comment = createPullRequestComment(settings({ token: 'ghs_wrong' }), 'deploy')
    comment.waiting('apr_1', undefined)
    await comment.decided(APPROVED)
    expect(core.warning).toHaveBeenCalledTimes(1)
    expect(core.warning.mock.calls[0][0]).toMatch(/HTTP 401/)
  })

  it('GitHub failing (503): a warning per attempt, naming the status, never a throw', async () => {
    api.mode = 'unavailable'
    const comment = createPullRequestComment(settings(), 'deploy')
    comment.waiting('apr_1', undefined)
    await expect(comment.decided(APPROVED)).resolves.toBeUndefined()
    expect(core.warning.mock.calls.map(([text]) => String(text))).toEqual([expect.stringMatching(/^Could not comment on pull request #7 \(HTTP 503\): .*not affected/), expect.stringMatching(/HTTP 503/)])
  })

  it('GitHub not answering: gives up after the request bound, once', async () => {
    api.mode = 'hang'
    const from = api.calls.length
    const comment = createPullRequestComment(settings(), 'deploy')
    const started = Date.now()
    comment.waiting('apr_1', undefined)
    await comment.decided(APPROVED)
    expect(Date.now() - started).toBeGreaterThanOrEqual(GITHUB_REQUEST_TIMEOUT_MS - 100)
    expect(api.calls.length - from).toBe(1)
    expect(core.warning).toHaveBeenCalledTimes(1)
    expect(core.warning.mock.calls[0][0]).toMatch(/did not answer within 5s/)
  }, 30_000)

  it('tells the post step where the comment is, and the post step shows the withdrawal there in one update', async () => {
    const gateSettings = settings()
    const posted: PostedComment[] = []
    const comment = createPullRequestComment(gateSettings, 'deploy', { onPosted: (value) => posted.push(value) })
    comment.waiting('apr_9', 'https://approvals.example.com/approvals/apr_9')
    // The main step "dies" here, after posting and before any outcome.
    await waitUntil(() => posted.length === 1, { what: 'the posted comment' })
    await waitUntil(() => api.writes().some((call) => call.method === 'POST' && String(call.body?.body).includes('apr_9')), { what: 'the waiting comment' })
    const ours = api.comments.find((c) => c.id === posted[0].commentId)!
    expect(posted[0]).toEqual({
      commentId: ours.id,
      pullRequest: gateSettings.pullRequest,
      gateId: gateSettings.gateId,
      runUrl: gateSettings.runUrl,
      action: 'deploy',
      startedAt: expect.any(Number),
      url: 'https://approvals.example.com/approvals/apr_9',
    })

    const from = api.calls.length
    await showWithdrawalOnComment(posted[0], api.token, 'apr_9')
    expect(api.calls.slice(from).map((call) => `${call.method} ${call.path}`)).toEqual([`PATCH /repos/octo/shop/issues/comments/${ours.id}`])
    expect(ours.body.startsWith(commentMarker(gateSettings.gateId))).toBe(true)
    expect(ours.body).toContain('🚫 Cancelled: deploy')
    expect(ours.body).toContain('the post step withdrew the approval request')
    expect(core.warning).not.toHaveBeenCalled()
  })

  it('reports nothing when no request was created', async () => {
    const from = api.calls.length
    await createPullRequestComment(settings(), 'deploy').decided({ waitedMs: 1, failure: 'bad key' })
    expect(api.calls.length).toBe(from)
  })
})

describe('comment text', () => {
  const hostile = `@octo/security ping #1 <script>alert(1)</script>\n\n# heading\n[x](javascript:alert(1)) ![i](https://evil.example/t.png) it's \`code\``

  it('neutralises mentions and references, escapes markup, and stays one HTML block', () => {
    const bodies = [
      waitingBody(hostile, 'apr_<b>', 'javascript:alert(1)', undefined),
      outcomeBody(hostile, { decision: 'rejected', approvalId: 'apr_1', approver: '@mona', reason: hostile, waitedMs: 5, failure: hostile }, 'https://github.com/o/r/actions/runs/1'),
    ]
    for (const body of bodies) {
      // Every @ and # is followed by a zero-width space (the # of HTML entities aside), and the entities are whole.
      expect(body.replace(/[@#]\u200B/g, '').replace(/&#\d+;/g, '')).not.toMatch(/[@#]/)
      expect(body).toContain('it&#39;s &#96;code&#96;')
      expect(body).toContain(`@${ZWSP}octo/security ping #${ZWSP}1`)
      expect(body).not.toMatch(/<(script|b>|img)/)
      expect(body).not.toMatch(/\n\s*\n/)
      expect(body).not.toContain('<a href="javascript')
      expect(body.split('\n').every((line) => line.startsWith('<'))).toBe(true)
    }
    expect(bodies[1]).toContain(`<td>@${ZWSP}mona</td>`)
  })

  it('stays within GitHub\'s comment limit with every value at its longest', () => {
    const long = '@&<'.repeat(5_000)
    const body = outcomeBody(long, { decision: 'rejected', approvalId: long, approver: long, reason: long, url: long, waitedMs: 5, failure: long }, long)
    expect(body.length).toBeLessThan(MAX_COMMENT_CHARS)
  })
})
