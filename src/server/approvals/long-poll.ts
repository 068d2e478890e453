/**
 * Long-poll waiters (`GET /v1/approvals/{id}?wait=N`), held in memory: each is one notifier
 * subscription plus one entry in a deadline queue, both dropped the moment it ends — on a
 * change, at the deadline, when the client goes away, or at shutdown. Nothing polls the
 * database, so tens of thousands of waiting requests cost memory and sockets, not CPU.
 *
 * Memory per waiter is what limits how many one process holds (docs/benchmarks.md), so a
 * waiter is one object with one bound listener, not a set of closures or promises (it tells
 * one listener object how it ended), and waits of the same length share one timer: their
 * deadlines come in the order they started.
 */
import type { ApprovalEvent, Notifier } from './contracts.js'

/** Why a wait ended. `changed` carries the event that ended it. */
export type WaitEnd = { why: 'changed'; event: ApprovalEvent } | { why: 'timeout' | 'gone' | 'shutdown' }

/** Something that emits `close` when the client goes away (the raw HTTP response). */
export interface ClosableConnection {
  on(event: 'close', listener: () => void): unknown
  off(event: 'close', listener: () => void): unknown
}

/** Told once how a wait ended. An object, not a closure: a held request keeps what it needs in it. */
export interface WaitEndListener {
  waitEnded(end: WaitEnd): void
}

export interface Wait {
  /** Tells `listener` how the wait ends (at once if it already has); one listener per wait. */
  whenEnded(listener: WaitEndListener): void
  /** The same as a promise, made on first use. */
  readonly ended: Promise<WaitEnd>
  /** Ends the wait early (the record turned out to be decided already). */
  cancel(): void
}

const SHUTDOWN: WaitEnd = { why: 'shutdown' }
const ENDED_BY_SHUTDOWN: Wait = {
  whenEnded: (listener) => listener.waitEnded(SHUTDOWN),
  get ended() {
    return Promise.resolve(SHUTDOWN)
  },
  cancel: () => {},
}

export class LongPolls {
  /** Waiting requests by wait length in ms; each Set is in start order, so also in deadline order. */
  private readonly byLength = new Map<number, DeadlineQueue>()
  private count = 0
  private shuttingDown = false

  constructor(private readonly notifier: Notifier) {}

  /**
   * Starts waiting for a change of `approvalId` for at most `ms`. Subscribe *before* reading
   * the record, so a decision landing between the read and the wait is not missed.
   */
  begin(approvalId: string, ms: number, connection: ClosableConnection): Wait {
    if (this.shuttingDown) return ENDED_BY_SHUTDOWN
    let queue = this.byLength.get(ms)
    if (!queue) {
      queue = new DeadlineQueue(ms, () => this.byLength.delete(ms))
      this.byLength.set(ms, queue)
    }
    const waiter = new Waiter(this, queue, connection)
    waiter.unsubscribe = this.notifier.onApproval(approvalId, waiter.signal)
    connection.on('close', waiter.signal)
    queue.add(waiter)
    this.count++
    return waiter
  }

  /** Number of requests waiting right now. */
  get size(): number {
    return this.count
  }

  /** Shutdown: ends every wait (each answers with its current record) and refuses new ones. */
  releaseAll(): void {
    this.shuttingDown = true
    for (const queue of [...this.byLength.values()]) queue.endAll({ why: 'shutdown' })
  }

  /** Called once by each waiter as it ends. */
  forget(): void {
    this.count--
  }
}

/** `Wait.ended` of the waits asked for it: kept beside them, so the others carry no promise. */
const endedPromises = new WeakMap<Waiter, Promise<WaitEnd>>()

/** One waiting request: its deadline, who to tell when it ends, and what to undo then. */
class Waiter implements Wait {
  readonly deadline: number
  /** The notifier's and the connection's listener: an event wakes it, no argument means the client went away. */
  readonly signal: (event?: ApprovalEvent) => void
  unsubscribe: () => void = noop
  private listener: WaitEndListener | null = null
  /** How it ended; `null` while it waits. */
  private outcome: WaitEnd | null = null

  constructor(
    private readonly polls: LongPolls,
    private readonly queue: DeadlineQueue,
    private readonly connection: ClosableConnection,
  ) {
    this.deadline = performance.now() + queue.ms
    this.signal = this.onSignal.bind(this)
  }

  whenEnded(listener: WaitEndListener): void {
    if (this.outcome) return listener.waitEnded(this.outcome)
    if (this.listener) throw new Error('a wait tells one listener how it ended')
    this.listener = listener
  }

  get ended(): Promise<WaitEnd> {
    let ended = endedPromises.get(this)
    if (!ended) {
      ended = new Promise((resolve) => this.whenEnded({ waitEnded: resolve }))
      endedPromises.set(this, ended)
    }
    return ended
  }

  cancel(): void {
    this.end({ why: 'gone' })
  }

  end(end: WaitEnd): void {
    if (this.outcome) return
    this.outcome = end
    this.unsubscribe()
    this.connection.off('close', this.signal)
    this.queue.remove(this)
    this.polls.forget()
    const listener = this.listener
    this.listener = null
    listener?.waitEnded(end)
  }

  private onSignal(event?: ApprovalEvent): void {
    if (!event) this.end({ why: 'gone' })
    // A counted vote leaves it pending: the waiter wants the decision, not each vote.
    else if (event.type !== 'voted') this.end({ why: 'changed', event })
  }
}

/**
 * The waiters of one wait length, oldest first, and one timer armed for the oldest deadline.
 * Same-length waits end in the order they began, so the head is always the next one due.
 */
class DeadlineQueue {
  private readonly waiters = new Set<Waiter>()
  private timer: NodeJS.Timeout | null = null

  constructor(
    readonly ms: number,
    private readonly onEmpty: () => void,
  ) {}

  add(waiter: Waiter): void {
    this.waiters.add(waiter)
    if (!this.timer) this.arm(waiter.deadline)
  }

  remove(waiter: Waiter): void {
    this.waiters.delete(waiter)
    if (this.waiters.size > 0) return
    // The timer stays armed for an earlier head otherwise: it re-arms for the new head when it fires.
    if (this.timer) clearTimeout(this.timer)
    this.timer = null
    this.onEmpty()
  }

  endAll(end: WaitEnd): void {
    for (const waiter of [...this.waiters]) waiter.end(end)
  }

  private arm(deadline: number): void {
    // Never early: a timer may fire a fraction of a millisecond before performance.now() reaches the deadline.
    this.timer = setTimeout(() => this.expire(), Math.max(1, Math.ceil(deadline - performance.now())))
  }

  private expire(): void {
    this.timer = null
    const now = performance.now()
    for (const waiter of this.waiters) {
      if (waiter.deadline > now) return this.arm(waiter.deadline)
      // Ending removes it from the Set; iteration of a JavaScript Set survives that.
      waiter.end({ why: 'timeout' })
    }
  }
}

function noop(): void {}
