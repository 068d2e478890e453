// Bench-only instrumentation, loaded into a server child with `--import` (http-throughput does
// that when BENCH_PG_QUERIES=<dir> is set): counts node-postgres round trips per statement text,
// times each transaction from BEGIN to COMMIT with the number of group-commit units in it (its
// savepoints, plus the votes of its bulk vote writes), and samples the event loop delay. Writes <dir>/<pid>.json every second and at exit.
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'

const dir = process.env.BENCH_PG_QUERIES
const pg = createRequire(import.meta.url)('pg')
const counts = new Map()
const transactions = [] // see where COMMIT is answered
const open = new WeakMap()
const loop = monitorEventLoopDelay({ resolution: 5 })
loop.enable()

const original = pg.Client.prototype.query
pg.Client.prototype.query = function (config, ...rest) {
  const text = typeof config === 'string' ? config : config?.text
  if (typeof text === 'string') {
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 90)
    counts.set(key, (counts.get(key) ?? 0) + 1)
    const batch = open.get(this)
    if (batch) batch.trips++
    // A batch opens with BEGIN alone or BEGIN and the chain lock in one string.
    if (key.startsWith('BEGIN')) open.set(this, { at: performance.now(), lockedAt: null, units: 0, trips: 1, bulk: 0, voteReads: 0 })
    else if (key.includes('SAVEPOINT unit') && !key.startsWith('ROLLBACK') && batch) batch.units++
    // The read a vote is planned from (one per vote unit by unit, one per run of votes in bulk).
    if (batch && text.includes('FOR UPDATE OF a')) batch.voteReads++
    // A bulk vote write (one string, its values inline) moves the chain head one step per counted vote.
    if (batch && key.startsWith('WITH batch_votes')) {
      const votes = text.match(/UPDATE audit_heads SET seq = seq \+ 1/g)?.length ?? 0
      batch.units += votes
      batch.bulk += votes
    }
  }
  const result = original.call(this, config, ...rest)
  const batch = open.get(this)
  // The chain lock is held from the answer to its SELECT … FOR UPDATE (alone or after BEGIN) until COMMIT.
  if (batch && batch.lockedAt === null && typeof text === 'string' && /FROM audit_heads WHERE project_id = \S+ FOR UPDATE/.test(text) && typeof result?.then === 'function') {
    result.then(() => void (batch.lockedAt = performance.now()), () => {})
  }
  // COMMIT alone, or at the end of a bulk write.
  if (typeof text === 'string' && /(^|;\s*)COMMIT$/.test(text.trim()) && batch && result && typeof result.then === 'function') {
    open.delete(this)
    // [ms from BEGIN to COMMIT answered, units, round trips, votes written in bulk, ms the chain lock was held, vote reads]
    result.then(() => transactions.push([performance.now() - batch.at, batch.units, batch.trips, batch.bulk, batch.lockedAt === null ? null : performance.now() - batch.lockedAt, batch.voteReads]), () => {})
  }
  return result
}

const dump = () =>
  writeFileSync(
    join(dir, `${process.pid}.json`),
    JSON.stringify({
      label: JSON.parse(process.argv.at(-1)).label,
      eventLoopDelayMs: { p50: loop.percentile(50) / 1e6, p99: loop.percentile(99) / 1e6, max: loop.max / 1e6 },
      transactions,
      queries: Object.fromEntries(counts),
    }),
  )
setInterval(dump, 1000).unref()
process.on('exit', dump)
