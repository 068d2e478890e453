/**
 * In-memory limits on sign-in. `LoginLimiter` counts failures per key: per client address +
 * email, so one person guessing one account is slowed without locking that account out for
 * everyone else, and per client address alone (email ''), so a flood of distinct emails or a
 * password spray from one address is stopped before any password is hashed. `HashGate`
 * bounds the password hashes running at once.
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

/**
 * A bound on password hashes (scrypt) running at once, for sign-ins and new passwords alike.
 * A sign-in that finds every slot taken is answered `429` with `Retry-After` instead of
 * queueing, so a flood cannot make real sign-ins wait behind it.
 */
export class HashGate {
  private running = 0

  constructor(readonly maxConcurrent = 4) {}

  /** Takes a slot, or returns false when all are in use. */
  tryAcquire(): boolean {
    if (this.running >= this.maxConcurrent) return false
    this.running++
    return true
  }

  release(): void {
    if (this.running > 0) this.running--
  }

  /** Runs `work` in a slot; `null` (without running it) when none is free. */
  async run<T>(work: () => Promise<T>): Promise<{ value: T } | null> {
    if (!this.tryAcquire()) return null
    try {
      return { value: await work() }
    } finally {
      this.release()
    }
  }
}

/** The sign-in limits of a dashboard (all optional in `DashboardOptions`). */
export interface SignInLimits {
  /** Failed sign-ins one client address may make per window, whatever the emails (checked before any hashing). */
  ipMaxFailures: number
  ipWindowMs: number
  /** Failed sign-ins per client address + email per window. */
  accountMaxFailures: number
  accountWindowMs: number
  /** Password hashes running at once; more sign-ins get 429. */
  maxConcurrentHashes: number
}

export const DEFAULT_SIGN_IN_LIMITS: SignInLimits = {
  ipMaxFailures: 30,
  ipWindowMs: 15 * 60_000,
  accountMaxFailures: 5,
  accountWindowMs: 15 * 60_000,
  maxConcurrentHashes: 4,
}
