/** Backoff and Retry-After parsing. */
import { describe, expect, it } from '@jest/globals'
import { backoffDelay, BACKOFF_CAP_MS, MAX_RETRY_AFTER_MS, parseRetryAfter, retryDelay } from '../../src/client/retry-policy.js'

describe('backoffDelay', () => {
  it('is full jitter under an exponential, capped ceiling', () => {
    expect(backoffDelay(1, () => 0.999_999)).toBeLessThan(250)
    expect(backoffDelay(3, () => 0.999_999)).toBeLessThan(1_000)
    expect(backoffDelay(3, () => 0.999_999)).toBeGreaterThanOrEqual(999)
    expect(backoffDelay(50, () => 0.999_999)).toBeLessThan(BACKOFF_CAP_MS)
    expect(backoffDelay(50, () => 0)).toBe(0)
    for (let attempt = 1; attempt < 40; attempt++) {
      const delay = backoffDelay(attempt)
      expect(delay).toBeGreaterThanOrEqual(0)
      expect(delay).toBeLessThanOrEqual(BACKOFF_CAP_MS)
    }
  })
})

describe('parseRetryAfter', () => {
  const now = Date.parse('2030-01-01T00:00:00Z')
  it('reads delay-seconds', () => {
    expect(parseRetryAfter('120', now)).toBe(120_000)
    expect(parseRetryAfter(' 0 ', now)).toBe(0)
    expect(parseRetryAfter('1.5', now)).toBe(1_500)
    expect(parseRetryAfter(['3', '9'], now)).toBe(3_000)
  })
  it('reads HTTP dates, never negative', () => {
    expect(parseRetryAfter('Tue, 01 Jan 2030 00:00:30 GMT', now)).toBe(30_000)
    expect(parseRetryAfter('Mon, 31 Dec 2029 23:00:00 GMT', now)).toBe(0)
  })
  it('ignores absent or unreadable values', () => {
    expect(parseRetryAfter(undefined, now)).toBeUndefined()
    expect(parseRetryAfter('', now)).toBeUndefined()
    expect(parseRetryAfter('soon', now)).toBeUndefined()
    expect(parseRetryAfter('-5', now)).toBeUndefined()
  })
})

describe('retryDelay', () => {
  it('honours a Retry-After longer than the backoff', () => {
    expect(retryDelay(1, 1_000, () => 0.999_999)).toBe(1_000)
    expect(retryDelay(1, 30_000)).toBe(30_000)
  })
  it('never goes below the backoff, so Retry-After: 0 or a past date cannot make a tight loop', () => {
    expect(retryDelay(3, 0, () => 0.5)).toBe(backoffDelay(3, () => 0.5))
    expect(retryDelay(3, undefined, () => 0.5)).toBe(backoffDelay(3, () => 0.5))
  })
  it('caps an absurd Retry-After, so the wait keeps checking for a decision', () => {
    expect(retryDelay(1, 99_999_999_000)).toBe(MAX_RETRY_AFTER_MS)
    expect(MAX_RETRY_AFTER_MS).toBeLessThanOrEqual(60_000)
  })
})
