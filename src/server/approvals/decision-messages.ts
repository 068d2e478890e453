/**
 * What a person is told when their decision does not land, in one wording for every place
 * they decide from (the dashboard, Slack).
 */
import type { Approval } from '../store/types.js'

const PAST_TENSE: Record<string, string> = { approved: 'approved', rejected: 'rejected', cancelled: 'cancelled', expired: 'expired' }

/** "Already approved by alice@example.com" — what a decision that lost the race is told. */
export function lostRaceMessage(approval: Approval): string {
  const what = PAST_TENSE[approval.status] ?? approval.status
  if (approval.status === 'expired') return 'Too late: this request expired before your decision.'
  return `Too late: this request was already ${what} by ${approval.decided_by ?? 'someone else'}.`
}

/** Why the self-approval rule refused a member (`login`: the run's login the rule matched). */
export function selfApprovalMessage(approval: Approval, login: string | undefined): string {
  const gh = approval.context.github as Record<string, unknown> | undefined
  // The login the rule matched (`actor` or `triggering_actor`), else the run's actor.
  const actor = login ?? (typeof gh?.actor === 'string' ? gh.actor : 'you')
  return `You cannot decide this request: the run was triggered by ${actor}, which is your linked GitHub login, and this project blocks self-approval. Ask another member.`
}
