/**
 * One reading of a gate row for the dashboard and `github list`: which state its answer to
 * GitHub is in, given the approval's status, and the sentence that says so.
 */
import { describe, expect, it } from '@jest/globals'
import { describeGithubAnswer, githubAnswerStatus } from '../../src/server/github/answer-status.js'
import type { GithubGate } from '../../src/server/store/types.js'

const GATE: GithubGate = {
  approval_id: 'apr_1',
  project_id: 'prj_1',
  delivery_id: 'd-1',
  installation_id: '77',
  repository: 'acme/web',
  environment: 'production',
  run_id: '42',
  callback: 'pending',
  attempts: 0,
  next_attempt_at: '2026-03-01T10:00:00.000Z',
  last_error: null,
  completed_at: null,
  created_at: '2026-03-01T09:00:00.000Z',
}

describe('githubAnswerStatus and describeGithubAnswer', () => {
  it.each<[string, Partial<GithubGate>, 'pending' | 'approved' | 'rejected' | 'expired', string]>([
    ['waiting for the decision', {}, 'pending', 'GitHub waits for this decision'],
    ['decided, not tried yet', {}, 'approved', 'answering GitHub'],
    ['retrying after a failed attempt', { attempts: 2, last_error: 'HTTP 502: Server Error' }, 'rejected', 'answering GitHub: attempt 2 failed: HTTP 502: Server Error, retrying at 2026-03-01T10:00:00.000Z'],
    ['answered', { callback: 'done', attempts: 1, completed_at: '2026-03-01T10:01:00.000Z' }, 'approved', 'GitHub answered at 2026-03-01T10:01:00.000Z'],
    ['given up, with why', { callback: 'failed', attempts: 1, last_error: 'HTTP 422: not waiting' }, 'expired', 'GitHub could not be answered: HTTP 422: not waiting'],
    ['given up, without a recorded error', { callback: 'failed', attempts: 1 }, 'approved', 'GitHub could not be answered'],
  ])('%s', (_what, fields, approvalStatus, sentence) => {
    expect(describeGithubAnswer(githubAnswerStatus({ ...GATE, ...fields }, approvalStatus))).toBe(sentence)
  })

  it('says answered or failed from the row even while the approval reads pending (the row is what GitHub was told)', () => {
    expect(githubAnswerStatus({ ...GATE, callback: 'done', completed_at: '2026-03-01T10:01:00.000Z' }, 'pending')).toEqual({ state: 'answered', at: '2026-03-01T10:01:00.000Z' })
    expect(githubAnswerStatus({ ...GATE, callback: 'failed', last_error: 'x' }, 'pending')).toMatchObject({ state: 'failed', error: 'x' })
  })
})
