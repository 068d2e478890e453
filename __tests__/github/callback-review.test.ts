/** The answer GitHub gets for each way an approval settles, within GitHub's 1,024-character comment. */
import { describe, expect, it } from '@jest/globals'
import { MAX_REVIEW_COMMENT_CHARS, reviewFor } from '../../src/server/github/callback-review.js'
import type { Approval } from '../../src/server/store/types.js'

const URL = 'https://gate.example.com/approvals/apr_123'

function approval(fields: Partial<Approval>): Approval {
  return {
    id: 'apr_123',
    project_id: 'prj_1',
    action: 'deploy:production',
    context: {},
    agent: 'github-app',
    status: 'pending',
    reason: null,
    decided_by: null,
    decided_at: null,
    created_at: '2026-11-26T10:00:00.000Z',
    expires_at: '2026-11-26T11:00:00.000Z',
    idempotency_key: null,
    requested_by: 'github:acme/web',
    requested_by_key_id: null,
    ...fields,
  }
}

describe('reviewFor', () => {
  it('says nothing while pending, "approved" only for an approval, "rejected" for every other ending', () => {
    expect(reviewFor(approval({}), 'production', URL)).toBeNull()
    expect(reviewFor(approval({ status: 'approved', decided_by: 'ana@example.com', reason: 'ok' }), 'production', URL)).toEqual({
      environment_name: 'production',
      state: 'approved',
      comment: `Approved by ana@example.com in approval-gate: ok\n${URL}`,
    })
    expect(reviewFor(approval({ status: 'rejected', decided_by: 'key:deployer' }), 'prod', URL)).toMatchObject({ state: 'rejected', comment: `Rejected by key:deployer in approval-gate\n${URL}` })
    expect(reviewFor(approval({ status: 'expired', decided_by: 'system' }), 'prod', URL)?.comment).toBe(`Rejected: no decision in approval-gate before the request expired (2026-11-26T11:00:00.000Z)\n${URL}`)
    expect(reviewFor(approval({ status: 'cancelled', decided_by: 'key:ci', reason: 'superseded' }), 'prod', URL)).toMatchObject({ state: 'rejected', comment: `Rejected: the request was withdrawn in approval-gate by key:ci: superseded\n${URL}` })
  })

  it('shortens a long reason (never the link) to stay within 1,024 characters', () => {
    const review = reviewFor(approval({ status: 'approved', decided_by: 'ana@example.com', reason: 'r'.repeat(2000) }), 'production', URL)!
    expect(review.comment).toHaveLength(MAX_REVIEW_COMMENT_CHARS)
    expect(review.comment.endsWith(`…\n${URL}`)).toBe(true)
    const longName = reviewFor(approval({ status: 'rejected', decided_by: 'x'.repeat(1500), reason: 'why' }), 'production', URL)!
    expect(longName.comment.length).toBeLessThanOrEqual(MAX_REVIEW_COMMENT_CHARS)
    expect(longName.comment.endsWith(`\n${URL}`)).toBe(true)
  })
})
