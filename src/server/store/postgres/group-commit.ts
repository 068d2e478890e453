/**
 * Group commit for the PostgreSQL store. Writes are queued by lane (the project whose audit
 * chain they append to); while one batch of a lane is in flight the next one gathers, and then
 * runs every queued unit in one transaction — one chain-head lock, one commit, one WAL flush —
 * each unit in its own savepoint so a failing unit undoes only itself. Every caller is answered
 * after its batch's COMMIT returned, so nothing is acknowledged before it is durable.
 *
 * The batch locks its lane first (`beginBatch`), before any unit touches a row: two replicas'
 * batches of one project then queue on that lock instead of deadlocking on each other's rows.
 * Units run in arrival order and see the earlier units' writes, so the chain stays linear.
 */
import type pg from 'pg'

/**
 * Most units in one transaction: bounds how long one batch holds the project's chain lock, and
 * stays within the 64 subtransaction ids PostgreSQL caches per backend (each unit's savepoint
 * writes, so it takes one; beyond the cache every other session's snapshot checks pg_subtrans).
 */
export const DEFAULT_MAX_BATCH = 64

/** Deadlocks and serialisation failures are retried this many times before giving up. */
export const TRANSACTION_ATTEMPTS = 3

export function isRetryable(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  return code === '40001' || code === '40P01' // serialization_failure, deadlock_detected
}

interface Unit {
  work: (client: pg.PoolClient) => Promise<unknown>
  fail: (error: unknown) => unknown
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  attempts: number
}

interface Lane {
  queue: Unit[]
  running: boolean
  /** Resolves when the lane's queue has drained. */
  drained: Promise<void>
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown; retry: boolean }

export interface PgGroupCommitOptions {
  pool: pg.Pool
  /** Runs first in each batch's transaction: takes the lane's lock (the project's chain head). */
  beginBatch: (client: pg.PoolClient, lane: string) => Promise<void>
  /** Runs when the batch's transaction has ended, committed or not, before the connection goes back. */
  endBatch: (client: pg.PoolClient) => void
  maxBatch?: number
}

export class PgGroupCommit {
  private readonly pool: pg.Pool
  private readonly beginBatch: (client: pg.PoolClient, lane: string) => Promise<void>
  private readonly endBatch: (client: pg.PoolClient) => void
  private readonly maxBatch: number
  private readonly lanes = new Map<string, Lane>()

  constructor(options: PgGroupCommitOptions) {
    this.pool = options.pool
    this.beginBatch = options.beginBatch
    this.endBatch = options.endBatch
    this.maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH
  }

  /** Queues `work` in `lane`'s next batch; resolves with its result once that batch committed. */
  run<T>(lane: string, work: (client: pg.PoolClient) => Promise<T>, fail: (error: unknown) => unknown): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let state = this.lanes.get(lane)
      if (!state) {
        state = { queue: [], running: false, drained: Promise.resolve() }
        this.lanes.set(lane, state)
      }
      state.queue.push({ work, fail, resolve: resolve as (value: unknown) => void, reject, attempts: 0 })
      if (!state.running) {
        state.running = true
        const running = state
        // Let the requests read in this poll phase queue too before the batch starts.
        running.drained = new Promise((done) => setImmediate(() => void this.drain(lane, running).then(done)))
      }
    })
  }

  /** Resolves once every queued write has been committed or failed (before the pool closes). */
  async settled(): Promise<void> {
    while (this.lanes.size > 0) await Promise.all([...this.lanes.values()].map((lane) => lane.drained))
  }

  /** Commits batch after batch until the lane's queue is empty. */
  private async drain(lane: string, state: Lane): Promise<void> {
    while (state.queue.length > 0) await this.commitBatch(lane, state, state.queue.splice(0, this.maxBatch))
    state.running = false
    this.lanes.delete(lane)
  }

  private async commitBatch(lane: string, state: Lane, batch: Unit[]): Promise<void> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (error) {
      for (const unit of batch) unit.reject(unit.fail(error))
      return
    }
    const outcomes: Outcome[] = []
    try {
      await client.query('BEGIN')
      await this.beginBatch(client, lane)
      const shared = batch.length > 1
      let savepointOpen = false
      for (const unit of batch) {
        if (shared) {
          // The previous unit's RELEASE travels with this unit's SAVEPOINT: one round trip per unit.
          await client.query(savepointOpen ? 'RELEASE SAVEPOINT unit; SAVEPOINT unit' : 'SAVEPOINT unit')
          savepointOpen = true
        }
        const outcome = await this.runUnit(client, unit, shared)
        if (!outcome.ok) savepointOpen = false
        outcomes.push(outcome)
      }
      await client.query('COMMIT')
    } catch (error) {
      // The batch as a whole failed (connection lost, commit refused): nothing of it is stored.
      await client.query('ROLLBACK').catch(() => {})
      this.endBatch(client)
      client.release()
      const retry = isRetryable(error)
      for (const unit of batch) this.settleFailed(state, unit, error, retry)
      return
    }
    this.endBatch(client)
    client.release()
    for (const [i, unit] of batch.entries()) {
      const outcome = outcomes[i]
      if (outcome.ok) unit.resolve(outcome.value)
      else this.settleFailed(state, unit, outcome.error, outcome.retry)
    }
  }

  /** A retryable failure goes to the lane's next batch (a fresh lock, fresh snapshot); others reach the caller. */
  private settleFailed(state: Lane, unit: Unit, error: unknown, retry: boolean): void {
    unit.attempts++
    if (retry && unit.attempts < TRANSACTION_ATTEMPTS) state.queue.push(unit)
    else unit.reject(unit.fail(error))
  }

  /**
   * Runs one unit; shared, it runs inside the savepoint just opened, and a failure rolls back
   * to it (and releases it), undoing only this unit's writes. Alone in its batch there is no
   * savepoint: a failure aborts the transaction and the batch rolls back.
   */
  private async runUnit(client: pg.PoolClient, unit: Unit, shared: boolean): Promise<Outcome> {
    if (!shared) return { ok: true, value: await unit.work(client) }
    try {
      return { ok: true, value: await unit.work(client) }
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT unit; RELEASE SAVEPOINT unit')
      return { ok: false, error, retry: isRetryable(error) }
    }
  }
}
