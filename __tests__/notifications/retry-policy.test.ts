import { describe, expect, it } from '@jest/globals'
import { DEFAULT_RETRY_POLICY, pastRetryWindow, retryDelayMs } from '../../src/server/notifications/retry-policy.js'

describe('retry policy', () => {
  it('doubles from the base up to the cap, each wait between half and all of it', () => {
    const policy = { baseDelayMs: 1_000, maxDelayMs: 60_000, giveUpAfterMs: 3_600_000 }
    const ceilings = [1_000, 2_000, 4_000, 8_000, 16_000, 32_000, 60_000, 60_000]
    ceilings.forEach((ceiling, i) => {
      expect(retryDelayMs(policy, i + 1, () => 0)).toBe(ceiling / 2)
      expect(retryDelayMs(policy, i + 1, () => 1)).toBe(ceiling)
    })
    expect(retryDelayMs(policy, 10_000, () => 0.5)).toBe(45_000) // no overflow after many attempts
  })

  it('keeps trying for at least a day by default', () => {
    const created = '2026-11-26T00:00:00.000Z'
    const start = Date.parse(created)
    expect(pastRetryWindow(DEFAULT_RETRY_POLICY, created, start + 24 * 3_600_000)).toBe(false)
    expect(pastRetryWindow(DEFAULT_RETRY_POLICY, created, start + 25 * 3_600_000)).toBe(true)
    // The sum of the shortest waits over a day's attempts still spans the day: attempts go on until the window ends.
    let elapsed = 0
    let attempts = 0
    while (elapsed < 24 * 3_600_000) elapsed += retryDelayMs(DEFAULT_RETRY_POLICY, ++attempts, () => 0)
    expect(attempts).toBeGreaterThan(40)
  })
})
