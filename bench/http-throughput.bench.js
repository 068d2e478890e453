// Throughput under concurrency over HTTP (issue 17), before and after group commit in the same
// run: each configuration runs the same phases against a fresh server child.
//   1. creates/s: 64 concurrent creators, no waiters;
//   2. 2,000 long-polls (`?wait=60`) held on approvals of the first phase;
//   3. decisions/s: 64 concurrent deciders while they wait (every waiter's approval among them),
//      with decide latency p50/p99 and decision → waiter answered.
// SQLite: one server process. PostgreSQL (when its binaries are installed): two server replicas
// on one throwaway cluster with fsync and synchronous_commit on, one project, deciders spread
// over both replicas. "before" = `groupCommit: false` (one transaction and fsync per write),
// "after" = the default. BENCH_CPU_PROF=dir writes a V8 CPU profile of each server child there
// (summarise one with bench/cpu-profile-summary.js); BENCH_HTTP_STORES=sqlite|postgres runs one;
// BENCH_PG_QUERIES=dir counts each PostgreSQL replica's round trips, transactions and event loop
// delay there (bench/pg-query-count.js; summarise with bench/pg-query-summary.js).
// Each phase's CPU is accounted per process (server children, this load generator, the waiter
// client, the PostgreSQL cluster) as ms per operation, with the rates that bounds (`cpu`).
// The 2,000 long-polls are held by a second client process, so their wake-ups do not delay the
// deciders. BENCH_SERVER_LIB=<dir>: run the servers from another build's lib/ (before/after in one session).
// BENCH_CPU_PROF_PHASES=dir writes a V8 CPU profile of each server child per phase there (the
// inspector's profiler, started and stopped over IPC), so a profile holds one phase's work only.
// BENCH_HTTP_GROUP_COMMIT_ONLY=1 skips the one-commit-per-write configuration (quicker A/B runs).
//
// Run: `npm run build && node bench/http-throughput.bench.js` (Node 24: via npx/npm).
import { execFileSync, fork } from 'node:child_process'
import { chownSync, existsSync, mkdirSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:net'
import { cpus, loadavg, tmpdir, totalmem } from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { Session } from 'node:inspector'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { Pool } from 'undici'
import { percentile } from './gate-measurement.js'

const here = dirname(fileURLToPath(import.meta.url))
const CONCURRENCY = 64
const WAITERS = Number(process.env.BENCH_HTTP_WAITERS) || 2000
const CREATES = Number(process.env.BENCH_HTTP_CREATES) || 4000
const TARGETS = { sqlite_decisions_per_second: 3000, sqlite_decide_p99_ms: 50, sqlite_creates_per_second: 3000, postgres_decisions_per_second: 1500, postgres_decide_p99_ms: 100 }
const AUDIT_KEY = 'b2'.repeat(32)
const SERVER_LIB = process.env.BENCH_SERVER_LIB ?? join(here, '..', 'lib')
const PHASE_PROFILES = process.env.BENCH_CPU_PROF_PHASES || null
/** Wall-clock ms with sub-ms resolution, comparable between this process and the waiter client. */
const wallNow = () => performance.timeOrigin + performance.now()

// ---------------------------------------------------------------- server child

/**
 * Counts the SQLite statements this process runs (node:sqlite's statement and exec calls), so
 * the work per operation is also a count that the machine's load does not blur.
 */
async function countSqliteStatements() {
  const { DatabaseSync, StatementSync } = await import('node:sqlite')
  const counts = { statements: 0, execs: 0 }
  for (const method of ['get', 'all', 'run', 'iterate']) {
    const original = StatementSync.prototype[method]
    StatementSync.prototype[method] = function counted(...args) {
      counts.statements++
      return original.apply(this, args)
    }
  }
  const exec = DatabaseSync.prototype.exec
  DatabaseSync.prototype.exec = function counted(...args) {
    counts.execs++
    return exec.apply(this, args)
  }
  return counts
}

async function serverChild(configJson) {
  const config = JSON.parse(configJson)
  const sqlCounts = await countSqliteStatements()
  const lib = pathToFileURL(`${SERVER_LIB}/`)
  const { startServer } = await import(new URL('server/server.js', lib).href)
  const { openStore } = await import(new URL('server/store/index.js', lib).href)
  const { parseAuditKey } = await import(new URL('server/store/audit-key.js', lib).href)
  const { newApiKey } = await import(new URL('server/auth/secrets.js', lib).href)
  const auditKey = parseAuditKey(AUDIT_KEY, 'the bench key')
  const store =
    config.kind === 'sqlite'
      ? await openStore({ kind: 'sqlite', path: join(config.dataDir, 'approval-gate.db'), auditKey, groupCommit: config.groupCommit })
      : await openStore({ kind: 'postgres', connection: { connectionString: config.url, max: 10 }, auditKey, groupCommit: config.groupCommit })
  const server = await startServer({
    dataDir: config.dataDir,
    port: 0,
    logger: false,
    createRateLimit: null,
    store,
    auditKey,
    ...(config.kind === 'postgres' ? { database: { kind: 'postgres', url: config.url } } : {}),
  })
  let keys = null
  if (config.provision) {
    const project = (await server.store.getProjectByName('bench')) ?? (await server.store.createProject('bench', { defaultTimeoutMs: 3_600_000 }))
    keys = {}
    for (const scope of ['request', 'decide']) {
      const key = newApiKey()
      await server.store.createApiKey({ project_id: project.id, name: `bench-${scope}-${Date.now()}`, scopes: [scope], key_hash: key.hash, prefix: key.prefix })
      keys[scope] = key.key
    }
  }
  let profiler = null
  process.on('message', async (message) => {
    if (message === 'cpu') process.send({ cpu: { ...process.cpuUsage(), sql: { ...sqlCounts } } })
    if (message?.profile === 'start') {
      profiler ??= inspectorSession()
      await profiler('Profiler.enable')
      await profiler('Profiler.start')
      process.send({ profiling: true })
    }
    if (message?.profile === 'stop') {
      const { profile } = await profiler('Profiler.stop')
      writeFileSync(message.file, JSON.stringify(profile))
      process.send({ profiled: message.file })
    }
    if (message === 'verify') {
      const project = await server.store.getProjectByName('bench')
      process.send({ verify: await server.store.verifyAudit(project.id) })
    }
    if (message === 'close') {
      await server.close()
      process.send({ closed: true })
      process.disconnect()
    }
  })
  process.send({ url: server.url, keys })
}

/** Posts to this process's own inspector (its CPU profiler). */
function inspectorSession() {
  const session = new Session()
  session.connect()
  return (method) => new Promise((resolve, reject) => session.post(method, (error, result) => (error ? reject(error) : resolve(result))))
}

// ---------------------------------------------------------------- waiter client

/**
 * The second client process: holds one long-poll per approval id it is given (re-asking while
 * the answer is pending) and records when each was answered with a decision (`wallNow`).
 */
function waiterClient() {
  const pools = []
  const answeredAt = []
  let errors = 0
  let waiting = Promise.resolve()
  process.on('message', async (message) => {
    if (message === 'cpu') process.send({ cpu: process.cpuUsage() })
    if (message?.wait) {
      const { urls, key, ids } = message.wait
      for (const url of urls) pools.push(new Pool(url, { connections: Math.ceil(ids.length / urls.length) + 16, pipelining: 1, headersTimeout: 120_000, bodyTimeout: 120_000 }))
      const waitLoop = async (id, i) => {
        for (;;) {
          try {
            const answer = await json(pools[i % pools.length], 'GET', `/v1/approvals/${id}?wait=60`, key)
            if (answer.status === 200 && answer.body.status !== 'pending') return void answeredAt.push([id, wallNow()])
          } catch {
            errors++
            return
          }
        }
      }
      waiting = Promise.all(ids.map(waitLoop))
      process.send({ started: ids.length })
    }
    if (message?.answers) {
      await Promise.race([waiting, new Promise((resolve) => setTimeout(resolve, message.answers.withinMs))])
      process.send({ answered: { answeredAt, errors } })
    }
    if (message === 'close') {
      await Promise.all(pools.map((pool) => pool.destroy().catch(() => {})))
      process.disconnect()
    }
  })
  process.send({ ready: true })
}

async function startWaiterClient() {
  const child = fork(fileURLToPath(import.meta.url), ['--waiter-client'], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'] })
  await new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => reject(new Error(`waiter client exited with ${code}`)))
  })
  return child
}

async function closeWaiterClient(child) {
  if (child.exitCode !== null || !child.connected) return
  child.send('close')
  await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))
}

// ---------------------------------------------------------------- client

const round = (n) => (n === null || Number.isNaN(n) ? null : Math.round(n * 100) / 100)

function ask(child, message, field) {
  return new Promise((resolve) => {
    const onMessage = (reply) => {
      if (reply && field in reply) {
        child.off('message', onMessage)
        resolve(reply[field])
      }
    }
    child.on('message', onMessage)
    child.send(message)
  })
}

function startChild(config, profileDir) {
  const execArgv = profileDir ? ['--cpu-prof', '--cpu-prof-dir', profileDir, '--cpu-prof-name', `${config.label}-${process.hrtime.bigint()}.cpuprofile`] : []
  if (process.env.BENCH_PG_QUERIES && config.kind === 'postgres') execArgv.push('--import', join(here, 'pg-query-count.js'))
  const child = fork(fileURLToPath(import.meta.url), ['--server-child', JSON.stringify(config)], { stdio: ['ignore', 'inherit', 'inherit', 'ipc'], execArgv })
  const ready = new Promise((resolve, reject) => {
    child.once('message', resolve)
    child.once('exit', (code) => reject(new Error(`server child exited with ${code}`)))
  })
  return { child, ready }
}

// ---------------------------------------------------------------- CPU per phase

/** CPU ms (user + system, every thread) in a `process.cpuUsage()` value. */
const cpuMs = (usage) => (usage.user + usage.system) / 1000

let clockTicks = null
/** Units of the times in /proc/<pid>/stat. */
function ticksPerSecond() {
  clockTicks ??= Number(execFileSync('getconf', ['CLK_TCK'], { encoding: 'utf8' }).trim()) || 100
  return clockTicks
}

/** A process's parent, its own CPU ticks and those of the children it has reaped; null once it is gone. */
function procStat(pid) {
  let text
  try {
    text = readFileSync(`/proc/${pid}/stat`, 'utf8')
  } catch {
    return null
  }
  // After "pid (comm) " come the fields from the 3rd (state) on; comm may hold spaces, not ")" + space.
  const fields = text.slice(text.lastIndexOf(')') + 2).split(' ')
  return { ppid: Number(fields[1]), own: Number(fields[11]) + Number(fields[12]), reaped: Number(fields[13]) + Number(fields[14]) }
}

/**
 * CPU ms a PostgreSQL cluster has used so far: the postmaster, its live children (backends,
 * WAL writer, checkpointer, …) and, through the postmaster's reaped-children times, the
 * backends whose connections have closed.
 */
function clusterCpuMs(dataDir) {
  const postmasterPid = Number(readFileSync(join(dataDir, 'postmaster.pid'), 'utf8').split('\n')[0])
  const postmaster = procStat(postmasterPid)
  if (!postmaster) return null
  let ticks = postmaster.own + postmaster.reaped
  for (const entry of readdirSync('/proc')) {
    if (!/^\d+$/.test(entry)) continue
    const stat = procStat(entry)
    if (stat?.ppid === postmasterPid) ticks += stat.own
  }
  return (ticks * 1000) / ticksPerSecond()
}

/** CPU ms used so far by each process of a run: the server children, this load generator, the waiter client, the cluster. */
async function cpuNow({ servers, waiterClient, cluster }) {
  const usages = await Promise.all(servers.map((child) => ask(child, 'cpu', 'cpu')))
  return {
    server: usages.reduce((sum, usage) => sum + cpuMs(usage), 0),
    sqlite_statements: usages.reduce((sum, usage) => sum + usage.sql.statements, 0),
    sqlite_execs: usages.reduce((sum, usage) => sum + usage.sql.execs, 0),
    load_generator: cpuMs(process.cpuUsage()),
    waiter_client: cpuMs(await ask(waiterClient, 'cpu', 'cpu')),
    postgres: cluster ? cluster.cpuMs() : null,
  }
}

/**
 * CPU ms per operation of each process between two samples and their sum, and the rates they
 * bound: a server process runs one event loop (≤ 1000 ms of CPU per second each; its figure
 * includes GC and I/O threads, so this bound is a little low), and the machine has its cores.
 */
function cpuPerOperation(before, after, operations, replicas) {
  const per = (field) => (before[field] === null || after[field] === null ? null : round((after[field] - before[field]) / operations))
  const ms = { server: per('server'), load_generator: per('load_generator'), waiter_client: per('waiter_client'), postgres: per('postgres') }
  const total = round(Object.values(ms).reduce((sum, value) => sum + (value ?? 0), 0))
  const count = (field) => (after[field] > before[field] ? round((after[field] - before[field]) / operations) : null)
  return {
    operations,
    ms_per_operation: { ...ms, total },
    // Prepared-statement runs and exec calls (BEGIN, SAVEPOINT, COMMIT…) of the SQLite server per operation.
    sqlite_statements_per_operation: count('sqlite_statements'),
    sqlite_execs_per_operation: count('sqlite_execs'),
    server_bound_per_second: ms.server > 0 ? Math.round((1000 * replicas) / ms.server) : null,
    machine_bound_per_second: total > 0 ? Math.round((1000 * cpus().length) / total) : null,
  }
}

/**
 * Measures `phase()`'s CPU across `processes`; returns its result and `cpu` (see cpuPerOperation).
 * With BENCH_CPU_PROF_PHASES, each server child is profiled for the phase (`<label>-<name>-<n>.cpuprofile`).
 */
async function withCpu(processes, name, operations, phase) {
  const profiled = PHASE_PROFILES ? processes.servers : []
  await Promise.all(profiled.map((child) => ask(child, { profile: 'start' }, 'profiling')))
  const before = await cpuNow(processes)
  const result = await phase()
  const after = await cpuNow(processes)
  await Promise.all(profiled.map((child, n) => ask(child, { profile: 'stop', file: join(PHASE_PROFILES, `${processes.label}-${name}-${n}.cpuprofile`) }, 'profiled')))
  return { result, cpu: cpuPerOperation(before, after, operations, processes.servers.length) }
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
 * A decision whose answer is only checked for its status: the body is read (the server wrote it
 * all) but not parsed, so the load generator spends as little as it can per decision.
 */
async function decide(pool, id, headers, body) {
  const response = await pool.request({ method: 'POST', path: `/v1/approvals/${id}/decision`, headers, body })
  if (response.statusCode !== 200) throw new Error(`decision answered ${response.statusCode}: ${await response.body.text()}`)
  await response.body.dump({ limit: Infinity })
}

/** Runs `work(i)` for i in [0, count) with `concurrency` in flight; returns elapsed ms and each call's latency. */
async function timed(count, concurrency, work) {
  let next = 0
  const latencies = []
  const started = performance.now()
  async function worker() {
    while (next < count) {
      const i = next++
      const sent = performance.now()
      await work(i)
      latencies.push(performance.now() - sent)
    }
  }
  await Promise.all(Array.from({ length: Math.min(concurrency, count) }, worker))
  latencies.sort((a, b) => a - b)
  return { ms: performance.now() - started, latencies }
}

const stats = (sorted) => ({ samples: sorted.length, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1) ?? null) })

/**
 * The three phases against `urls` (one per replica; calls alternate between them) with `keys`.
 * Returns creates/s, decisions/s and their latencies, how the waiters were answered, and each
 * phase's CPU per operation of `run.servers`, this process, the waiter client and `run.cluster`.
 */
async function phases(urls, keys, label, run) {
  const pools = urls.map((url) => new Pool(url, { connections: CONCURRENCY }))
  const poolOf = (i) => pools[i % pools.length]
  const waiterClient = await startWaiterClient()
  const processes = { ...run, waiterClient, label }
  try {
    // 1. creates
    const ids = new Array(CREATES)
    const { result: creates, cpu: createsCpu } = await withCpu(processes, 'creates', CREATES, () =>
      timed(CREATES, CONCURRENCY, async (i) => {
        const created = await json(poolOf(i), 'POST', '/v1/approvals', keys.request, { action: `deploy ${label} ${i}`, context: { run: i } })
        if (created.status !== 201) throw new Error(`create answered ${created.status}: ${JSON.stringify(created.body)}`)
        ids[i] = created.body.id
      }),
    )
    console.log(`  [${label}] ${CREATES} creates in ${Math.round(creates.ms)} ms`)

    // 2. waiters on the first WAITERS approvals (they are decided in the next phase), held by the waiter client
    const health = async () => {
      let total = 0
      for (const pool of pools) total += (await json(pool, 'GET', '/healthz', keys.request)).body.waiting
      return total
    }
    const { result: held, cpu: waitersCpu } = await withCpu(processes, 'waiters', WAITERS, async () => {
      await ask(waiterClient, { wait: { urls, key: keys.request, ids: ids.slice(0, WAITERS) } }, 'started')
      for (let tries = 0; tries < 600 && (await health()) < WAITERS; tries++) await new Promise((resolve) => setTimeout(resolve, 50))
      return health()
    })
    console.log(`  [${label}] ${held} long-polls held`)

    // 3. decisions: waiters' approvals interleaved with the others, so every batch wakes some
    const order = ids.map((id, i) => ({ id, i })).sort((a, b) => (a.i % 2) - (b.i % 2) || a.i - b.i)
    const sentAt = new Map()
    const headers = { authorization: `Bearer ${keys.decide}`, 'content-type': 'application/json' }
    const [reject, approve] = ['reject', 'approve'].map((decision) => JSON.stringify({ decision, reason: 'bench' }))
    const { result: decisions, cpu: decisionsCpu } = await withCpu(processes, 'decisions', order.length, () =>
      timed(order.length, CONCURRENCY, async (n) => {
        const { id } = order[n]
        sentAt.set(id, wallNow())
        await decide(poolOf(n), id, headers, n % 3 ? approve : reject)
      }),
    )
    console.log(`  [${label}] ${order.length} decisions in ${Math.round(decisions.ms)} ms`)
    const { answeredAt, errors: waiterErrors } = await ask(waiterClient, { answers: { withinMs: 30_000 } }, 'answered')
    const wake = answeredAt.map(([id, at]) => at - sentAt.get(id)).sort((a, b) => a - b)
    return {
      creates_per_second: Math.round((CREATES / creates.ms) * 1000),
      create_ms: stats(creates.latencies),
      decisions_per_second: Math.round((order.length / decisions.ms) * 1000),
      decide_ms: stats(decisions.latencies),
      waiters_held: held,
      waiters_answered: answeredAt.length,
      waiter_errors: waiterErrors,
      decision_to_waiter_answered_ms: stats(wake),
      cpu: { creates: createsCpu, waiters: waitersCpu, decisions: decisionsCpu },
    }
  } finally {
    await Promise.all(pools.map((pool) => pool.destroy().catch(() => {})))
    await closeWaiterClient(waiterClient)
  }
}

async function closeChild(child) {
  if (child.exitCode !== null) return
  await ask(child, 'close', 'closed')
  await new Promise((resolve) => (child.exitCode !== null ? resolve() : child.once('exit', resolve)))
}

async function sqliteRun(groupCommit, profileDir) {
  const label = `sqlite-${groupCommit ? 'group-commit' : 'one-commit-per-write'}`
  const dataDir = mkdtempSync(join(tmpdir(), 'ag-http-throughput-'))
  const { child, ready } = startChild({ kind: 'sqlite', dataDir, groupCommit, provision: true, label }, profileDir)
  try {
    const { url, keys } = await ready
    const result = await phases([url], keys, label, { servers: [child], cluster: null })
    const verify = await ask(child, 'verify', 'verify')
    if (!verify.ok) throw new Error(`audit chain does not verify after ${label}: ${JSON.stringify(verify)}`)
    return { ...result, audit_events_verified: verify.events }
  } finally {
    await closeChild(child).catch(() => child.kill('SIGKILL'))
    rmSync(dataDir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------- PostgreSQL

function findPostgresBin() {
  const root = '/usr/lib/postgresql'
  if (!existsSync(root)) return null
  const dirs = readdirSync(root).sort((a, b) => Number(b) - Number(a)).map((version) => join(root, version, 'bin'))
  return dirs.find((dir) => existsSync(join(dir, 'initdb'))) ?? null
}

function freePort() {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const { port } = server.address()
      server.close(() => resolve(port))
    })
  })
}

/** A throwaway cluster with durable commits (fsync, synchronous_commit on: the default). */
async function startPostgres(bin) {
  const asRoot = process.getuid?.() === 0
  const run = (tool, args) => execFileSync(asRoot ? 'runuser' : join(bin, tool), asRoot ? ['-u', 'postgres', '--', join(bin, tool), ...args] : args, { stdio: 'pipe', timeout: 60_000 })
  const dir = mkdtempSync(join(tmpdir(), 'ag-bench-pg-'))
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres'])), Number(execFileSync('id', ['-g', 'postgres'])))
  const port = await freePort()
  run('initdb', ['-D', join(dir, 'data'), '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'])
  run('pg_ctl', ['-D', join(dir, 'data'), '-o', `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c max_connections=100`, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start'])
  return {
    url: (database) => `postgres://postgres@127.0.0.1:${port}/${database}`,
    cpuMs: () => clusterCpuMs(join(dir, 'data')),
    createDatabase: (database) => run('psql', ['-h', '127.0.0.1', '-p', String(port), '-U', 'postgres', '-c', `CREATE DATABASE ${database}`]),
    stop() {
      try {
        run('pg_ctl', ['-D', join(dir, 'data'), '-m', 'immediate', '-w', 'stop'])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}

async function postgresRun(cluster, groupCommit, profileDir) {
  const label = `postgres-${groupCommit ? 'group-commit' : 'one-commit-per-write'}`
  const database = `bench_${groupCommit ? 'gc' : 'solo'}`
  cluster.createDatabase(database)
  const url = cluster.url(database)
  const dataDir = mkdtempSync(join(tmpdir(), 'ag-http-throughput-pg-'))
  // The first replica provisions (and migrates); the second starts once it is up.
  const first = startChild({ kind: 'postgres', url, dataDir, groupCommit, provision: true, label: `${label}-a` }, profileDir)
  const children = [first.child]
  try {
    const { url: urlA, keys } = await first.ready
    const second = startChild({ kind: 'postgres', url, dataDir, groupCommit, provision: false, label: `${label}-b` }, profileDir)
    children.push(second.child)
    const { url: urlB } = await second.ready
    const result = await phases([urlA, urlB], keys, label, { servers: children, cluster })
    const verify = await ask(first.child, 'verify', 'verify')
    if (!verify.ok) throw new Error(`audit chain does not verify after ${label}: ${JSON.stringify(verify)}`)
    return { ...result, audit_events_verified: verify.events }
  } finally {
    for (const child of children) await closeChild(child).catch(() => child.kill('SIGKILL'))
    rmSync(dataDir, { recursive: true, force: true })
  }
}

// ---------------------------------------------------------------- the run

/** One row per store, configuration and phase: CPU ms per operation of each process, and the rates they bound. */
function cpuRows(sqlite, postgres) {
  const rows = []
  for (const [store, figures] of [['sqlite', sqlite], ['postgres', postgres]]) {
    if (!figures) continue
    for (const [when, f] of Object.entries(figures)) {
      for (const [phase, cpu] of Object.entries(f.cpu)) {
        const ms = cpu.ms_per_operation
        rows.push({ store, when, phase, 'server ms/op': ms.server, 'load gen': ms.load_generator, waiters: ms.waiter_client, postgres: ms.postgres, 'sum ms/op': ms.total, 'sql/op': cpu.sqlite_statements_per_operation, 'exec/op': cpu.sqlite_execs_per_operation, 'server bound/s': cpu.server_bound_per_second, 'machine bound/s': cpu.machine_bound_per_second })
      }
    }
  }
  return rows
}

export default async function run() {
  const profileDir = process.env.BENCH_CPU_PROF || null
  if (profileDir) mkdirSync(profileDir, { recursive: true })
  if (PHASE_PROFILES) mkdirSync(PHASE_PROFILES, { recursive: true })
  const loadBefore = loadavg()[0]
  const started = performance.now()
  console.log(`http-throughput: ${CREATES} creates, ${WAITERS} waiters, ${CONCURRENCY} concurrent clients; ${cpus().length} cores, load ${loadBefore.toFixed(2)}`)
  // BENCH_HTTP_STORES=sqlite or =postgres runs one of the two.
  const stores = (process.env.BENCH_HTTP_STORES || 'sqlite,postgres').split(',')
  const groupCommitOnly = process.env.BENCH_HTTP_GROUP_COMMIT_ONLY === '1'
  const sqlite = stores.includes('sqlite') ? { ...(groupCommitOnly ? {} : { before: await sqliteRun(false, profileDir) }), after: await sqliteRun(true, profileDir) } : null
  let postgres = null
  const bin = findPostgresBin()
  if (bin && stores.includes('postgres')) {
    const cluster = await startPostgres(bin)
    try {
      postgres = { ...(groupCommitOnly ? {} : { before: await postgresRun(cluster, false, profileDir) }), after: await postgresRun(cluster, true, profileDir) }
    } finally {
      cluster.stop()
    }
  } else console.log('  PostgreSQL binaries not found (or not asked for): the two-replica rows are skipped')

  const result = {
    bench: 'http-throughput',
    date: new Date().toISOString(),
    seconds: Math.round((performance.now() - started) / 1000),
    machine: { cpus: cpus().length, cpu_model: cpus()[0]?.model, total_mem_mb: Math.round(totalmem() / 1024 / 1024), node: process.version, load_before: round(loadBefore), load_after: round(loadavg()[0]) },
    setup: { concurrency: CONCURRENCY, creates: CREATES, waiters: WAITERS, server_lib: process.env.BENCH_SERVER_LIB ?? 'lib' },
    sqlite,
    postgres,
    targets: TARGETS,
  }
  const rows = []
  for (const [store, figures] of [['sqlite', sqlite], ['postgres (2 replicas)', postgres]]) {
    if (!figures) continue
    for (const [when, f] of Object.entries(figures))
      rows.push({ store, when, 'creates/s': f.creates_per_second, 'create p99': f.create_ms.p99, 'decisions/s': f.decisions_per_second, 'decide p50': f.decide_ms.p50, 'decide p99': f.decide_ms.p99, 'wake p99': f.decision_to_waiter_answered_ms.p99, answered: `${f.waiters_answered}/${f.waiters_held}` })
  }
  console.table(rows)
  console.table(cpuRows(sqlite, postgres))
  mkdirSync(join(here, 'results'), { recursive: true })
  writeFileSync(join(here, 'results', 'http-throughput.json'), `${JSON.stringify(result, null, 2)}\n`)
  return result
}

if (process.argv[2] === '--waiter-client') {
  waiterClient()
} else if (process.argv[2] === '--server-child') {
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
