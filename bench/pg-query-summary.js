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
  // Group-commit batches (units: savepoints plus votes written in bulk); the rest are single writes.
  const batches = report.transactions.filter(([, units]) => units > 0)
  if (batches.length > 0) {
    const ms = batches.map(([t]) => t).sort((a, b) => a - b)
    const units = batches.reduce((sum, [, n]) => sum + n, 0)
    const held = ms.reduce((sum, t) => sum + t, 0)
    console.log(`  ${batches.length} batches, ${round(units / batches.length)} units each (max ${Math.max(...batches.map(([, n]) => n))}); BEGIN → COMMIT p50 ${round(percentile(ms, 50))} ms, p99 ${round(percentile(ms, 99))} ms; ${round(held / units)} ms per unit`)
  }
  // Batches that planned votes (the decision phase): votes each, round trips each, chain lock time.
  // A vote is counted from the bulk write's list, or, unit by unit, from its read.
  const votesOf = ([, , , bulk, , reads]) => bulk || reads || 0
  const voting = report.transactions.filter((t) => votesOf(t) > 0 && t[4] !== null)
  if (voting.length > 0) {
    const votes = voting.reduce((sum, t) => sum + votesOf(t), 0)
    const trips = voting.reduce((sum, [, , n]) => sum + n, 0)
    const held = voting.map(([, , , , ms]) => ms).sort((a, b) => a - b)
    console.log(`  ${voting.length} batches with votes, ${round(votes / voting.length)} votes each, ${round(trips / voting.length)} round trips each; chain lock held p50 ${round(percentile(held, 50))} ms, p99 ${round(percentile(held, 99))} ms, ${round(held.reduce((sum, t) => sum + t, 0) / votes)} ms per vote`)
  }
  for (const [text, n] of Object.entries(report.queries).sort((a, b) => b[1] - a[1]).slice(0, 20)) console.log(`  ${String(n).padStart(7)}  ${text}`)
}
