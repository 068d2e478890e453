// Durable decisions per second on the embedded SQLite store (target: ≥ 2,000/s on 2 cores).
// Each decision (approval update + hash-chained audit event) is committed under WAL +
// synchronous=FULL, i.e. fsynced before the promise resolves: one at a time, then 64 at once
// both with one transaction per write (`groupCommit: false`, a second connection on the same
// file) and with group commit (the default), in the same run. Then how audit verification
// scales: a full pass over every event, and an incremental pass after N new events.
// Run: `npm run build && node bench/store-throughput.bench.js [approvals]` (Node 24: via npx/npm).
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const TARGET_PER_SECOND = 2000
const CONCURRENCY = 64

async function loadStore() {
  try {
    return await import('../lib/server/store/index.js')
  } catch (error) {
    throw new Error(`cannot load lib/server/store/index.js — run \`npm run build\` first (${error.message})`)
  }
}

function progress(message) {
  process.stderr.write(`[store-throughput] ${message}\n`)
}

/** Runs `work(i)` for i in [0, count) with at most `concurrency` in flight; returns elapsed ms. */
async function timed(count, concurrency, work) {
  let next = 0
  let done = 0
  const started = performance.now()
  const reportEvery = Math.max(1, Math.floor(count / 5))
  async function worker() {
    while (next < count) {
      const i = next++
      await work(i)
      if (++done % reportEvery === 0) progress(`  ${done}/${count}`)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  return performance.now() - started
}

/**
 * Creates `approvals` approvals, decides half of them one at a time (each awaited) and half
 * with `CONCURRENCY` promises in flight, and reports operations per second for each phase.
 */
export default async function run({ approvals = Number(process.argv[2]) || 6000 } = {}) {
  const { openStore } = await loadStore()
  const dir = mkdtempSync(join(tmpdir(), 'ag-bench-store-'))
  const store = await openStore({ kind: 'sqlite', path: join(dir, 'bench.db') })
  const solo = await openStore({ kind: 'sqlite', path: join(dir, 'bench.db'), groupCommit: false })
  try {
    const project = await store.createProject('bench')
    const expires_at = new Date(Date.now() + 3_600_000).toISOString()
    const ids = []
    const third = Math.floor(approvals / 3)
    const phases = []

    progress(`creating ${approvals} approvals (sequential)`)
    let ms = await timed(approvals, 1, async (i) => {
      const { approval } = await store.createApproval({
        project_id: project.id,
        action: `deploy service-${i % 20}`,
        context: { repository: 'acme/web', run_id: i, sha: 'f'.repeat(40), github: { actor: 'ci-bot' } },
        agent: 'bench',
        expires_at,
        idempotency_key: `bench-${i}`,
        requested_by: 'key:bench',
      })
      ids.push(approval.id)
    })
    phases.push({ phase: 'create (sequential)', operations: approvals, ms })

    progress(`deciding ${third} approvals one at a time`)
    ms = await timed(third, 1, (i) => store.decideApproval(project.id, ids[i], { decision: 'approve', reason: null, decided_by: 'bench@example.com' }))
    phases.push({ phase: 'decide (sequential)', operations: third, ms })

    progress(`deciding ${third} approvals with ${CONCURRENCY} concurrent promises, one transaction each`)
    ms = await timed(third, CONCURRENCY, (i) =>
      solo.decideApproval(project.id, ids[third + i], { decision: i % 2 ? 'approve' : 'reject', reason: 'bench', decided_by: 'bench@example.com' }),
    )
    phases.push({ phase: `decide (${CONCURRENCY} concurrent, one commit per write)`, operations: third, ms })

    const rest = approvals - 2 * third
    progress(`deciding ${rest} approvals with ${CONCURRENCY} concurrent promises, group commit`)
    ms = await timed(rest, CONCURRENCY, (i) =>
      store.decideApproval(project.id, ids[2 * third + i], { decision: i % 2 ? 'approve' : 'reject', reason: 'bench', decided_by: 'bench@example.com' }),
    )
    phases.push({ phase: `decide (${CONCURRENCY} concurrent, group commit)`, operations: rest, ms })

    progress('verifying the audit chain: full, then incrementally after new events')
    let verifyStarted = performance.now()
    const verification = await store.verifyAudit(project.id, { full: true })
    const verifyMs = performance.now() - verifyStarted
    if (!verification.ok || verification.events !== approvals * 2) throw new Error(`audit chain check failed: ${JSON.stringify(verification)}`)
    if ((await store.countPending(project.id)) !== 0) throw new Error('some decisions were not written')
    const newEvents = 1000
    await timed(newEvents, CONCURRENCY, (i) =>
      store.createApproval({ project_id: project.id, action: `late ${i}`, context: { i }, agent: null, expires_at, idempotency_key: null, requested_by: 'key:bench' }),
    )
    verifyStarted = performance.now()
    const incremental = await store.verifyAudit(project.id)
    const incrementalMs = performance.now() - verifyStarted
    if (!incremental.ok || incremental.events !== approvals * 2 + newEvents) throw new Error(`incremental audit check failed: ${JSON.stringify(incremental)}`)

    const rows = phases.map((p) => ({ ...p, ms: Math.round(p.ms), per_second: Math.round((p.operations / p.ms) * 1000) }))
    const decisionRates = rows.filter((r) => r.phase.startsWith('decide') && !r.phase.includes('one commit per write')).map((r) => r.per_second)
    const result = {
      benchmark: 'store-throughput',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: process.platform },
      store: { kind: 'sqlite', journal_mode: 'wal', synchronous: 'full' },
      phases: rows,
      audit_verify: { events: verification.events, ms: Math.round(verifyMs), incremental: { new_events: newEvents, ms: Math.round(incrementalMs) } },
      decisions_per_second: Math.min(...decisionRates),
      target_per_second: TARGET_PER_SECOND,
      target_met: Math.min(...decisionRates) >= TARGET_PER_SECOND,
    }

    console.table(rows.map((r) => ({ phase: r.phase, operations: r.operations, 'time (ms)': r.ms, 'per second': r.per_second })))
    console.log(
      `durable decisions/s: ${result.decisions_per_second} (target ≥ ${TARGET_PER_SECOND}: ${result.target_met ? 'met' : 'MISSED'}); ` +
        `audit verify of ${verification.events} events: ${result.audit_verify.ms} ms, then of ${newEvents} new ones: ${result.audit_verify.incremental.ms} ms`,
    )
    mkdirSync(join(here, 'results'), { recursive: true })
    writeFileSync(join(here, 'results', 'store-throughput.json'), `${JSON.stringify(result, null, 2)}\n`)
    return result
  } finally {
    await solo.close()
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
