/**
 * In-memory limiter for failed sign-ins, keyed by client address + email, so one person
 * guessing one account is slowed without locking that account out for everyone else.
 */
export interface LoginLimiterOptions {
  /** Failed attempts allowed per window. */
  maxFailures: number
  windowMs: number
  /** Cap on tracked keys, so a flood of distinct emails cannot grow memory without bound. */
  maxKeys: number
}

interface Entry {
  failures: number
  windowStart: number
}

export class LoginLimiter {
  private readonly entries = new Map<string, Entry>()

  constructor(private readonly options: LoginLimiterOptions = { maxFailures: 5, windowMs: 15 * 60_000, maxKeys: 10_000 }) {}

  private key(ip: string, email: string): string {
    return `${ip}\n${email.trim().toLowerCase()}`
  }

  /** Milliseconds until another attempt is allowed, or 0 when the attempt may go ahead. */
  retryAfterMs(ip: string, email: string, now = Date.now()): number {
    const entry = this.entries.get(this.key(ip, email))
    if (!entry) return 0
    const windowEnd = entry.windowStart + this.options.windowMs
    if (now >= windowEnd) return 0
    return entry.failures >= this.options.maxFailures ? windowEnd - now : 0
  }

  recordFailure(ip: string, email: string, now = Date.now()): void {
    const key = this.key(ip, email)
    const entry = this.entries.get(key)
    if (entry && now < entry.windowStart + this.options.windowMs) {
      entry.failures++
      return
    }
    if (this.entries.size >= this.options.maxKeys) this.evictExpired(now)
    if (this.entries.size >= this.options.maxKeys) {
      // Still full: drop the oldest key (Map keeps insertion order).
      const oldest = this.entries.keys().next().value
      if (oldest !== undefined) this.entries.delete(oldest)
    }
    this.entries.set(key, { failures: 1, windowStart: now })
  }

  recordSuccess(ip: string, email: string): void {
    this.entries.delete(this.key(ip, email))
  }

  private evictExpired(now: number): void {
    for (const [key, entry] of this.entries) {
      if (now >= entry.windowStart + this.options.windowMs) this.entries.delete(key)
    }
  }
}
