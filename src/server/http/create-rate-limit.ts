/**
 * The per-key limit on creating approvals (`serve --create-rate-limit 600/min`): a token bucket
 * per API key, full at `limit` and refilled at `limit` per `windowMs`, so a key may burst up to
 * the limit and then creates at the window's pace. Over it: `429 rate_limited` with
 * `Retry-After`, which the core honours. In memory, per process.
 */

export interface RateLimit {
  /** Creates per window (the bucket's size). */
  limit: number
  windowMs: number
}

/** Generous: ten creates a second per key, sustained, with bursts of 600. */
export const DEFAULT_CREATE_RATE_LIMIT: RateLimit = Object.freeze({ limit: 600, windowMs: 60_000 })

const UNITS: Record<string, number> = { s: 1_000, sec: 1_000, second: 1_000, m: 60_000, min: 60_000, minute: 60_000, h: 3_600_000, hour: 3_600_000 }

/**
 * Parses `N/s`, `N/min` or `N/h` (e.g. `600/min`); `off` or `0` turns the limit off (`null`).
 * @throws Error naming the accepted forms.
 */
export function parseRateLimit(text: string): RateLimit | null {
  const trimmed = text.trim().toLowerCase()
  if (trimmed === 'off' || trimmed === '0') return null
  const match = /^([1-9][0-9]{0,8})\s*\/\s*([a-z]+)$/.exec(trimmed)
  const windowMs = match ? UNITS[match[2]] : undefined
  if (!match || windowMs === undefined) throw new Error(`a rate limit is N/s, N/min or N/h (such as 600/min), or off; got ${JSON.stringify(text)}`)
  return { limit: Number(match[1]), windowMs }
}

interface Bucket {
  tokens: number
  at: number
}

/** Most buckets kept; past it, full (idle) buckets are dropped — a full bucket is the default. */
const MAX_BUCKETS = 10_000

export class KeyRateLimiter {
  private readonly buckets = new Map<string, Bucket>()
  private readonly perMs: number

  constructor(private readonly rate: RateLimit) {
    this.perMs = rate.limit / rate.windowMs
  }

  /** Takes one token for `key`: `0` when allowed, else the milliseconds until one is free. */
  take(key: string, now = Date.now()): number {
    const bucket = this.refilled(key, now)
    if (bucket.tokens >= 1) {
      bucket.tokens -= 1
      return 0
    }
    return Math.ceil((1 - bucket.tokens) / this.perMs)
  }

  private refilled(key: string, now: number): Bucket {
    let bucket = this.buckets.get(key)
    if (!bucket) {
      if (this.buckets.size >= MAX_BUCKETS) this.dropFull(now)
      bucket = { tokens: this.rate.limit, at: now }
      this.buckets.set(key, bucket)
      return bucket
    }
    bucket.tokens = Math.min(this.rate.limit, bucket.tokens + Math.max(0, now - bucket.at) * this.perMs)
    bucket.at = now
    return bucket
  }

  private dropFull(now: number): void {
    for (const [key, bucket] of this.buckets) {
      if (bucket.tokens + (now - bucket.at) * this.perMs >= this.rate.limit) this.buckets.delete(key)
    }
  }
}
