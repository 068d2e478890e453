/**
 * Answers GitHub for every settled GitHub-originated approval, however it settled (dashboard,
 * API, chat, expiry, withdrawal) — derived from stored state, so no decision path knows about
 * GitHub. Each gate row says whether its callback is done; the worker leases due rows, calls
 * GitHub, and records the outcome: done, failed for good (a final 4xx), or retried with
 * backoff. It is woken by the notifier when a watched approval settles, and by a timer (for
 * retries, for decisions made on another replica, and after a restart), so an answer is never
 * lost: a crash between decision and callback leaves a due row that the next start sends.
 */
import type { Notifier } from '../approvals/contracts.js'
import type { GithubGate, Store } from '../store/types.js'
import { reviewFor } from './callback-review.js'
import type { DeploymentReviewer } from './github-api.js'

export interface GithubCallbackWorkerOptions {
  /** Sweep at least this often (default 10 s). */
  intervalMs?: number
  /** First retry delay, doubled per attempt (default 1 s). */
  retryBaseMs?: number
  /** Longest retry delay (default 5 min). */
  retryMaxMs?: number
  /** How long a leased row is left to the attempt in flight before another sweep may take it (default 30 s). */
  leaseMs?: number
  /** Stop retrying this long after the approval settled (default 24 h); the row is then `failed`. */
  giveUpAfterMs?: number
  /** Told about failed attempts and errors of the worker itself. */
  log?: (level: 'warn' | 'error' | 'info', message: string, fields: Record<string, unknown>) => void
}

/** Gates leased per query. */
const BATCH = 20
/** Waiting gates watched at start (older ones are answered by the timer's sweeps). */
const WATCH_AT_START = 10_000

export class GithubCallbackWorker {
  private readonly intervalMs: number
  private readonly retryBaseMs: number
  private readonly retryMaxMs: number
  private readonly leaseMs: number
  private readonly giveUpAfterMs: number
  private readonly watched = new Map<string, () => void>()
  private timer: NodeJS.Timeout | null = null
  private retryTimer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private again = false
  private stopped = false

  constructor(
    private readonly store: Store,
    private readonly notifier: Notifier,
    private readonly reviewer: DeploymentReviewer,
    private readonly approvalUrl: (approvalId: string) => string,
    private readonly options: GithubCallbackWorkerOptions = {},
  ) {
    this.intervalMs = options.intervalMs ?? 10_000
    this.retryBaseMs = options.retryBaseMs ?? 1000
    this.retryMaxMs = options.retryMaxMs ?? 5 * 60_000
    this.leaseMs = options.leaseMs ?? 30_000
    this.giveUpAfterMs = options.giveUpAfterMs ?? 24 * 3_600_000
  }

  /** Watches the approvals still waiting, then sends whatever is due (e.g. decided while the server was down). */
  async start(): Promise<void> {
    for (const gate of await this.store.listGithubGatesAwaitingDecision(WATCH_AT_START)) this.watch(gate.approval_id)
    this.timer = setInterval(() => this.wake(), this.intervalMs)
    this.timer.unref()
    this.wake()
  }

  /** Sends the callback as soon as this approval settles (called for each new gate). */
  watch(approvalId: string): void {
    if (this.stopped || this.watched.has(approvalId)) return
    const unsubscribe = this.notifier.onApproval(approvalId, (event) => {
      // A counted vote leaves it pending: keep watching for the decision.
      if (event.type === 'created' || event.type === 'voted') return
      this.unwatch(approvalId)
      this.wake()
    })
    this.watched.set(approvalId, unsubscribe)
  }

  /** Runs a sweep now (or once more after the one in progress). */
  wake(): void {
    if (this.stopped) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = this.sweepUntilIdle().finally(() => {
      this.running = null
    })
  }

  /** Stops the timers and waits for the attempt in flight. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearInterval(this.timer)
    if (this.retryTimer) clearTimeout(this.retryTimer)
    for (const approvalId of [...this.watched.keys()]) this.unwatch(approvalId)
    await this.running
  }

  private unwatch(approvalId: string): void {
    this.watched.get(approvalId)?.()
    this.watched.delete(approvalId)
  }

  private async sweepUntilIdle(): Promise<void> {
    do {
      this.again = false
      try {
        await this.sweep()
      } catch (error) {
        this.log('error', 'GitHub callback sweep failed', { err: error })
      }
    } while (this.again && !this.stopped)
  }

  private async sweep(): Promise<void> {
    for (;;) {
      if (this.stopped) return
      const now = Date.now()
      const gates = await this.store.claimGithubCallbacks(new Date(now).toISOString(), new Date(now + this.leaseMs).toISOString(), BATCH)
      for (const gate of gates) await this.answer(gate)
      if (gates.length < BATCH) return
    }
  }

  /** One attempt for one leased gate, and its outcome recorded. */
  private async answer(gate: GithubGate): Promise<void> {
    const approval = await this.store.getApproval(gate.project_id, gate.approval_id)
    const review = approval ? reviewFor(approval, gate.environment, this.approvalUrl(gate.approval_id)) : null
    const at = new Date().toISOString()
    if (!approval || !review) {
      await this.store.recordGithubCallbackAttempt(gate.approval_id, { callback: 'failed', at, error: 'the approval is missing or not settled' })
      return
    }
    // The API reports a settled record only when its audit event proves it; GitHub is told no less.
    const integrity = await this.store.verifyDecision(gate.project_id, approval)
    if (integrity !== null) {
      await this.store.recordGithubCallbackAttempt(gate.approval_id, { callback: 'failed', at, error: `integrity: ${integrity}` })
      this.log('error', 'GitHub not answered: the approval\'s decision is not proven by its audit event (the database was edited?)', { approval_id: gate.approval_id, problem: integrity })
      return
    }
    const result = await this.reviewer.review({ installationId: gate.installation_id, repository: gate.repository, runId: gate.run_id }, review)
    const fields = { approval_id: gate.approval_id, repository: gate.repository, run_id: gate.run_id, state: review.state }
    if (result.ok) {
      await this.store.recordGithubCallbackAttempt(gate.approval_id, { callback: 'done', at, error: null })
      this.log('info', 'answered GitHub deployment protection rule', fields)
      return
    }
    const settledAt = Date.parse(approval.decided_at ?? approval.expires_at)
    if (!result.retryable || Date.now() - settledAt > this.giveUpAfterMs) {
      await this.store.recordGithubCallbackAttempt(gate.approval_id, { callback: 'failed', at, error: result.error })
      this.log('error', 'GitHub refused the deployment protection rule answer; giving up', { ...fields, error: result.error })
      return
    }
    const delay = Math.min(this.retryMaxMs, this.retryBaseMs * 2 ** Math.min(gate.attempts, 30))
    await this.store.recordGithubCallbackAttempt(gate.approval_id, { callback: 'pending', at, next_attempt_at: new Date(Date.now() + delay).toISOString(), error: result.error })
    this.log('warn', 'GitHub deployment protection rule answer failed; will retry', { ...fields, error: result.error, retry_in_ms: delay })
    this.retryIn(delay)
  }

  /** Wakes for a retry sooner than the interval would. */
  private retryIn(delay: number): void {
    if (delay >= this.intervalMs || this.stopped) return
    if (this.retryTimer) clearTimeout(this.retryTimer)
    this.retryTimer = setTimeout(() => this.wake(), delay + 5)
    this.retryTimer.unref()
  }

  private log(level: 'warn' | 'error' | 'info', message: string, fields: Record<string, unknown>): void {
    this.options.log?.(level, message, fields)
  }
}
