/**
 * Expires pending approvals at their `expires_at` with a single timer, armed at the earliest
 * deadline and re-armed when an earlier one is created. Never one timer per approval. It
 * writes nothing itself: each sweep is the approval service's `expireDue` (bounded batches),
 * and every few minutes its `pruneExpired` (idempotency keys past 24 h).
 */
import type { ApprovalService } from './contracts.js'

/**
 * Longest single sleep. Node timers overflow above ~24.8 days, and a periodic look also
 * picks up deadlines written by another process (a second replica) sharing the database.
 */
const MAX_SLEEP_MS = 60_000
/**
 * Pause before looking again at a deadline that is still due right after a sweep: on
 * PostgreSQL its row is locked (another replica expiring it, or a decision in flight) and
 * was skipped, so sweeping again at once would spin until that lock is released.
 */
const LOCKED_RETRY_MS = 100
/** Spacing of housekeeping (`pruneExpired`); sweeps run at least every `MAX_SLEEP_MS`. */
const PRUNE_INTERVAL_MS = 10 * 60_000

export interface ExpiryTimerOptions {
  /** Called when a sweep fails (the timer retries on its next wake-up). */
  onError?: (error: unknown) => void
}

export class ExpiryTimer {
  private timer: NodeJS.Timeout | null = null
  /** When the armed timer fires (epoch ms). */
  private armedFor = Infinity
  private sweeping: Promise<void> | null = null
  private stopped = false
  private lastPrune = -Infinity

  constructor(
    private readonly approvals: Pick<ApprovalService, 'expireDue' | 'nextExpiry' | 'pruneExpired'>,
    private readonly options: ExpiryTimerOptions = {},
  ) {}

  /** Expires whatever is already due and arms the timer. */
  async start(): Promise<void> {
    await this.sweep()
  }

  /** A new deadline exists: fire earlier if it is before the armed one. */
  consider(expiresAt: string): void {
    const at = Date.parse(expiresAt)
    if (!this.stopped && Number.isFinite(at) && at < this.armedFor) this.arm(at)
  }

  /** Stops the timer and waits for a running sweep to finish (before the store closes). */
  async stop(): Promise<void> {
    this.stopped = true
    this.clear()
    await this.sweeping
  }

  /** Runs one sweep now; concurrent calls share it. */
  sweep(): Promise<void> {
    this.sweeping ??= this.runSweep().finally(() => {
      this.sweeping = null
    })
    return this.sweeping
  }

  private async runSweep(): Promise<void> {
    let next: string | null = null
    try {
      await this.approvals.expireDue()
      if (Date.now() - this.lastPrune >= PRUNE_INTERVAL_MS) {
        this.lastPrune = Date.now()
        await this.approvals.pruneExpired()
      }
      next = await this.approvals.nextExpiry()
    } catch (error) {
      this.options.onError?.(error)
    }
    if (this.stopped) return
    // `consider()` may have armed an earlier deadline while this sweep ran: keep the earlier one.
    const at = next === null ? Infinity : Math.max(Date.parse(next), Date.now() + LOCKED_RETRY_MS)
    if (this.timer === null || at < this.armedFor) this.arm(at)
  }

  private arm(at: number): void {
    this.clear()
    const delay = Math.min(MAX_SLEEP_MS, Math.max(0, at - Date.now()))
    this.armedFor = Date.now() + delay
    this.timer = setTimeout(() => {
      this.timer = null
      this.armedFor = Infinity
      void this.sweep()
    }, delay)
    // The HTTP server keeps the process alive; this timer alone should not.
    this.timer.unref()
  }

  private clear(): void {
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.armedFor = Infinity
  }
}
