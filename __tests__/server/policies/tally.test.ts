import { describe, expect, it } from '@jest/globals'
import { eligibility, tally, type AppliedPolicy, type CastVote } from '../../../src/server/policies/index.js'

function applied(overrides: Partial<AppliedPolicy>): AppliedPolicy {
  return {
    version: 1,
    rule: 'test rule',
    requirements: [{ name: 'approvers', members: null, required: 1 }],
    block_self_approval: true,
    require_reason: 'none',
    reject: 'any',
    windows: [],
    ...overrides,
  }
}

const approve = (email: string): CastVote => ({ by: email, email, decision: 'approve' })
const reject = (email: string): CastVote => ({ by: email, email, decision: 'reject' })
const keyVote = (name: string, decision: 'approve' | 'reject'): CastVote => ({ by: `key:${name}`, email: null, decision })

const SRE = ['alice@example.com', 'bob@example.com', 'carol@example.com']
const SECURITY = ['carol@example.com', 'erin@example.com']
const TWO_SRE = applied({ rule: 'two sre', requirements: [{ name: 'approvers', members: SRE, required: 2 }] })
const SRE_AND_SECURITY = applied({
  rule: 'sre and security',
  requirements: [
    { name: 'sre', members: SRE, required: 1 },
    { name: 'security', members: SECURITY, required: 1 },
  ],
})

describe('eligibility', () => {
  it('lets any member and any decide key vote under the seed rule', () => {
    const seed = applied({})
    expect(eligibility(seed, { by: 'x@example.com', email: 'x@example.com' })).toEqual({ eligible: true, requirements: ['approvers'] })
    expect(eligibility(seed, { by: 'key:ci', email: null })).toEqual({ eligible: true, requirements: ['approvers'] })
  })

  it('names the requirements a member counts toward, whatever the case of their email', () => {
    expect(eligibility(SRE_AND_SECURITY, { by: 'Carol@Example.com', email: 'Carol@Example.com' })).toEqual({ eligible: true, requirements: ['sre', 'security'] })
    expect(eligibility(SRE_AND_SECURITY, { by: 'erin@example.com', email: 'erin@example.com' })).toEqual({ eligible: true, requirements: ['security'] })
  })

  it('says why others may not vote', () => {
    expect(eligibility(SRE_AND_SECURITY, { by: 'mallory@example.com', email: 'mallory@example.com' })).toEqual({
      eligible: false,
      reason: 'mallory@example.com is not among the approvers of rule "sre and security" (sre, security)',
    })
    expect(eligibility(TWO_SRE, { by: 'key:deploy-bot', email: null })).toEqual({
      eligible: false,
      reason: 'API keys cannot decide under rule "two sre": it names the people who must approve (approvers)',
    })
  })
})

describe('tally', () => {
  it('under the seed rule one approval approves and one rejection rejects', () => {
    expect(tally(applied({}), [])).toEqual({
      outcome: 'pending',
      required_approvals: 1,
      groups: {},
      requirements: [{ name: 'approvers', required: 1, approved_by: [], satisfied: false }],
    })
    expect(tally(applied({}), [keyVote('ci', 'approve')])).toMatchObject({ outcome: 'approved', groups: { 'key:ci': ['approvers'] } })
    expect(tally(applied({}), [reject('x@example.com')])).toMatchObject({ outcome: 'rejected', groups: { 'x@example.com': ['approvers'] } })
  })

  it('N-of-M: needs two different listed people; a repeat by the same person (any case) counts once', () => {
    const one = tally(TWO_SRE, [approve('alice@example.com')])
    expect(one).toMatchObject({ outcome: 'pending', required_approvals: 2, requirements: [{ name: 'approvers', required: 2, approved_by: ['alice@example.com'], satisfied: false }] })
    const repeat = tally(TWO_SRE, [approve('alice@example.com'), { by: 'ALICE@example.com', email: 'ALICE@example.com', decision: 'approve' }])
    expect(repeat.outcome).toBe('pending')
    expect(tally(TWO_SRE, [approve('alice@example.com'), approve('bob@example.com')])).toMatchObject({
      outcome: 'approved',
      requirements: [{ approved_by: ['alice@example.com', 'bob@example.com'], satisfied: true }],
      groups: { 'alice@example.com': ['approvers'], 'bob@example.com': ['approvers'] },
    })
  })

  it('does not count votes by people outside the rule, nor keys where people are named', () => {
    const votes = [approve('alice@example.com'), approve('mallory@example.com'), keyVote('ci', 'approve'), reject('eve@example.com')]
    const result = tally(TWO_SRE, votes)
    expect(result.outcome).toBe('pending')
    expect(result.groups).toEqual({ 'alice@example.com': ['approvers'] })
  })

  it('AND of groups: one person in both groups counts once, for one of them', () => {
    const carolAlone = tally(SRE_AND_SECURITY, [approve('carol@example.com')])
    expect(carolAlone.outcome).toBe('pending')
    expect(carolAlone.groups['carol@example.com']).toHaveLength(1)
    expect(carolAlone.requirements.filter((requirement) => requirement.satisfied)).toHaveLength(1)
  })

  it('AND of groups: a later voter moves an earlier one to the group only they can fill', () => {
    // Carol is in both groups and voted first (taking sre); Erin is only in security — but
    // whichever Carol took, Alice (sre only) completes the pair with Carol moved to security.
    const result = tally(SRE_AND_SECURITY, [approve('carol@example.com'), approve('alice@example.com')])
    expect(result).toMatchObject({
      outcome: 'approved',
      groups: { 'carol@example.com': ['security'], 'alice@example.com': ['sre'] },
      requirements: [
        { name: 'sre', approved_by: ['alice@example.com'], satisfied: true },
        { name: 'security', approved_by: ['carol@example.com'], satisfied: true },
      ],
    })
    expect(tally(SRE_AND_SECURITY, [approve('alice@example.com'), approve('bob@example.com')]).outcome).toBe('pending')
    expect(tally(SRE_AND_SECURITY, [approve('alice@example.com'), approve('bob@example.com'), approve('erin@example.com')])).toMatchObject({
      outcome: 'approved',
      groups: { 'alice@example.com': ['sre'], 'bob@example.com': [], 'erin@example.com': ['security'] },
    })
  })

  it("reject 'any': one eligible rejection ends it, an ineligible one does not", () => {
    expect(tally(SRE_AND_SECURITY, [approve('alice@example.com'), reject('mallory@example.com')]).outcome).toBe('pending')
    expect(tally(SRE_AND_SECURITY, [approve('alice@example.com'), reject('erin@example.com')])).toMatchObject({
      outcome: 'rejected',
      groups: { 'alice@example.com': ['sre'], 'erin@example.com': ['security'] },
    })
  })

  it("reject 'quorum': rejected when rejections would meet the rule", () => {
    const quorum = applied({ reject: 'quorum', requirements: [{ name: 'approvers', members: null, required: 2 }] })
    expect(tally(quorum, [reject('a@example.com')]).outcome).toBe('pending')
    expect(tally(quorum, [reject('a@example.com'), approve('b@example.com')]).outcome).toBe('pending')
    expect(tally(quorum, [reject('a@example.com'), approve('b@example.com'), reject('c@example.com')])).toMatchObject({
      outcome: 'rejected',
      groups: { 'a@example.com': ['approvers'], 'b@example.com': ['approvers'], 'c@example.com': ['approvers'] },
    })
  })

  it("reject 'quorum': rejects count like approvals, one person once, per requirement", () => {
    // Reachability is not judged: 3 of 3 with one reject stays pending (until the request expires).
    const allThree = applied({ reject: 'quorum', requirements: [{ name: 'approvers', members: SRE, required: 3 }] })
    expect(tally(allThree, [approve('alice@example.com'), reject('bob@example.com')]).outcome).toBe('pending')
    // Carol is in both groups: her reject fills one requirement only; a second person's completes it.
    const andQuorum = { ...SRE_AND_SECURITY, reject: 'quorum' as const }
    expect(tally(andQuorum, [reject('carol@example.com')]).outcome).toBe('pending')
    expect(tally(andQuorum, [reject('carol@example.com'), reject('alice@example.com')])).toMatchObject({
      outcome: 'rejected',
      groups: { 'carol@example.com': ['security'], 'alice@example.com': ['sre'] },
    })
    expect(tally(andQuorum, [reject('alice@example.com'), reject('bob@example.com')]).outcome).toBe('pending')
  })

  it('settles on the first vote that settles it: later votes cannot flip the outcome', () => {
    expect(tally(applied({}), [approve('a@example.com'), reject('b@example.com')]).outcome).toBe('approved')
    expect(tally(applied({}), [reject('b@example.com'), approve('a@example.com')]).outcome).toBe('rejected')
    expect(tally(TWO_SRE, [approve('alice@example.com'), approve('bob@example.com'), reject('carol@example.com')])).toMatchObject({
      outcome: 'approved',
      groups: { 'alice@example.com': ['approvers'], 'bob@example.com': ['approvers'] },
    })
  })

  it('sums the required approvals over the requirements', () => {
    const three = applied({ requirements: [{ name: 'a', members: null, required: 2 }, { name: 'b', members: ['x@example.com'], required: 1 }] })
    expect(tally(three, []).required_approvals).toBe(3)
  })
})
