/**
 * The parts of the approval card that votes add, rendered on their own: progress per
 * requirement, the votes list (escaped: a voter label or reason is data, never markup), and
 * either the form or the reason the viewer may not vote.
 */
import { describe, expect, it } from '@jest/globals'
import type { AppliedPolicy } from '../../src/server/policies/types.js'
import type { Approval } from '../../src/server/store/types.js'
import { approvalCard } from '../../src/server/dashboard/views/approval-card.js'
import { pendingApproval } from '../helpers/approval-record.js'

const applied: AppliedPolicy = {
  version: 4,
  rule: 'payments',
  requirements: [
    { name: 'sre', members: ['ana@example.com'], required: 1 },
    { name: 'security', members: ['sec@example.com', 'sue@example.com'], required: 2 },
  ],
  block_self_approval: false,
  require_reason: 'approve',
  reject: 'any',
  windows: [],
}

/** A pending payments release under the `applied` policy, with no votes yet. */
function pending(overrides: Partial<Approval> = {}): Approval {
  return pendingApproval({ id: 'apr_card', action: 'payments-release', applied_policy: applied, votes: [], ...overrides })
}

describe('the vote parts of the approval card', () => {
  it('shows progress per requirement and who voted toward what', () => {
    const card = approvalCard(
      pending({ votes: [{ by: 'ana@example.com', email: 'ana@example.com', decision: 'approve', reason: 'fine', at: '2030-01-01T12:01:00.000Z', groups: ['sre'] }] }),
      { csrfToken: 't', standing: { may: true } },
    ).value
    expect(card).toContain('1 of 3 — sre ✓, security waiting')
    expect(card).toContain('rule “payments”')
    expect(card).toContain('May still approve: sec@example.com, sue@example.com')
    expect(card).toMatch(/<li data-vote="approve"><strong>ana@.*<\/strong> approved \(sre\)/)
    expect(card).toContain('(required to approve, shown to the requester)')
    expect(card).toContain('value="approve"')
  })

  it('escapes voter labels and reasons', () => {
    const card = approvalCard(
      pending({ votes: [{ by: 'key:<script>x</script>', email: null, decision: 'reject', reason: '"><img src=x onerror=alert(1)>', at: '2030-01-01T12:01:00.000Z', groups: [] }] }),
      { csrfToken: 't' },
    ).value
    expect(card).not.toContain('<script>x')
    expect(card).not.toContain('<img src=x')
    expect(card).toContain('&lt;script&gt;')
  })

  it('draws no buttons for a viewer who may not vote, and says why', () => {
    const card = approvalCard(pending(), { csrfToken: 't', standing: { may: false, why: 'not_eligible', message: 'only sre or security may approve' } }).value
    expect(card).toContain('You cannot vote: only sre or security may approve.')
    expect(card).not.toContain('<button')
  })

  it('adds nothing for a request without a policy', () => {
    const card = approvalCard(pending({ applied_policy: null }), { csrfToken: 't', standing: { may: true } }).value
    expect(card).not.toContain('data-progress')
    expect(card).toContain('(optional, shown to the requester)')
  })
})
