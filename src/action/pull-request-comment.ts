/**
 * The gate's one comment on the run's pull request, so reviewers see the approval where they
 * work: posted with the dashboard link when the request is created, updated with the outcome.
 * A hidden marker names the gate (not the run), so re-runs and attempts update the same comment.
 *
 * Commenting is a courtesy, never part of the gate: every GitHub API call is bounded in time,
 * runs beside the wait, and any failure (a read-only token on a fork's pull request answers
 * 403) is a warning, after which a permission error or a timeout stops further calls. Besides the
 * core's client, this is the action's only HTTP caller, and it calls the GitHub API only,
 * through `@actions/github`'s Octokit (`GITHUB_API_URL`).
 */
import * as core from '@actions/core'
import * as github from '@actions/github'
import type { GateOutcome } from './outcome.js'
import { commentText, outcomeHeading, outcomeRows, renderLink, renderTable, truncate, type TextRenderer } from './outcome-html.js'
import type { PullRequestCommentSettings } from './settings.js'

/** Upper bound of each GitHub API request. */
export const GITHUB_REQUEST_TIMEOUT_MS = 5_000
/** Pages of 100 comments searched for the gate's earlier comment; past them a new one is posted. */
export const MAX_COMMENT_PAGES = 5
/** GitHub's limit on a comment's body. */
export const MAX_COMMENT_CHARS = 65_536

export interface PullRequestComment {
  /** The request was created: post (or update) the comment with the link. Returns at once. */
  waiting(approvalId: string, url: string | undefined): void
  /** The gate ended: show the outcome (after the waiting comment's own calls). Never rejects. */
  decided(outcome: GateOutcome): Promise<void>
}

/** The hidden first line that finds the gate's comment again: `<!-- approval-gate:<gate id> -->`. */
export function commentMarker(gateId: string): string {
  return `<!-- approval-gate:${gateId} -->`
}

export interface CommentOptions {
  /** The comment's id, when an earlier step already posted it: `decided` updates it directly. */
  commentId?: number
  /** Called once the comment exists (created or found), with what the post step needs. */
  onPosted?: (posted: PostedComment) => void
}

/**
 * What the post step needs to show, on the comment, a request it withdrew after the main step
 * died (kept in the step's state by `onPosted`; never the token).
 */
export interface PostedComment {
  commentId: number
  pullRequest: PullRequestCommentSettings['pullRequest']
  gateId: string
  runUrl?: string
  action: string
  /** When the gate started (ms since the epoch), for the time waited. */
  startedAt: number
  /** The dashboard link. */
  url?: string
}

/** Starts the comment's lifecycle; no request is made until `waiting`. */
export function createPullRequestComment(settings: PullRequestCommentSettings, action: string, options: CommentOptions = {}): PullRequestComment {
  const octokit = github.getOctokit(settings.token, { userAgent: 'approval-gate-action' })
  const { owner, repo, number } = settings.pullRequest
  const marker = commentMarker(settings.gateId)
  let commentId = options.commentId
  let givenUp = false // after a permission error or a timeout, asking again only repeats the warning (and the wait)
  let waitingPosted: Promise<void> | undefined
  const startedAt = Date.now()
  let dashboardUrl: string | undefined

  const posted = (id: number): void => {
    commentId = id
    options.onPosted?.({ commentId: id, pullRequest: settings.pullRequest, gateId: settings.gateId, ...(settings.runUrl ? { runUrl: settings.runUrl } : {}), action, startedAt, ...(dashboardUrl ? { url: dashboardUrl } : {}) })
  }

  const bounded = () => ({ signal: AbortSignal.timeout(GITHUB_REQUEST_TIMEOUT_MS) })

  /** The gate's earlier comment: ours (written by a bot account) and starting with the marker. */
  const findOwnComment = async (): Promise<number | undefined> => {
    for (let page = 1; page <= MAX_COMMENT_PAGES; page++) {
      const { data } = await octokit.rest.issues.listComments({ owner, repo, issue_number: number, per_page: 100, page, request: bounded() })
      const own = data.find((comment) => comment.user?.type === 'Bot' && comment.body?.startsWith(marker))
      if (own) return own.id
      if (data.length < 100) return undefined
    }
    return undefined
  }

  const publish = async (body: string): Promise<void> => {
    if (givenUp) return
    try {
      if (commentId === undefined) {
        const found = await findOwnComment()
        if (found !== undefined) posted(found)
      }
      if (commentId === undefined) {
        posted((await octokit.rest.issues.createComment({ owner, repo, issue_number: number, body, request: bounded() })).data.id)
      } else {
        await octokit.rest.issues.updateComment({ owner, repo, comment_id: commentId, body, request: bounded() })
      }
    } catch (error) {
      givenUp = isPermissionError(error) || timedOut(error)
      core.warning(failureText(error, number))
    }
  }

  return {
    waiting(approvalId, url) {
      dashboardUrl ??= url
      waitingPosted ??= publish(capped(marker, waitingBody(action, approvalId, url, settings.runUrl), action))
    },
    async decided(outcome) {
      // Nothing was ever asked (and no earlier step posted): nothing to report on the pull request.
      if (waitingPosted === undefined && options.commentId === undefined) return
      await waitingPosted
      await publish(capped(marker, outcomeBody(action, outcome, settings.runUrl), action))
    },
  }
}

/**
 * The post step withdrew a request the main step left pending (it was killed): the comment,
 * still saying "waiting", says so now. Never rejects; bounded like every call here.
 */
export async function showWithdrawalOnComment(posted: PostedComment, token: string, approvalId: string): Promise<void> {
  const settings = { token, pullRequest: posted.pullRequest, gateId: posted.gateId, ...(posted.runUrl ? { runUrl: posted.runUrl } : {}) }
  await createPullRequestComment(settings, posted.action, { commentId: posted.commentId }).decided({
    decision: 'cancelled',
    approvalId,
    url: posted.url,
    waitedMs: Math.max(0, Date.now() - posted.startedAt),
    failure: 'The step ended before anyone decided; the post step withdrew the approval request.',
  })
}

/** The comment while the gate waits. */
export function waitingBody(action: string, approvalId: string, url: string | undefined, runUrl: string | undefined): string {
  const text: TextRenderer = commentText
  const rows: Array<[string, string]> = [
    ['Action', text(truncate(action))],
    ['Approval id', `<code>${text(truncate(approvalId))}</code>`],
    ['Dashboard', renderLink(url, text)],
    ['Workflow run', renderLink(runUrl, text)],
  ]
  return [`<h2>⏳ Waiting for approval: ${text(truncate(action))}</h2>`, ...renderTable(rows), '<p>This comment shows the decision once someone decides.</p>'].join('\n')
}

/** The comment once the gate has ended: the same rendering as the job summary's. */
export function outcomeBody(action: string, outcome: GateOutcome, runUrl: string | undefined): string {
  const rows = [...outcomeRows(action, outcome, commentText), ['Workflow run', renderLink(runUrl, commentText)] as [string, string]]
  return [outcomeHeading(action, outcome, commentText), ...renderTable(rows)].join('\n')
}

/** The marker, then the body; a body GitHub would refuse as too long is replaced by a short one. */
function capped(marker: string, body: string, action: string): string {
  const full = `${marker}\n${body}\n`
  if (full.length <= MAX_COMMENT_CHARS) return full
  return `${marker}\n<p>The approval of ${commentText(truncate(action).slice(0, 200))} has news too long to show here: see the workflow run.</p>\n`
}

/** 401/403/404: the token may not comment (a fork's pull request, or no `pull-requests: write`). */
function isPermissionError(error: unknown): boolean {
  const status = (error as { status?: unknown } | null)?.status
  return status === 401 || status === 403 || status === 404
}

/** Our bound fired: fetch rejects with a TimeoutError, which Octokit may wrap (as its `cause`). */
function timedOut(error: unknown): boolean {
  const names = [(error as { name?: unknown } | null)?.name, (error as { cause?: { name?: unknown } } | null)?.cause?.name]
  return names.some((name) => name === 'TimeoutError' || name === 'AbortError')
}

function failureText(error: unknown, number: number): string {
  const status = (error as { status?: unknown } | null)?.status
  const unaffected = 'The gate itself is not affected.'
  if (isPermissionError(error)) {
    return `Could not comment on pull request #${number} (HTTP ${String(status)}): the github-token may not write pull request comments. Give the job \`permissions: pull-requests: write\`; runs for pull requests from forks get a read-only token and cannot comment. ${unaffected}`
  }
  if (timedOut(error)) return `Could not comment on pull request #${number}: GitHub did not answer within ${GITHUB_REQUEST_TIMEOUT_MS / 1000}s. ${unaffected}`
  const message = error instanceof Error ? error.message : String(error)
  return `Could not comment on pull request #${number}${typeof status === 'number' ? ` (HTTP ${status})` : ''}: ${message.slice(0, 300)}. ${unaffected}`
}
