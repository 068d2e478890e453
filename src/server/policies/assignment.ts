/**
 * Who counts toward which requirement: a maximum bipartite matching of people to requirement
 * slots, each person filling at most one slot. This is what makes "1 from sre AND 1 from
 * security" need two different people even when one of them is in both groups. Used by the
 * tally (votes) and by validation (can a rule be met at all by the people it lists).
 */

/** One person and the requirements (by index) they may count toward. */
export interface Candidate {
  id: string
  eligible: readonly number[]
}

/**
 * Assigns candidates to requirements with `capacities[i]` slots each, as many as possible.
 * Candidates are taken in order, and an augmenting path only ever moves an assigned person to
 * another requirement, never drops them: earlier candidates keep counting.
 * @returns candidate id → requirement index, for the assigned candidates.
 */
export function assignToRequirements(candidates: readonly Candidate[], capacities: readonly number[]): Map<string, number> {
  const holders: string[][] = capacities.map(() => [])
  const assigned = new Map<string, number>()
  const eligibleOf = new Map(candidates.map((candidate) => [candidate.id, candidate.eligible]))

  const place = (id: string, visited: Set<number>): boolean => {
    for (const requirement of eligibleOf.get(id) ?? []) {
      if (visited.has(requirement) || capacities[requirement] === undefined) continue
      visited.add(requirement)
      if (holders[requirement].length < capacities[requirement]) {
        holders[requirement].push(id)
        assigned.set(id, requirement)
        return true
      }
      for (const [slot, holder] of holders[requirement].entries()) {
        if (place(holder, visited)) {
          holders[requirement][slot] = id
          assigned.set(id, requirement)
          return true
        }
      }
    }
    return false
  }

  for (const candidate of candidates) {
    if (!assigned.has(candidate.id)) place(candidate.id, new Set())
  }
  return assigned
}
