/**
 * Group commit for the PostgreSQL store. Writes are queued by lane (the project whose audit
 * chain they append to); while one batch of a lane is in flight the next one gathers, and then
 * runs every queued unit in one transaction — one chain-head lock, one commit, one WAL flush —
 * each unit in its own savepoint so a failing unit undoes only itself. Every caller is answered
 * after its batch's COMMIT returned, so nothing is acknowledged before it is durable.
 *
 * The batch locks its lane first (`begin`), before any unit touches a row: two replicas'
 * batches of one project then queue on that lock instead of deadlocking on each other's rows.
 * Units run in arrival order and see the earlier units' writes, so the chain stays linear.
 *
 * Units queued with a bulk item (votes) skip the savepoint-per-unit path: a batch of bulk units
 * only goes to `commitBulk`, which runs the whole transaction in a constant number of round trips
 * (BEGIN, lock and read in one; the writes and COMMIT in another); in a mixed batch each run of
 * consecutive bulk units goes to `runBulk` at once. Either planning them in memory and writing
 * them together. If the bulk write fails before anything was committed, the transaction is rolled
 * back and the batch runs again unit by unit: no unit was answered yet, so nothing is lost or doubled.
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

/**
 * Whether `error` is a statement the server refused (it has a SQLSTATE) rather than a lost
 * connection or a failing server: of a string ending in COMMIT, the statements after a refused
 * one, COMMIT with them, never ran, so the transaction is known not to be committed.
 */
export function refusedBeforeCommit(error: unknown): boolean {
  const code = (error as { code?: unknown }).code
  // 08 connection exception, 57 operator intervention (shutdown), 58 system error, XX internal error.
  return typeof code === 'string' && /^[0-9A-Z]{5}$/.test(code) && !/^(08|57|58|XX)/.test(code)
}

interface Unit<B> {
  work: (client: pg.PoolClient) => Promise<unknown>
  /** Set for a unit `runBulk` can run together with its neighbours. */
  bulk: B | undefined
  fail: (error: unknown) => unknown
  resolve: (value: unknown) => void
  reject: (error: unknown) => void
  attempts: number
}

interface Lane<B> {
  queue: Unit<B>[]
  running: boolean
  /** Resolves when the lane's queue has drained. */
  drained: Promise<void>
}

type Outcome = { ok: true; value: unknown } | { ok: false; error: unknown; retry: boolean }

/** What `runBulk` answers for one bulk unit: its result, or the error that unit alone fails with (it wrote nothing). */
export type BulkOutcome = { ok: true; value: unknown } | { ok: false; error: unknown }

/** A bulk write that failed with nothing committed: the batch is rolled back and run again unit by unit. */
export class BulkNotCommitted extends Error {}

export interface PgGroupCommitOptions<B> {
  pool: pg.Pool
  /** Opens each batch's transaction and takes the lane's lock (the project's chain head). */
  begin: (client: pg.PoolClient, lane: string) => Promise<void>
  /** Runs when the batch's transaction has ended, committed or not, before the connection goes back. */
  endBatch: (client: pg.PoolClient) => void
  /**
   * Runs consecutive bulk units of a batch together, in arrival order: one outcome per item, in
   * order. Throws (after any write) to have the batch rolled back and run again unit by unit.
   */
  runBulk?: (client: pg.PoolClient, lane: string, items: B[]) => Promise<BulkOutcome[]>
  /**
   * Runs a batch made only of bulk units as one whole transaction, from BEGIN to COMMIT: one
   * outcome per item, in order. Throws `BulkNotCommitted` to have the batch run again unit by
   * unit; any other error fails the batch as a failed COMMIT does.
   */
  commitBulk?: (client: pg.PoolClient, lane: string, items: B[]) => Promise<BulkOutcome[]>
  maxBatch?: number
}

export class PgGroupCommit<B = never> {
  private readonly pool: pg.Pool
  private readonly begin: (client: pg.PoolClient, lane: string) => Promise<void>
  private readonly endBatch: (client: pg.PoolClient) => void
  private readonly runBulk: ((client: pg.PoolClient, lane: string, items: B[]) => Promise<BulkOutcome[]>) | undefined
  private readonly commitBulk: ((client: pg.PoolClient, lane: string, items: B[]) => Promise<BulkOutcome[]>) | undefined
  private readonly maxBatch: number
  private readonly lanes = new Map<string, Lane<B>>()

  constructor(options: PgGroupCommitOptions<B>) {
    this.pool = options.pool
    this.begin = options.begin
    this.endBatch = options.endBatch
    this.runBulk = options.runBulk
    this.commitBulk = options.commitBulk
    this.maxBatch = options.maxBatch ?? DEFAULT_MAX_BATCH
  }

  /**
   * Queues `work` in `lane`'s next batch; resolves with its result once that batch committed.
   * With `bulk`, the unit runs through `runBulk` with its neighbours, and `work` only if the
   * batch falls back to running unit by unit.
   */
  run<T>(lane: string, work: (client: pg.PoolClient) => Promise<T>, fail: (error: unknown) => unknown, bulk?: B): Promise<T> {
    return new Promise<T>((resolve, reject) => {
      let state = this.lanes.get(lane)
      if (!state) {
        state = { queue: [], running: false, drained: Promise.resolve() }
        this.lanes.set(lane, state)
      }
      state.queue.push({ work, bulk, fail, resolve: resolve as (value: unknown) => void, reject, attempts: 0 })
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
  private async drain(lane: string, state: Lane<B>): Promise<void> {
    while (state.queue.length > 0) await this.commitBatch(lane, state, state.queue.splice(0, this.maxBatch))
    state.running = false
    this.lanes.delete(lane)
  }

  /** Runs `batch` in one transaction; `inBulk` false runs every unit on its own (the fallback). */
  private async commitBatch(lane: string, state: Lane<B>, batch: Unit<B>[], inBulk = true): Promise<void> {
    let client: pg.PoolClient
    try {
      client = await this.pool.connect()
    } catch (error) {
      for (const unit of batch) unit.reject(unit.fail(error))
      return
    }
    const outcomes: Outcome[] = []
    try {
      if (inBulk && this.commitBulk && batch.every((unit) => unit.bulk !== undefined)) {
        const items = batch.map((unit) => unit.bulk as B)
        outcomes.push(...outcomesOf(await this.commitBulk(client, lane, items), items.length))
      } else await this.unitsInTransaction(client, lane, batch, inBulk, outcomes)
    } catch (error) {
      // The batch as a whole failed (connection lost, commit refused, a bulk write refused): nothing of it is stored.
      await client.query('ROLLBACK').catch(() => {})
      this.endBatch(client)
      client.release()
      if (error instanceof BulkNotCommitted) return this.commitBatch(lane, state, batch, false)
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

  /** BEGIN, every unit of `batch` in arrival order (runs of bulk units through `runBulk` when `inBulk`), COMMIT. */
  private async unitsInTransaction(client: pg.PoolClient, lane: string, batch: Unit<B>[], inBulk: boolean, outcomes: Outcome[]): Promise<void> {
    await this.begin(client, lane)
    const shared = batch.length > 1
    let savepointOpen = false
    for (const run of runsOf(batch, inBulk && this.runBulk !== undefined)) {
      if (run.bulk) {
        outcomes.push(...(await this.bulkRun(client, lane, run.units)))
        continue
      }
      const unit = run.units[0]
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
  }

  /** One run of bulk units through `runBulk`, inside the open transaction: any failure of it leaves nothing committed. */
  private async bulkRun(client: pg.PoolClient, lane: string, units: Unit<B>[]): Promise<Outcome[]> {
    try {
      return outcomesOf(await (this.runBulk as NonNullable<typeof this.runBulk>)(client, lane, units.map((unit) => unit.bulk as B)), units.length)
    } catch (error) {
      throw error instanceof BulkNotCommitted ? error : new BulkNotCommitted('the bulk write failed; the batch runs again unit by unit', { cause: error })
    }
  }

  /** A retryable failure goes to the lane's next batch (a fresh lock, fresh snapshot); others reach the caller. */
  private settleFailed(state: Lane<B>, unit: Unit<B>, error: unknown, retry: boolean): void {
    unit.attempts++
    if (retry && unit.attempts < TRANSACTION_ATTEMPTS) state.queue.push(unit)
    else unit.reject(unit.fail(error))
  }

  /**
   * Runs one unit; shared, it runs inside the savepoint just opened, and a failure rolls back
   * to it (and releases it), undoing only this unit's writes. Alone in its batch there is no
   * savepoint: a failure aborts the transaction and the batch rolls back.
   */
  private async runUnit(client: pg.PoolClient, unit: Unit<B>, shared: boolean): Promise<Outcome> {
    if (!shared) return { ok: true, value: await unit.work(client) }
    try {
      return { ok: true, value: await unit.work(client) }
    } catch (error) {
      await client.query('ROLLBACK TO SAVEPOINT unit; RELEASE SAVEPOINT unit')
      return { ok: false, error, retry: isRetryable(error) }
    }
  }
}

/** The batch cut into runs in arrival order: consecutive bulk units together (when `bulk`), every other unit alone. */
function runsOf<B>(batch: Unit<B>[], bulk: boolean): { bulk: boolean; units: Unit<B>[] }[] {
  const runs: { bulk: boolean; units: Unit<B>[] }[] = []
  for (const unit of batch) {
    const inBulk = bulk && unit.bulk !== undefined
    const last = runs[runs.length - 1]
    if (inBulk && last?.bulk) last.units.push(unit)
    else runs.push({ bulk: inBulk, units: [unit] })
  }
  return runs
}

/** Bulk outcomes as unit outcomes (a unit that fails in bulk wrote nothing, and is not retried). */
function outcomesOf(outcomes: BulkOutcome[], units: number): Outcome[] {
  if (outcomes.length !== units) throw new Error(`a bulk write answered ${outcomes.length} outcomes for ${units} units`)
  return outcomes.map((outcome) => (outcome.ok ? outcome : { ...outcome, retry: false }))
}
