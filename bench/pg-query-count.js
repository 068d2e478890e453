// Bench-only instrumentation, loaded into a server child with `--import` (http-throughput does
// that when BENCH_PG_QUERIES=<dir> is set): counts node-postgres round trips per statement text,
// times each transaction from BEGIN to COMMIT with the number of savepoints (group-commit units)
// in it, and samples the event loop delay. Writes <dir>/<pid>.json every second and at exit.
import { writeFileSync } from 'node:fs'
import { createRequire } from 'node:module'
import { join } from 'node:path'
import { monitorEventLoopDelay } from 'node:perf_hooks'

const dir = process.env.BENCH_PG_QUERIES
const pg = createRequire(import.meta.url)('pg')
const counts = new Map()
const transactions = [] // [ms from BEGIN to COMMIT answered, units]
const open = new WeakMap()
const loop = monitorEventLoopDelay({ resolution: 5 })
loop.enable()

const original = pg.Client.prototype.query
pg.Client.prototype.query = function (config, ...rest) {
  const text = typeof config === 'string' ? config : config?.text
  if (typeof text === 'string') {
    const key = text.replace(/\s+/g, ' ').trim().slice(0, 90)
    counts.set(key, (counts.get(key) ?? 0) + 1)
    if (key === 'BEGIN') open.set(this, { at: performance.now(), units: 0 })
    else if (key.includes('SAVEPOINT unit') && !key.startsWith('ROLLBACK') && open.has(this)) open.get(this).units++
  }
  const result = original.call(this, config, ...rest)
  if (text === 'COMMIT' && open.has(this) && result && typeof result.then === 'function') {
    const started = open.get(this)
    open.delete(this)
    result.then(() => transactions.push([performance.now() - started.at, started.units]), () => {})
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
