/**
 * Long-poll waiters (`GET /v1/approvals/{id}?wait=N`), held in memory: each is one notifier
 * subscription plus one timer, both dropped the moment it ends — on a change, at the deadline,
 * when the client goes away, or at shutdown. Nothing polls the database, so ten thousand
 * waiting requests cost memory and sockets, not CPU.
 */
import type { ApprovalEvent, Notifier } from './contracts.js'

/** Why a wait ended. `changed` carries the event that ended it. */
export type WaitEnd = { why: 'changed'; event: ApprovalEvent } | { why: 'timeout' | 'gone' | 'shutdown' }

/** Something that emits `close` when the client goes away (the raw HTTP response). */
export interface ClosableConnection {
  once(event: 'close', listener: () => void): unknown
  off(event: 'close', listener: () => void): unknown
}

export interface Wait {
  readonly ended: Promise<WaitEnd>
  /** Ends the wait early (the record turned out to be decided already). */
  cancel(): void
}

export class LongPolls {
  private readonly active = new Set<(end: WaitEnd) => void>()
  private shuttingDown = false

  constructor(private readonly notifier: Notifier) {}

  /**
   * Starts waiting for a change of `approvalId` for at most `ms`. Subscribe *before* reading
   * the record, so a decision landing between the read and the wait is not missed.
   */
  begin(approvalId: string, ms: number, connection: ClosableConnection): Wait {
    if (this.shuttingDown) return { ended: Promise.resolve({ why: 'shutdown' }), cancel: () => {} }
    let finish!: (end: WaitEnd) => void
    const ended = new Promise<WaitEnd>((resolve) => {
      let done = false
      const onClose = () => finish({ why: 'gone' })
      const timer = setTimeout(() => finish({ why: 'timeout' }), ms)
      // A counted vote leaves it pending: the waiter wants the decision, not each vote.
      const unsubscribe = this.notifier.onApproval(approvalId, (event) => {
        if (event.type !== 'voted') finish({ why: 'changed', event })
      })
      finish = (end) => {
        if (done) return
        done = true
        clearTimeout(timer)
        unsubscribe()
        connection.off('close', onClose)
        this.active.delete(finish)
        resolve(end)
      }
      connection.once('close', onClose)
      this.active.add(finish)
    })
    return { ended, cancel: () => finish({ why: 'gone' }) }
  }

  /** Number of requests waiting right now. */
  get size(): number {
    return this.active.size
  }

  /** Shutdown: ends every wait (each answers with its current record) and refuses new ones. */
  releaseAll(): void {
    this.shuttingDown = true
    for (const finish of [...this.active]) finish({ why: 'shutdown' })
  }
}
