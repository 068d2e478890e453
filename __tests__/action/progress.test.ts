import { afterEach, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { createProgressReporter, PROGRESS_INTERVAL_MS, type ProgressLog } from '../../src/action/progress.js'
import type { ApprovalRecord } from '../../src/client/index.js'

const RECORD: ApprovalRecord = { id: 'apr_1', status: 'pending' }

describe('createProgressReporter', () => {
  let log: { info: jest.Mock<ProgressLog['info']>; notice: jest.Mock<ProgressLog['notice']>; warning: jest.Mock<ProgressLog['warning']> }
  beforeEach(() => {
    jest.useFakeTimers({ now: 0 })
    log = { info: jest.fn(), notice: jest.fn(), warning: jest.fn() }
  })
  afterEach(() => {
    jest.useRealTimers()
  })

  const reporter = () => createProgressReporter({ action: 'deploy', timeoutMs: 3_600_000, log, now: Date.now })

  it('posts one notice with the dashboard link, even if the create is reported twice', () => {
    const progress = reporter()
    progress.onProgress({ type: 'created', approvalId: 'apr_1', url: 'https://x.example/a/1', record: RECORD })
    progress.onProgress({ type: 'created', approvalId: 'apr_1', url: 'https://x.example/a/1', record: RECORD })
    expect(log.notice).toHaveBeenCalledTimes(1)
    expect(log.notice).toHaveBeenCalledWith('Waiting for someone to approve "deploy": https://x.example/a/1', { title: 'Approval requested' })
    progress.stop()
  })

  it('names the id when the server gives no link', () => {
    const progress = reporter()
    progress.onProgress({ type: 'created', approvalId: 'apr_1', record: RECORD })
    expect(log.notice).toHaveBeenCalledWith('Waiting for someone to approve "deploy" (approval id apr_1)', { title: 'Approval requested' })
    progress.stop()
  })

  it('prints a progress line once a minute, however often the core ticks, until stopped', () => {
    const progress = reporter()
    progress.onProgress({ type: 'created', approvalId: 'apr_1', record: RECORD })
    log.info.mockClear()
    for (let second = 1; second <= 150; second++) {
      jest.advanceTimersByTime(1_000)
      progress.onProgress({ type: 'waiting', approvalId: 'apr_1', waitedMs: second * 1_000, remainingMs: 3_600_000 - second * 1_000 })
    }
    expect(log.info.mock.calls.map(([line]) => line)).toEqual([
      'Still waiting for approval apr_1 of "deploy": waited 1m, 59m left.',
      'Still waiting for approval apr_1 of "deploy": waited 2m, 58m left.',
    ])
    progress.stop()
    jest.advanceTimersByTime(10 * PROGRESS_INTERVAL_MS)
    expect(log.info).toHaveBeenCalledTimes(2)
  })

  it('reports retries at most once a minute', () => {
    const progress = reporter()
    for (let attempt = 1; attempt <= 10; attempt++) {
      progress.onProgress({ type: 'retrying', attempt, delayMs: 2_000, error: 'connection refused' })
      jest.advanceTimersByTime(10_000)
    }
    expect(log.warning).toHaveBeenCalledTimes(2)
    expect(log.warning).toHaveBeenCalledWith('The approvals API is not answering normally (connection refused); retrying in 2s (attempt 1).')
  })
})
