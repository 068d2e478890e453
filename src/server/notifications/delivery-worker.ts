/**
 * The delivery worker: turns the audit chain into deliveries and sends them.
 *
 * The audit chain is the outbox. Every approval event is already written durably, in the
 * transaction of the change it announces, in per-project order; the worker only reads it
 * (`materializeDeliveries`: events after each channel's cursor become delivery rows, the cursor
 * moving in the same transaction), so the decision path does no extra work and nothing is lost
 * or doubled across a crash. Then it claims due deliveries (the oldest unfinished one per
 * channel and approval, so events arrive in order), sends each with a per-attempt timeout and
 * at most `concurrency` at once, and records the outcome: delivered, a retry time (exponential
 * backoff with jitter, for at least 25 hours), or given up.
 *
 * It is woken right after this process publishes an approval event, and by a timer (the next
 * retry, and a periodic look for what other processes wrote: a channel added from the CLI,
 * another replica's events, claims of a crashed process whose lease lapsed). Sending happens
 * off the request path: a receiver that hangs or fails only delays its own deliveries.
 */
import type { Notifier } from '../approvals/contracts.js'
import { toWire } from '../http/wire.js'
import type { ClaimedDelivery, DeliveryAttempt, Store } from '../store/types.js'
import { DEFAULT_RETRY_POLICY, pastRetryWindow, retryDelayMs, type RetryPolicy } from './retry-policy.js'
import type { SenderRegistry } from './sender-registry.js'
import type { DeliveryResult, NotificationEvent } from './types.js'

export interface DeliveryWorkerOptions {
  senders: SenderRegistry
  /** Base URL of the dashboard, for the approval's link. */
  publicUrl: string
  /** Attempts in flight at once (default 8). */
  concurrency?: number
  /** One attempt is abandoned (and retried) after this long (default 10 s). */
  attemptTimeoutMs?: number
  retry?: RetryPolicy
  /** Longest sleep between looks at the database (default 2 s). */
  pollMs?: number
  /** How often reminders and escalations are looked for (default 15 s). */
  reminderCheckMs?: number
  now?: () => number
  /** Told about failures of the worker itself and of deliveries (one line, no secrets). */
  onError?: (error: unknown, what: string) => void
}

/** Extra time a claim is held beyond the attempt timeout before another worker may take it. */
const LEASE_MARGIN_MS = 5_000

export class DeliveryWorker {
  private readonly concurrency: number
  private readonly attemptTimeoutMs: number
  private readonly retry: RetryPolicy
  private readonly pollMs: number
  private readonly reminderCheckMs: number
  private readonly now: () => number
  private readonly inFlight = new Set<Promise<void>>()
  private readonly stopping = new AbortController()
  private timer: NodeJS.Timeout | null = null
  private running: Promise<void> | null = null
  private again = false
  private lastReminderCheck = -Infinity
  private stopped = false
  private started = false

  constructor(
    private readonly store: Store,
    private readonly options: DeliveryWorkerOptions,
  ) {
    this.concurrency = options.concurrency ?? 8
    this.attemptTimeoutMs = options.attemptTimeoutMs ?? 10_000
    this.retry = options.retry ?? DEFAULT_RETRY_POLICY
    this.pollMs = options.pollMs ?? 2_000
    this.reminderCheckMs = options.reminderCheckMs ?? 15_000
    this.now = options.now ?? Date.now
  }

  /** Starts working (what is already due goes out at once). */
  start(): void {
    if (this.started) return
    this.started = true
    this.wake()
  }

  /** Something may be due now (an approval event was published): look soon, without waiting for the timer. */
  wake(): void {
    if (this.stopped || !this.started) return
    if (this.running) {
      this.again = true
      return
    }
    this.running = this.runRound().finally(() => {
      this.running = null
      if (this.again && !this.stopped) {
        this.again = false
        this.wake()
      }
    })
  }

  /** Stops claiming, abandons attempts in flight (recorded for a retry) and waits for them. */
  async stop(): Promise<void> {
    this.stopped = true
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.stopping.abort()
    await this.running
    await Promise.all([...this.inFlight])
  }

  /** Attempts in flight (tests, health). */
  get busy(): number {
    return this.inFlight.size
  }

  private async runRound(): Promise<void> {
    let next: string | null = null
    try {
      const now = new Date(this.now()).toISOString()
      await this.store.materializeDeliveries(now)
      if (this.now() - this.lastReminderCheck >= this.reminderCheckMs) {
        this.lastReminderCheck = this.now()
        await this.store.enqueueReminders(now)
      }
      const free = this.concurrency - this.inFlight.size
      if (free > 0) {
        const claimed = await this.store.claimDeliveries(now, free, new Date(this.now() + this.attemptTimeoutMs + LEASE_MARGIN_MS).toISOString())
        for (const delivery of claimed) this.track(this.attempt(delivery))
      }
      next = await this.store.nextDeliveryDue()
    } catch (error) {
      if (!this.stopped) this.options.onError?.(error, 'notification delivery round failed')
    }
    this.arm(next)
  }

  private arm(next: string | null): void {
    if (this.stopped) return
    if (this.timer) clearTimeout(this.timer)
    const due = next === null ? Infinity : Date.parse(next) - this.now()
    this.timer = setTimeout(() => {
      this.timer = null
      this.wake()
    }, Math.max(0, Math.min(this.pollMs, due)))
    this.timer.unref()
  }

  private track(attempt: Promise<void>): void {
    this.inFlight.add(attempt)
    void attempt.finally(() => {
      this.inFlight.delete(attempt)
      // A slot is free: claim what waits (including the next event of the same approval).
      this.wake()
    })
  }

  /** One attempt of one delivery, its outcome recorded whatever happens. */
  private async attempt(delivery: ClaimedDelivery): Promise<void> {
    let result: DeliveryResult
    try {
      result = await this.send(delivery)
    } catch (error) {
      result = { ok: false, status_code: null, error: oneLine((error as Error)?.message ?? String(error)), retryable: true, remote_ref: null }
    }
    try {
      await this.store.finishDelivery(delivery.id, this.outcome(delivery, result))
    } catch (error) {
      // The claim lapses and the delivery is retried: at least once, never lost.
      if (!this.stopped) this.options.onError?.(error, `could not record delivery ${delivery.id}`)
    }
    if (!result.ok) this.options.onError?.(new Error(result.error ?? 'failed'), `delivery ${delivery.id} to channel ${delivery.channel_id} failed (attempt ${delivery.attempts})`)
  }

  private async send(delivery: ClaimedDelivery): Promise<DeliveryResult> {
    const [channel, project, approval] = await Promise.all([
      this.store.getChannel(delivery.project_id, delivery.channel_id),
      this.store.getProject(delivery.project_id),
      this.store.getApproval(delivery.project_id, delivery.approval_id),
    ])
    if (!channel || !project || !approval) return { ok: false, status_code: null, error: 'the channel or approval no longer exists', retryable: false, remote_ref: null }
    const sender = this.options.senders.get(channel.kind)
    if (!sender) return { ok: false, status_code: null, error: `this server has no sender for ${channel.kind} channels (is it configured?)`, retryable: true, remote_ref: null }
    const secret = await this.store.getChannelSecret(channel.project_id, channel.id)
    const event: NotificationEvent = {
      delivery_id: delivery.id,
      type: delivery.event_type,
      occurred_at: delivery.occurred_at,
      project: { id: project.id, name: project.name },
      approval: toWire(approval, this.options.publicUrl.replace(/\/+$/, '')),
    }
    const signal = AbortSignal.any([AbortSignal.timeout(this.attemptTimeoutMs), this.stopping.signal])
    // The race bounds the attempt even if a sender ignores its signal.
    return Promise.race([sender.deliver(channel, secret, event, delivery.previous_remote_ref, signal), abandoned(signal, this.attemptTimeoutMs)])
  }

  private outcome(delivery: ClaimedDelivery, result: DeliveryResult): DeliveryAttempt {
    const now = this.now()
    const at = new Date(now).toISOString()
    if (result.ok) return { status: 'delivered', at, response_code: result.status_code, remote_ref: result.remote_ref }
    const error = oneLine(result.error ?? 'failed')
    if (!result.retryable || pastRetryWindow(this.retry, delivery.created_at, now)) return { status: 'failed', at, response_code: result.status_code, error }
    return { status: 'pending', at, response_code: result.status_code, error, next_attempt_at: new Date(now + retryDelayMs(this.retry, delivery.attempts)).toISOString() }
  }
}

/** Resolves with a failed result when `signal` aborts. */
function abandoned(signal: AbortSignal, timeoutMs: number): Promise<DeliveryResult> {
  return new Promise((resolve) => {
    const fail = () => resolve({ ok: false, status_code: null, error: signal.reason?.name === 'TimeoutError' ? `no answer within ${timeoutMs} ms` : 'abandoned: the server is stopping', retryable: true, remote_ref: null })
    if (signal.aborted) fail()
    else signal.addEventListener('abort', fail, { once: true })
  })
}

/** Errors are stored and shown: one line, bounded. */
function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 300)
}

/**
 * A notifier that also wakes the worker after every event this process publishes, so a new
 * request reaches its channels at once; the approval service stays unaware of notifications.
 */
export function wakingNotifier(notifier: Notifier, wake: () => void): Notifier {
  return {
    publish(event) {
      notifier.publish(event)
      wake()
    },
    onApproval: (approvalId, listener) => notifier.onApproval(approvalId, listener),
    onProject: (projectId, listener) => notifier.onProject(projectId, listener),
    close: () => notifier.close(),
  }
}
