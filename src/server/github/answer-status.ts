/**
 * How far a GitHub App gate's answer to GitHub got, as operators read it on the approval's
 * page and in `approval-gate github list`: one reading of the stored gate row for both, so
 * the dashboard and the CLI never disagree about what "failed" or "retrying" means.
 */
import type { ApprovalStatus, GithubGate } from '../store/types.js'

/** Where the answer stands; `error` is GitHub's (or the network's) text: untrusted, escape it. */
export type GithubAnswerStatus =
  /** The approval is still pending: GitHub's deployment waits for the decision. */
  | { state: 'waiting' }
  /** Decided, not tried yet (the worker is about to answer). */
  | { state: 'answering' }
  /** The last attempt failed and will be retried at `retryAt`. */
  | { state: 'retrying'; attempts: number; error: string; retryAt: string }
  /** GitHub accepted the answer at `at`. */
  | { state: 'answered'; at: string | null }
  /** GitHub refused it for good, or it could not be sent (`error` says why). */
  | { state: 'failed'; error: string | null; at: string | null }

export function githubAnswerStatus(gate: GithubGate, approvalStatus: ApprovalStatus): GithubAnswerStatus {
  if (gate.callback === 'done') return { state: 'answered', at: gate.completed_at }
  if (gate.callback === 'failed') return { state: 'failed', error: gate.last_error, at: gate.completed_at }
  if (approvalStatus === 'pending') return { state: 'waiting' }
  if (gate.attempts > 0 && gate.last_error !== null) return { state: 'retrying', attempts: gate.attempts, error: gate.last_error, retryAt: gate.next_attempt_at }
  return { state: 'answering' }
}

/**
 * The status as words, with the parts a page marks up kept apart: `error` (untrusted text) and
 * `time` (an ISO instant). The CLI joins them as plain text, the dashboard wraps them in
 * markup: one wording for both.
 */
export type GithubAnswerPart = string | { error: string } | { time: string }

export function githubAnswerParts(status: GithubAnswerStatus): GithubAnswerPart[] {
  switch (status.state) {
    case 'waiting':
      return ['GitHub waits for this decision']
    case 'answering':
      return ['answering GitHub']
    case 'retrying':
      return [`answering GitHub: attempt ${status.attempts} failed: `, { error: status.error }, ', retrying at ', { time: status.retryAt }]
    case 'answered':
      return status.at === null ? ['GitHub answered'] : ['GitHub answered at ', { time: status.at }]
    case 'failed':
      return status.error === null ? ['GitHub could not be answered'] : ['GitHub could not be answered: ', { error: status.error }]
  }
}

/** The status in one plain sentence (`GitHub answered at …`, `answering GitHub: attempt 2 failed: …, retrying at …`). */
export function describeGithubAnswer(status: GithubAnswerStatus): string {
  return githubAnswerParts(status)
    .map((part) => (typeof part === 'string' ? part : 'error' in part ? part.error : part.time))
    .join('')
}
