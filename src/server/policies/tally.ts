/**
 * Counting votes under an applied policy: who may vote, and where the request stands.
 * One person counts toward at most one requirement (see `assignment.ts`); votes are replayed
 * in order and the first vote that settles the request settles it, so a later vote can never
 * turn an approval into a rejection or back.
 */
import { assignToRequirements, type Candidate } from './assignment.js'
import type { AppliedPolicy, Requirement, Tally } from './types.js'

/** Who votes: a member's `by` is their email; an API key's is `key:<name>` with a null email. */
export interface Voter {
  by: string
  email: string | null
}

export interface CastVote extends Voter {
  decision: 'approve' | 'reject'
}

export type Eligibility = { eligible: true; requirements: string[] } | { eligible: false; reason: string }

/**
 * Which requirements a voter may count toward. Self-approval and windows are not judged here:
 * they depend on the request and the clock, which the approval service knows.
 */
export function eligibility(applied: AppliedPolicy, voter: Voter): Eligibility {
  const indexes = eligibleRequirements(applied.requirements, voter)
  if (indexes.length > 0) return { eligible: true, requirements: indexes.map((index) => applied.requirements[index].name) }
  const listed = applied.requirements.filter((requirement) => requirement.members !== null).map((requirement) => requirement.name)
  if (voter.email === null) {
    return { eligible: false, reason: `API keys cannot decide under rule "${applied.rule}": it names the people who must approve (${listed.join(', ')})` }
  }
  return { eligible: false, reason: `${voter.email.toLowerCase()} is not among the approvers of rule "${applied.rule}" (${listed.join(', ')})` }
}

/**
 * Where a request stands given its votes (in the order they were cast). Ineligible votes and
 * repeated votes by the same person are not counted.
 * @returns the tally, and `groups`: each counted voter's `by` → the requirements their vote counts toward.
 */
export function tally(applied: AppliedPolicy, votes: ReadonlyArray<CastVote>): Tally & { groups: Record<string, string[]> } {
  const counted = countedVotes(applied, votes)
  for (let cast = 1; cast <= counted.length; cast += 1) {
    const state = standing(applied, counted.slice(0, cast))
    if (state.outcome !== 'pending') return state
  }
  return standing(applied, counted)
}

interface CountedVote extends CastVote {
  person: string
  eligible: number[]
}

function countedVotes(applied: AppliedPolicy, votes: ReadonlyArray<CastVote>): CountedVote[] {
  const seen = new Set<string>()
  const counted: CountedVote[] = []
  for (const vote of votes) {
    const person = personOf(vote)
    const eligible = eligibleRequirements(applied.requirements, vote)
    if (seen.has(person) || eligible.length === 0) continue
    seen.add(person)
    counted.push({ ...vote, person, eligible })
  }
  return counted
}

function standing(applied: AppliedPolicy, votes: readonly CountedVote[]): Tally & { groups: Record<string, string[]> } {
  const capacities = applied.requirements.map((requirement) => requirement.required)
  const needed = capacities.reduce((sum, required) => sum + required, 0)
  const approvals = votes.filter((vote) => vote.decision === 'approve')
  const rejects = votes.filter((vote) => vote.decision === 'reject')
  const approvedBy = assignToRequirements(approvals.map(asCandidate), capacities)

  const groups: Record<string, string[]> = {}
  for (const vote of approvals) {
    const requirement = approvedBy.get(vote.person)
    groups[vote.by] = requirement === undefined ? [] : [applied.requirements[requirement].name]
  }
  let outcome: Tally['outcome'] = approvedBy.size >= needed ? 'approved' : 'pending'
  if (applied.reject === 'any') {
    for (const vote of rejects) groups[vote.by] = vote.eligible.map((index) => applied.requirements[index].name)
    if (outcome === 'pending' && rejects.length > 0) outcome = 'rejected'
  } else {
    const rejectedBy = assignToRequirements(rejects.map(asCandidate), capacities)
    for (const vote of rejects) {
      const requirement = rejectedBy.get(vote.person)
      groups[vote.by] = requirement === undefined ? [] : [applied.requirements[requirement].name]
    }
    if (outcome === 'pending' && rejectedBy.size >= needed) outcome = 'rejected'
  }

  return {
    outcome,
    required_approvals: needed,
    groups,
    requirements: applied.requirements.map((requirement, index) => {
      const approvers = approvals.filter((vote) => approvedBy.get(vote.person) === index).map((vote) => vote.by)
      return { name: requirement.name, required: requirement.required, approved_by: approvers, satisfied: approvers.length >= requirement.required }
    }),
  }
}

/** The requirements (by index) a voter may count toward: keys only where any member counts. */
function eligibleRequirements(requirements: readonly Requirement[], voter: Voter): number[] {
  const email = voter.email?.toLowerCase() ?? null
  const indexes: number[] = []
  requirements.forEach((requirement, index) => {
    if (requirement.members === null ? true : email !== null && requirement.members.includes(email)) indexes.push(index)
  })
  return indexes
}

/** One person, whatever they vote with: members by email, keys by name. */
function personOf(voter: Voter): string {
  return voter.email?.toLowerCase() ?? voter.by
}

function asCandidate(vote: CountedVote): Candidate {
  return { id: vote.person, eligible: vote.eligible }
}
