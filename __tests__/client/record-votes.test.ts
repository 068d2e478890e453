/**
 * The policy fields of a record — `required_approvals`, `votes`, `policy` — pass through the
 * core when well-formed and are dropped when not; a JamJet record without them still parses.
 * They decide nothing: only `status` does.
 */
import { describe, expect, it } from '@jest/globals'
import { parseRecord } from '../../src/client/record-parsing.js'

describe('record parsing: policy fields', () => {
  it('passes votes, required_approvals and policy through', () => {
    const vote = { by: 'ada@example.com', decision: 'approve', reason: null, at: '2030-01-01T09:00:00.000Z', groups: ['sre'] }
    const record = parseRecord({ id: 'apr_1', status: 'pending', required_approvals: 2, votes: [vote], policy: { version: 3, rule: 'production deploys' } }, 'check')
    expect(record).toEqual({ id: 'apr_1', status: 'pending', required_approvals: 2, votes: [vote], policy: { version: 3, rule: 'production deploys' } })
  })

  it('keeps a JamJet record without them as it is', () => {
    expect(parseRecord({ id: 'apr_1', status: 'approved', reason: 'ok' }, 'check')).toEqual({ id: 'apr_1', status: 'approved', reason: 'ok' })
  })

  it('drops malformed votes and fields instead of trusting them', () => {
    const record = parseRecord(
      {
        id: 'apr_1',
        status: 'pending',
        required_approvals: -1,
        votes: [{ by: 'x', decision: 'maybe', reason: null, at: 't', groups: [] }, 'approve', { by: 'y', decision: 'approve', reason: null, at: 't', groups: [1] }],
        policy: { version: '3', rule: 'r' },
      },
      'check',
    )
    expect(record).toEqual({ id: 'apr_1', status: 'pending', votes: [] })
  })
})
