// Summarises the files bench/pg-query-count.js wrote: per server replica, its event loop delay,
// its transactions (count, units per transaction, BEGIN → COMMIT time) and its round trips by
// statement. Run: `node bench/pg-query-summary.js <dir>`.
import { readdirSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { percentile } from './gate-measurement.js'

const dir = process.argv[2]
if (!dir) throw new Error('usage: node bench/pg-query-summary.js <dir written with BENCH_PG_QUERIES>')
const round = (n) => Math.round(n * 100) / 100
for (const file of readdirSync(dir).filter((name) => name.endsWith('.json'))) {
  const report = JSON.parse(readFileSync(join(dir, file), 'utf8'))
  const all = report.transactions.map(([ms]) => ms).sort((a, b) => a - b)
  const total = Object.values(report.queries).reduce((sum, n) => sum + n, 0)
  console.log(`\n${report.label}: ${total} round trips; event loop delay p50 ${round(report.eventLoopDelayMs.p50)} ms, p99 ${round(report.eventLoopDelayMs.p99)} ms`)
  if (report.transactions.length > 0) console.log(`  ${report.transactions.length} transactions, BEGIN → COMMIT p50 ${round(percentile(all, 50))} ms, p99 ${round(percentile(all, 99))} ms`)
  // Group-commit batches of more than one unit (each unit opens a savepoint); the rest are single writes.
  const batches = report.transactions.filter(([, units]) => units > 0)
  if (batches.length > 0) {
    const ms = batches.map(([t]) => t).sort((a, b) => a - b)
    const units = batches.reduce((sum, [, n]) => sum + n, 0)
    const held = ms.reduce((sum, t) => sum + t, 0)
    console.log(`  ${batches.length} batches, ${round(units / batches.length)} units each (max ${Math.max(...batches.map(([, n]) => n))}); BEGIN → COMMIT p50 ${round(percentile(ms, 50))} ms, p99 ${round(percentile(ms, 99))} ms; ${round(held / units)} ms per unit`)
  }
  for (const [text, n] of Object.entries(report.queries).sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${String(n).padStart(7)}  ${text}`)
}
