/**
 * Named values the main step leaves for the post step (`post:` in action.yml), so a request
 * whose process died before it could withdraw is still withdrawn, and its pull request comment
 * says so. Neither the API key nor the GitHub token is ever saved: the post step reads them from
 * the inputs again.
 */
import * as core from '@actions/core'
import type { PostedComment } from './pull-request-comment.js'

const IS_POST = 'isPost'
const APPROVAL_ID = 'approvalId'
const API_URL = 'apiUrl'
const SETTLED = 'settled'
const PULL_REQUEST_COMMENT = 'pullRequestComment'

/** True when this process runs as the post step: the main step saved `isPost` before it began. */
export function isPost(): boolean {
  return core.getState(IS_POST) === 'true'
}

/** Called first thing by the main step, so the post step of the same run knows it is the post step. */
export function markMainStarted(): void {
  core.saveState(IS_POST, 'true')
}

/** Records a created, still pending request (right after creation, before waiting). */
export function recordPendingApproval(approvalId: string, apiUrl: string | undefined): void {
  core.saveState(APPROVAL_ID, approvalId)
  core.saveState(API_URL, apiUrl ?? '')
}

/** The request is over (decided, expired or already withdrawn): the post step has nothing to do. */
export function markApprovalSettled(): void {
  core.saveState(SETTLED, 'true')
}

/** What the post step should withdraw, or `undefined` when nothing is left pending. */
export function pendingApproval(): { approvalId: string; apiUrl?: string } | undefined {
  const approvalId = core.getState(APPROVAL_ID)
  if (!approvalId || core.getState(SETTLED) === 'true') return undefined
  const apiUrl = core.getState(API_URL)
  return { approvalId, apiUrl: apiUrl || undefined }
}

/** The gate's pull request comment exists: the post step can show a withdrawal on it. */
export function recordPullRequestComment(posted: PostedComment): void {
  core.saveState(PULL_REQUEST_COMMENT, JSON.stringify(posted))
}

/** The comment the main step posted, or `undefined` (none, or state that does not parse as one). */
export function postedPullRequestComment(): PostedComment | undefined {
  const text = core.getState(PULL_REQUEST_COMMENT)
  if (!text) return undefined
  try {
    const posted = JSON.parse(text) as PostedComment
    const { commentId, pullRequest, gateId, action, startedAt } = posted
    const valid = Number.isSafeInteger(commentId) && typeof pullRequest?.owner === 'string' && typeof pullRequest.repo === 'string' && Number.isSafeInteger(pullRequest.number) && typeof gateId === 'string' && typeof action === 'string' && Number.isFinite(startedAt)
    return valid ? posted : undefined
  } catch {
    return undefined
  }
}
