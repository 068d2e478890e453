/**
 * The rules a vote must pass under the policy applied to its approval — one vote per person,
 * eligibility, approval windows, required reasons — and the counter the store runs inside the
 * vote's transaction. Pure: the approval service reads the approval and the clock and calls
 * these, so the API, the dashboard and every integration judge a vote the same way.
 */
import { describeWindowOpening, eligibility, resolvePolicy, tally, windowState } from '../policies/index.js'
import type { AppliedPolicy } from '../policies/types.js'
import type { Actor, VoteRefusal } from './contracts.js'
import type { Approval, Decision, Project, VoteCounter } from '../store/types.js'

/**
 * The rule an approval is decided under: the snapshot taken when it was created, or — for a
 * request made while its project had no policy, or before policies existed — the seed's rule
 * (any one member or decide key), with the project's current self-approval setting.
 */
export function appliedPolicyOf(project: Project, approval: Approval): AppliedPolicy {
  if (approval.applied_policy) return approval.applied_policy
  return resolvePolicy(null, null, { action: approval.action, context: approval.context, requester_claims: approval.requester_claims ?? null }, { block_self_approval: project.settings.blockSelfApproval })
}

/** The voter's email as policies name people (lower-cased); `null` for an API key. */
export function voterEmail(actor: Actor): string | null {
  return actor.keyId || !actor.email ? null : actor.email.toLowerCase()
}

/**
 * Why `actor` may not vote `decision` on a pending `approval` at `now` (self-approval is judged
 * before, by the service), or `null`. With no decision (what the dashboard asks before drawing
 * buttons) a closed window counts as a refusal, as it refuses Approve.
 */
export function voteRefusal(project: Project, approval: Approval, actor: Actor, decision: Decision | null, now: Date): VoteRefusal | null {
  const applied = appliedPolicyOf(project, approval)
  if ((approval.votes ?? []).some((vote) => vote.by === actor.label)) return { refused: 'already_voted', message: 'you already voted on this request' }
  const eligible = eligibility(applied, { by: actor.label, email: voterEmail(actor) })
  if (!eligible.eligible) return { refused: 'not_eligible', message: `${eligible.reason}; ${whoMayVote(applied)}` }
  // Windows limit granting approval; a reject is always allowed.
  if (decision !== 'reject') {
    const window = windowState(applied.windows, now)
    if (!window.open) {
      const until = window.opens_at === null ? ' (no opening is scheduled)' : ` until ${describeWindowOpening(window.opens_at, applied.windows[0].time_zone)} ${applied.windows[0].time_zone}`
      return { refused: 'outside_window', opens_at: window.opens_at, message: `outside the approval window${until}` }
    }
  }
  return null
}

/** "only sre or security may approve" — who the rule counts, for people refused by it. */
export function whoMayVote(applied: AppliedPolicy): string {
  const named = applied.requirements.filter((requirement) => requirement.members !== null)
  if (named.length === 0) return 'any member may approve'
  const names = named.map((requirement) => (requirement.name === 'approvers' ? 'the listed approvers' : requirement.name))
  return `only ${names.join(' or ')} may approve`
}

/** The message of a `400` when the rule asks for a reason that `reason` does not give, else `null`. */
export function missingReason(applied: AppliedPolicy, decision: Decision, reason: string | null): string | null {
  const asked = applied.require_reason === 'both' || applied.require_reason === decision
  if (!asked || (reason !== null && reason.trim() !== '')) return null
  return `reason is required: rule "${applied.rule}" has require_reason: ${applied.require_reason}, so a${decision === 'approve' ? 'n approve' : ' reject'} must say why`
}

/** The counter `Store.recordVote` runs on the approval's votes, inside the vote's transaction. */
export function countVotes(applied: AppliedPolicy): VoteCounter {
  return (votes) => {
    const counted = tally(applied, votes)
    return { outcome: counted.outcome, groups: counted.groups }
  }
}
