/**
 * What GitHub is told when a GitHub-originated approval settles: `approved` only for an
 * approval, `rejected` for everything else (a rejection, expiry, withdrawal), with a comment
 * naming who decided, why, and the approval's page — at most GitHub's 1,024 characters.
 */
import type { Approval } from '../store/types.js'
import type { DeploymentReview } from './github-api.js'

/** GitHub's limit on the comment of a deployment protection rule answer. */
export const MAX_REVIEW_COMMENT_CHARS = 1024

/** The review for a settled approval; `null` while it is pending. */
export function reviewFor(approval: Approval, environment: string, approvalUrl: string): DeploymentReview | null {
  const headline = headlineOf(approval)
  if (headline === null) return null
  return { environment_name: environment, state: approval.status === 'approved' ? 'approved' : 'rejected', comment: commentOf(headline, approval.reason, approvalUrl) }
}

function headlineOf(approval: Approval): string | null {
  const by = approval.decided_by ?? 'unknown'
  switch (approval.status) {
    case 'pending':
      return null
    case 'approved':
      return `Approved by ${by} in approval-gate`
    case 'rejected':
      return `Rejected by ${by} in approval-gate`
    case 'expired':
      return `Rejected: no decision in approval-gate before the request expired (${approval.expires_at})`
    case 'cancelled':
      return `Rejected: the request was withdrawn in approval-gate by ${by}`
  }
}

/** Headline, reason (shortened to fit) and link: the link is never cut. */
function commentOf(headline: string, reason: string | null, url: string): string {
  const link = `\n${url}`
  const head = headline.slice(0, MAX_REVIEW_COMMENT_CHARS - link.length)
  if (!reason) return `${head}${link}`
  const room = MAX_REVIEW_COMMENT_CHARS - head.length - link.length - 2
  if (room <= 1) return `${head}${link}`
  const shown = reason.length > room ? `${reason.slice(0, room - 1)}…` : reason
  return `${head}: ${shown}${link}`
}
