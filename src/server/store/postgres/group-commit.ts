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
 * Units queued with a bulk item (votes) skip the savepoint-per-unit path: each run of
 * consecutive bulk units goes to `runBulk` at once, which plans them in memory and writes them
 * in a constant number of statements. If `runBulk` throws, the whole transaction is rolled back
 * and the batch runs again unit by unit — no unit was answered yet, so nothing is lost or doubled.
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

/** A `runBulk` failure: the batch is rolled back and run again unit by unit. */
class BulkFailed extends Error {}

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
  maxBatch?: number
}

export class PgGroupCommit<B = never> {
  private readonly pool: pg.Pool
  private readonly begin: (client: pg.PoolClient, lane: string) => Promise<void>
  private readonly endBatch: (client: pg.PoolClient) => void
  private readonly runBulk: ((client: pg.PoolClient, lane: string, items: B[]) => Promise<BulkOutcome[]>) | undefined
  private readonly maxBatch: number
  private readonly lanes = new Map<string, Lane<B>>()

  constructor(options: PgGroupCommitOptions<B>) {
    this.pool = options.pool
    this.begin = options.begin
    this.endBatch = options.endBatch
    this.runBulk = options.runBulk
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
    } catch (error) {
      // The batch as a whole failed (connection lost, commit refused, a bulk write refused): nothing of it is stored.
      await client.query('ROLLBACK').catch(() => {})
      this.endBatch(client)
      client.release()
      if (error instanceof BulkFailed) return this.commitBatch(lane, state, batch, false)
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

  /** One run of bulk units through `runBulk`; any failure of it becomes `BulkFailed`. */
  private async bulkRun(client: pg.PoolClient, lane: string, units: Unit<B>[]): Promise<Outcome[]> {
    let outcomes: BulkOutcome[]
    try {
      outcomes = await (this.runBulk as NonNullable<typeof this.runBulk>)(client, lane, units.map((unit) => unit.bulk as B))
    } catch (error) {
      throw new BulkFailed('the bulk write failed; the batch runs again unit by unit', { cause: error })
    }
    if (outcomes.length !== units.length) throw new BulkFailed(`runBulk answered ${outcomes.length} outcomes for ${units.length} units`)
    return outcomes.map((outcome) => (outcome.ok ? outcome : { ...outcome, retry: false }))
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
