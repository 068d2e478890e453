/**
 * When a failed delivery is tried again, and when it is given up: exponential backoff with
 * full jitter (so receivers coming back are not hit by every replica at once), capped, for at
 * least `giveUpAfterMs` (default 25 hours, so a receiver down for a whole day still gets
 * everything).
 */

export interface RetryPolicy {
  /** First retry after about this long. */
  baseDelayMs: number
  /** Longest wait between attempts. */
  maxDelayMs: number
  /** A delivery this old (since it was queued) that still fails is given up. */
  giveUpAfterMs: number
}

export const DEFAULT_RETRY_POLICY: RetryPolicy = { baseDelayMs: 5_000, maxDelayMs: 60 * 60_000, giveUpAfterMs: 25 * 60 * 60_000 }

/**
 * The delay before the attempt after `attempts` failed ones: half fixed, half random (between
 * d/2 and d for d = base·2^(attempts-1), capped), so retries spread out but never come early.
 */
export function retryDelayMs(policy: RetryPolicy, attempts: number, random: () => number = Math.random): number {
  const exponent = Math.min(Math.max(attempts - 1, 0), 40)
  const ceiling = Math.min(policy.maxDelayMs, policy.baseDelayMs * 2 ** exponent)
  return Math.round(ceiling / 2 + random() * (ceiling / 2))
}

/** Whether a delivery queued at `createdAt` is past its retry window at `now`. */
export function pastRetryWindow(policy: RetryPolicy, createdAt: string, now: number): boolean {
  return now - Date.parse(createdAt) >= policy.giveUpAfterMs
}
