/**
 * Group commit for the SQLite store: write transactions that arrive in the same turn of the
 * event loop run one after another inside one `BEGIN IMMEDIATE … COMMIT` (one fsync), each in
 * its own savepoint, so one failing unit rolls back only itself. Every caller is answered only
 * after the batch's COMMIT returned, so nothing is acknowledged before it is durable.
 *
 * Units run in arrival order and each sees the writes of the units before it (savepoints nest
 * inside the one transaction), so per-project audit chains stay linear exactly as if each unit
 * had been its own transaction. Batching adds no waiting of its own: the batch is flushed on
 * `setImmediate`, after the requests that were read in the same poll phase have queued.
 */
import type { DatabaseSync } from 'node:sqlite'

/** Most units in one transaction: bounds how long one batch holds the write lock. */
export const DEFAULT_MAX_BATCH = 256

interface Unit {
  work: () => unknown
  fail: (error: unknown) => unknown
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown }

/** Runs `work` in its own write transaction that takes the lock first (no upgrade deadlocks). */
export function writeTransaction<T>(db: DatabaseSync, work: () => T): T {
  db.exec('BEGIN IMMEDIATE')
  try {
    const result = work()
    db.exec('COMMIT')
    return result
  } catch (error) {
    // SQLite may already have rolled it back itself.
    if (db.isTransaction) db.exec('ROLLBACK')
    throw error
  }
}

export class GroupCommit {
  private readonly db: DatabaseSync
  private readonly maxBatch: number
  private queue: Unit[] = []
  private scheduled = false

  constructor(db: DatabaseSync, maxBatch = DEFAULT_MAX_BATCH) {
    if (!Number.isInteger(maxBatch) || maxBatch < 1) throw new Error(`group commit batch size must be a positive integer, got ${maxBatch}`)
    this.db = db
    this.maxBatch = maxBatch
  }

  /**
   * Queues `work` (synchronous SQL, no awaiting inside) to run in the next batch; resolves with
   * its result once the batch is committed. `fail` turns a unit's error into what its caller sees.
   */
  run<T>(work: () => T, fail: (error: unknown) => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      this.queue.push({ work, fail, resolve: resolve as (value: unknown) => void, reject })
      if (!this.scheduled) {
        this.scheduled = true
        setImmediate(() => this.flush())
      }
    })
  }

  /** Commits everything queued now (also called before the database closes). */
  flush(): void {
    this.scheduled = false
    while (this.queue.length > 0) this.commitBatch(this.queue.splice(0, this.maxBatch))
  }

  private commitBatch(batch: Unit[]): void {
    if (batch.length === 1) return this.commitAlone(batch[0])
    try {
      this.db.exec('BEGIN IMMEDIATE')
    } catch (error) {
      for (const unit of batch) unit.reject(unit.fail(error))
      return
    }
    const outcomes: Outcome[] = []
    for (const [i, unit] of batch.entries()) {
      const outcome = this.runInSavepoint(unit)
      outcomes.push(outcome)
      if (!outcome.ok && !this.db.isTransaction) {
        // SQLite rolled the whole transaction back (disk full, I/O error): the units before
        // this one are lost with it and are answered with its error; the rest retry in a new batch.
        for (const [j, done] of batch.slice(0, i + 1).entries()) done.reject(outcomes[j].ok ? done.fail(outcome.error) : (outcomes[j] as { error: unknown }).error)
        this.queue.unshift(...batch.slice(i + 1))
        return
      }
    }
    try {
      this.db.exec('COMMIT')
    } catch (error) {
      if (this.db.isTransaction) this.db.exec('ROLLBACK')
      for (const [i, unit] of batch.entries()) {
        const outcome = outcomes[i]
        unit.reject(outcome.ok ? unit.fail(error) : outcome.error)
      }
      return
    }
    for (const [i, unit] of batch.entries()) {
      const outcome = outcomes[i]
      if (outcome.ok) unit.resolve(outcome.value)
      else unit.reject(outcome.error)
    }
  }

  /** Runs one unit inside a savepoint, so its failure undoes only its own writes. */
  private runInSavepoint(unit: Unit): Outcome {
    this.db.exec('SAVEPOINT unit')
    try {
      const value = unit.work()
      this.db.exec('RELEASE unit')
      return { ok: true, value }
    } catch (error) {
      if (this.db.isTransaction) {
        this.db.exec('ROLLBACK TO unit')
        this.db.exec('RELEASE unit')
      }
      return { ok: false, error: unit.fail(error) }
    }
  }

  /** A unit alone in its batch: a plain transaction, no savepoint to pay for. */
  private commitAlone(unit: Unit): void {
    let value: unknown
    try {
      value = writeTransaction(this.db, unit.work)
    } catch (error) {
      unit.reject(unit.fail(error))
      return
    }
    unit.resolve(value)
  }
}
