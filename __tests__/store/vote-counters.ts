/** Policy rules and vote counters for store tests of votes. */
import type { AppliedPolicy } from '../../src/server/policies/types.js'
import type { VoteCounter } from '../../src/server/store/types.js'

/** A policy rule asking for `required` approvals from anyone. */
export function anyMembers(required: number): AppliedPolicy {
  return { version: 1, rule: 'votes', requirements: [{ name: 'approvers', members: null, required }], block_self_approval: false, require_reason: 'none', reject: 'any', windows: [] }
}

/** Approved once `required` voters approved; every approving vote counts toward `approvers`. */
export function approvalsUpTo(required: number): VoteCounter {
  return (votes) => ({
    outcome: votes.filter((vote) => vote.decision === 'approve').length >= required ? 'approved' : 'pending',
    groups: Object.fromEntries(votes.map((vote) => [vote.by, ['approvers']])),
  })
}
