// How many waiting gates one server process holds, and what that costs: N concurrent
// long-poll waiters (default 10,000; env BENCH_WAITERS) on one server, then the server's RSS,
// the decision API's latency (p50/p99) while they all wait, and the wake-up latency from a
// decision to its waiter's answer.
//
// The server runs in a child process (its RSS is what we report); this process is the
// client: one undici Pool with a connection per waiter (HTTP/1.1 has no multiplexing), each
// waiter re-polling `?wait=60` while pending, as the core does. Each side holds N sockets:
// `ulimit -n` must exceed N + a few hundred in both (checked below; raise it with
// `ulimit -n 65536` before running if needed).
//
// Run: `npm run build && node bench/server-load.bench.js` (Node 24: via npx/npm).
// BENCH_SERVER_LIB=<dir>: run the server from another build's lib/ (before/after in one session);
// BENCH_SERVER_NODE_ARGS="--max-semi-space-size=32": V8/Node flags for the server process.
import { fork } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { execSync } from 'node:child_process'
import { constants, PerformanceObserver } from 'node:perf_hooks'
import { Pool } from 'undici'
import { percentile } from './gate-measurement.js'

const here = dirname(fileURLToPath(import.meta.url))
const TARGETS = { rss_mb: 512, decision_p99_ms: 20 }
/** Issue 17: 50,000 waiters in one process at RSS ≤ 1 GB, decision → resumed p99 ≤ 25 ms. */
const TARGET_WAITERS = 50_000
const TARGET_RSS_AT_50K_MB = 1024
const TARGET_WAKE_P99_MS = 25
/** File descriptors each process needs beyond its sockets (stdio, the database, control connections). */
const FD_HEADROOM = 500
/** Approvals decided one after another while everyone waits (latency samples; env BENCH_DECISIONS). */
const DECISION_SAMPLES = Number(process.env.BENCH_DECISIONS) || 1000
/** New waiters opened per ramp step; the listen backlog drops SYNs beyond a few hundred at once. */
const RAMP_STEP = 500

// ---------------------------------------------------------------- server child

async function serverChild(dataDir) {
  const lib = pathToFileURL(`${process.env.BENCH_SERVER_LIB ?? join(here, '..', 'lib')}/`)
  const { startServer } = await import(new URL('server/server.js', lib).href)
  const { newApiKey } = await import(new URL('server/auth/secrets.js', lib).href)
  // Capacity, not the per-key create limit, is measured: one key opens every gate.
  const server = await startServer({ dataDir, port: 0, logger: false, createRateLimit: null })
  // Garbage-collection pauses, so a slow wake-up can be told apart from a slow request path.
  const gcPauses = []
  new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcPauses.push({ kind: entry.detail?.kind, ms: entry.duration })
  }).observe({ entryTypes: ['gc'] })
  const project = await server.store.createProject('bench', { defaultTimeoutMs: 3_600_000 })
  const keys = {}
  for (const scope of ['request', 'decide']) {
    const key = newApiKey()
    await server.store.createApiKey({ project_id: project.id, name: `bench-${scope}`, scopes: [scope], key_hash: key.hash, prefix: key.prefix })
    keys[scope] = key.key
  }
  process.on('message', async (message) => {
    if (message === 'rss') process.send({ rss: process.memoryUsage().rss, heapUsed: process.memoryUsage().heapUsed, memory: { ...process.memoryUsage(), mallocHeap: mallocHeapBytes() } })
    if (message?.snapshot) process.send({ snapshot: (await import('node:v8')).writeHeapSnapshot(message.snapshot) })
    if (message === 'gc-start') gcPauses.length = 0
    if (message === 'gc-stats') process.send({ gc: gcSummary(gcPauses) })
    if (message === 'close') {
      const started = performance.now()
      await server.close()
      process.send({ closedMs: performance.now() - started })
      process.disconnect()
    }
  })
  process.send({ url: server.url, keys })
}

/**
 * Resident bytes of the C heap (glibc's main arena, the `[heap]` mapping): native objects such
 * as libuv handles and the HTTP parser live there, V8's heap does not. 0 where there is no /proc.
 */
function mallocHeapBytes() {
  try {
    const smaps = readFileSync('/proc/self/smaps', 'utf8')
    const at = smaps.indexOf('[heap]')
    if (at < 0) return 0
    const rss = /\nRss:\s+(\d+) kB/.exec(smaps.slice(at))
    return rss ? Number(rss[1]) * 1024 : 0
  } catch {
    return 0
  }
}

/** GC pauses by kind (V8's minor = young generation scavenge, major = mark-compact): count, total, p99 and max. */
function gcSummary(pauses) {
  const kinds = { [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor', [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major', [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental', [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weak_callbacks' }
  const summary = {}
  for (const { kind, ms } of pauses) (summary[kinds[kind] ?? String(kind)] ??= []).push(ms)
  return Object.fromEntries(
    Object.entries(summary).map(([kind, durations]) => {
      durations.sort((a, b) => a - b)
      return [kind, { count: durations.length, total_ms: round(durations.reduce((a, b) => a + b, 0)), p99_ms: round(percentile(durations, 99)), max_ms: round(durations.at(-1)) }]
    }),
  )
}

// ---------------------------------------------------------------- client

const round = (n) => (n === null ? null : Math.round(n * 100) / 100)

function fdLimit(flag = '-n') {
  try {
    return Number(execSync(`ulimit ${flag}`, { shell: '/bin/bash' }).toString().trim())
  } catch {
    return NaN
  }
}

/** Asks the child something over IPC and waits for the reply that has `field`. */
function ask(child, message, field) {
  return new Promise((resolve) => {
    const onMessage = (reply) => {
      if (reply && field in reply) {
        child.off('message', onMessage)
        resolve(reply)
      }
    }
    child.on('message', onMessage)
    child.send(message)
  })
}

async function json(pool, method, path, key, body) {
  const response = await pool.request({
    method,
    path,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  const text = await response.body.text()
  return { status: response.statusCode, body: text ? JSON.parse(text) : undefined }
}

/**
 * Default: the 50,000 of issue 17, or as many as `ulimit -n` lets each process hold (the
 * result then says it was capped, and projects the RSS at 50,000 from the per-waiter cost).
 */
function defaultWaiters(limit) {
  const asked = Number(process.env.BENCH_WAITERS) || Number(process.argv[2])
  if (asked) return asked
  return Number.isFinite(limit) ? Math.min(TARGET_WAITERS, Math.floor((limit - FD_HEADROOM) / 1000) * 1000) : TARGET_WAITERS
}

export default async function run({ waiters = defaultWaiters(fdLimit()) } = {}) {
  const limit = fdLimit()
  if (Number.isFinite(limit) && limit < waiters + FD_HEADROOM) {
    throw new Error(`ulimit -n is ${limit}: too low for ${waiters} waiters (each process holds one socket per waiter). Run \`ulimit -n ${waiters + 1000}\` first, or set BENCH_WAITERS lower.`)
  }
  const dataDir = mkdtempSync(join(tmpdir(), 'approval-gate-load-'))
  const serverArgs = (process.env.BENCH_SERVER_NODE_ARGS ?? '').split(/\s+/).filter(Boolean)
  const child = fork(fileURLToPath(import.meta.url), ['--server-child', dataDir], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv: [...process.execArgv, ...serverArgs] })
  const ready = await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)))
  })
  const { url, keys } = ready
  console.log(`server-load: server at ${url} (pid ${child.pid}); ${waiters} waiters, ${cpus().length} cores`)

  // One connection per waiter plus a few for the control traffic.
  const pool = new Pool(url, { connections: waiters + 64, pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000, keepAliveTimeout: 120_000 })
  const control = new Pool(url, { connections: 8 })
  const baseline = await ask(child, 'rss', 'rss')

  try {
    // 1. Create one approval per waiter.
    const ids = []
    const createStarted = performance.now()
    for (let i = 0; i < waiters; i += 200) {
      const batch = Array.from({ length: Math.min(200, waiters - i) }, (_, j) => json(control, 'POST', '/v1/approvals', keys.request, { action: `load-${i + j}`, context: { n: i + j } }))
      for (const created of await Promise.all(batch)) ids.push(created.body.id)
      if (i % 2000 === 0) process.stdout.write(`\r  created ${ids.length}/${waiters}`)
    }
    const createMs = performance.now() - createStarted
    console.log(`\r  created ${ids.length} approvals in ${Math.round(createMs)} ms`)

    // 2. Open the waiters, ramping so the listen backlog is never flooded.
    const answeredAt = new Map()
    let stopping = false
    let errors = 0
    const waitLoop = async (id) => {
      while (!stopping) {
        try {
          const answer = await json(pool, 'GET', `/v1/approvals/${id}?wait=60`, keys.request)
          if (answer.status === 200 && answer.body.status !== 'pending') {
            answeredAt.set(id, performance.now())
            return
          }
        } catch {
          errors++
          if (stopping) return
          await new Promise((resolve) => setTimeout(resolve, 200))
        }
      }
    }
    const loops = []
    // BENCH_HEAP_SNAPSHOT=<directory>: V8 heap snapshots of the server idle and while everyone
    // waits; `node bench/heap-breakdown.js` compares them (where a waiter's memory goes).
    const snapshots = process.env.BENCH_HEAP_SNAPSHOT
    if (snapshots) console.log(`  heap snapshot: ${(await ask(child, { snapshot: join(snapshots, 'idle.heapsnapshot') }, 'snapshot')).snapshot}`)
    const health = async () => (await json(control, 'GET', '/healthz', keys.request)).body.waiting
    const rampStarted = performance.now()
    // Halfway through the ramp too: growth from there to all held is what each further waiter
    // costs, without the one-off growth (young generation, database cache) that comes with any load.
    let halfway = null
    for (let i = 0; i < ids.length; i += RAMP_STEP) {
      for (const id of ids.slice(i, i + RAMP_STEP)) loops.push(waitLoop(id))
      const target = Math.min(ids.length, i + RAMP_STEP)
      for (let tries = 0; tries < 300 && (await health()) < target; tries++) await new Promise((resolve) => setTimeout(resolve, 20))
      process.stdout.write(`\r  waiting: ${await health()}/${ids.length}`)
      if (!halfway && target >= ids.length / 2 && target < ids.length) halfway = { held: await health(), ...(await ask(child, 'rss', 'rss')) }
    }
    const held = await health()
    console.log(`\r  ${held} long-polls held by the server (ramp ${Math.round(performance.now() - rampStarted)} ms)`)
    const loaded = await ask(child, 'rss', 'rss')
    if (snapshots) console.log(`  heap snapshot: ${(await ask(child, { snapshot: join(snapshots, 'waiting.heapsnapshot') }, 'snapshot')).snapshot}`)

    // 3. Decisions while everyone waits: API latency, and decision → waiter answer.
    const decisionMs = []
    const wakeMs = []
    const sample = ids.slice(0, Math.min(DECISION_SAMPLES, ids.length))
    child.send('gc-start')
    for (const [n, id] of sample.entries()) {
      const sent = performance.now()
      const decided = await json(control, 'POST', `/v1/approvals/${id}/decision`, keys.decide, { decision: n % 2 ? 'approve' : 'reject', reason: 'load test' })
      const done = performance.now()
      if (decided.status !== 200) throw new Error(`decision answered ${decided.status}`)
      decisionMs.push(done - sent)
      for (let tries = 0; tries < 500 && !answeredAt.has(id); tries++) await new Promise((resolve) => setTimeout(resolve, 1))
      if (answeredAt.has(id)) wakeMs.push(answeredAt.get(id) - sent)
      if (n % 50 === 0) process.stdout.write(`\r  decisions: ${n + 1}/${sample.length}`)
    }
    console.log(`\r  decisions: ${sample.length}/${sample.length}`)
    const { gc } = await ask(child, 'gc-stats', 'gc')
    const after = await ask(child, 'rss', 'rss')

    // 4. Graceful shutdown answers every remaining waiter.
    stopping = true
    const { closedMs } = await ask(child, 'close', 'closedMs')
    await Promise.allSettled(loops)

    decisionMs.sort((a, b) => a - b)
    wakeMs.sort((a, b) => a - b)
    const mb = (bytes) => Math.round((bytes / 1024 / 1024) * 10) / 10
    const result = {
      bench: 'server-load',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, total_mem_mb: Math.round(totalmem() / 1024 / 1024), node: process.version, fd_limit: limit },
      waiters,
      held_long_polls: held,
      create_per_second: Math.round((waiters / createMs) * 1000),
      server_rss_mb: { idle: mb(baseline.rss), waiting: mb(loaded.rss), after_decisions: mb(after.rss) },
      server_heap_used_mb_waiting: mb(loaded.heapUsed),
      // Where the RSS goes: V8's heap (committed / used), memory outside it (buffers, native objects).
      server_memory_mb: Object.fromEntries(['idle', 'waiting'].map((when, i) => [when, Object.fromEntries(Object.entries([baseline, loaded][i].memory).map(([k, v]) => [k, mb(v)]))])),
      rss_per_waiter_kb: Math.round(((loaded.rss - baseline.rss) / Math.max(1, held)) / 102.4) / 10,
      decision_api_ms: { samples: decisionMs.length, p50: round(percentile(decisionMs, 50)), p99: round(percentile(decisionMs, 99)), max: round(decisionMs.at(-1) ?? null) },
      wake_up_ms: { samples: wakeMs.length, p50: round(percentile(wakeMs, 50)), p99: round(percentile(wakeMs, 99)), max: round(wakeMs.at(-1) ?? null) },
      gc_pauses_during_decisions: gc,
      load_average: loadavg().map((n) => round(n)),
      server_lib: process.env.BENCH_SERVER_LIB ?? 'lib',
      server_node_args: serverArgs,
      graceful_close_ms: Math.round(closedMs),
      client_errors: errors,
      targets: TARGETS,
    }
    // Per-waiter cost measured here, carried to 50,000 (only a projection when fewer were held).
    result.projected_rss_mb_at_50000 = Math.round(result.server_rss_mb.idle + (result.rss_per_waiter_kb * TARGET_WAITERS) / 1024)
    // The same from the second half of the ramp: what each further waiter adds to the RSS held.
    if (halfway && held > halfway.held) {
      result.server_rss_mb.halfway = mb(halfway.rss)
      result.halfway_held = halfway.held
      result.rss_per_waiter_marginal_kb = Math.round(((loaded.rss - halfway.rss) / (held - halfway.held)) / 102.4) / 10
      result.projected_rss_mb_at_50000_marginal = Math.round(mb(loaded.rss) + (result.rss_per_waiter_marginal_kb * Math.max(0, TARGET_WAITERS - held)) / 1024)
    }
    result.capped_by_fd_limit = waiters < TARGET_WAITERS
    result.fd_hard_limit = fdLimit('-Hn')
    result.targets_met = {
      waiters: held >= waiters,
      rss: result.server_rss_mb.waiting <= TARGETS.rss_mb,
      decision_p99: (result.decision_api_ms.p99 ?? Infinity) <= TARGETS.decision_p99_ms,
      waiters_50k: held >= TARGET_WAITERS,
      rss_at_50k: result.projected_rss_mb_at_50000 <= TARGET_RSS_AT_50K_MB,
      wake_p99: (result.wake_up_ms.p99 ?? Infinity) <= TARGET_WAKE_P99_MS,
    }
    console.table([
      { measure: 'long-polls held', value: held, target: `${waiters}` },
      { measure: 'server RSS idle (MB)', value: result.server_rss_mb.idle, target: '' },
      { measure: 'server RSS while waiting (MB)', value: result.server_rss_mb.waiting, target: `≤ ${TARGETS.rss_mb}` },
      { measure: 'RSS per waiter (KB)', value: result.rss_per_waiter_kb, target: '' },
      { measure: 'decision API p50 (ms)', value: result.decision_api_ms.p50, target: '' },
      { measure: 'decision API p99 (ms)', value: result.decision_api_ms.p99, target: `≤ ${TARGETS.decision_p99_ms}` },
      { measure: 'wake-up p50 (ms)', value: result.wake_up_ms.p50, target: '' },
      { measure: 'wake-up p99 (ms)', value: result.wake_up_ms.p99, target: '' },
      { measure: `graceful close answering ${held - sample.length} waiters (ms)`, value: result.graceful_close_ms, target: '' },
    ])
    mkdirSync(join(here, 'results'), { recursive: true })
    writeFileSync(join(here, 'results', 'server-load.json'), `${JSON.stringify(result, null, 2)}\n`)
    return result
  } finally {
    await pool.destroy().catch(() => {})
    await control.destroy().catch(() => {})
    if (child.exitCode === null) child.kill('SIGKILL')
    rmSync(dataDir, { recursive: true, force: true })
  }
}

if (process.argv[2] === '--server-child') {
  serverChild(process.argv[3]).catch((error) => {
    console.error(error)
    process.exit(1)
  })
} else if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((error) => {
    console.error(error)
    process.exit(1)
  })
}
