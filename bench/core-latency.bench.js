// Decision→resume latency and requests per waited hour of the polling core, against an
// approvals server that honours `?wait=` (long-poll) and one that ignores it, beside a naive
// fixed-interval poller (first check 5 s after create, then every 5 s: the seed's default).
//
// Real time throughout, no scaling: the core uses its defaults (long-poll ≤ 30 s,
// pollIntervalMs 5 s), the naive poller a real 5 s interval. Gates run concurrently, each
// decided at a random moment, so the whole run takes about `windowMs` (default 65 s).
// Requests per waited hour are extrapolated from the steady request rate of one undecided gate
// per poller over that window: (requests − 1) / (last start − first start) · 3,600 s.
// Run: `npm run build && node bench/core-latency.bench.js [gates] [windowSeconds]` (Node 24: via npx/npm).
import { mkdirSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { cpus } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const API_KEY = 'bench-key'
const NAIVE_INTERVAL_MS = 5_000
/** Decisions land uniformly at random in this span after a gate's approval is created. */
const DECISION_SPAN_MS = [300, 12_000]

async function loadCore() {
  try {
    return await import('../lib/approval/index.js')
  } catch (error) {
    throw new Error(`cannot load lib/approval/index.js — run \`npm run build\` first (${error.message})`)
  }
}

function progress(message) {
  process.stderr.write(`[core-latency] ${message}\n`)
}

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))

/**
 * A minimal in-memory approvals API (create, get with optional long-poll). `honourWait: false`
 * answers `?wait=` at once, like a server without long-poll support (e.g. JamJet Cloud).
 * Records the start time of every status check, per approval.
 */
async function startBenchServer({ honourWait }) {
  const approvals = new Map()
  const waiters = new Map()
  const checks = new Map() // id → [performance.now() of each GET]
  let created = 0
  const send = (res, status, body) => {
    if (res.writableEnded || res.destroyed) return
    const text = JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.end(text)
  }
  const server = createServer((req, res) => {
    let body = ''
    req.on('data', (chunk) => (body += chunk))
    req.on('end', () => {
      if (req.headers.authorization !== `Bearer ${API_KEY}`) return send(res, 401, { error: { code: 'unauthorized', message: 'bad key' } })
      const url = new URL(req.url, 'http://bench')
      const parts = url.pathname.split('/').filter(Boolean)
      if (req.method === 'POST' && parts.length === 2) {
        const id = `apr_bench_${++created}`
        const record = { id, status: 'pending', action: JSON.parse(body).action, created_at: new Date().toISOString() }
        approvals.set(id, record)
        checks.set(id, [])
        return send(res, 201, record)
      }
      const id = decodeURIComponent(parts[2] ?? '')
      const record = approvals.get(id)
      if (req.method !== 'GET' || !record) return send(res, 404, { error: { code: 'not_found', message: 'no such approval' } })
      checks.get(id).push(performance.now())
      const wait = Number(url.searchParams.get('wait'))
      if (!honourWait || record.status !== 'pending' || !(wait > 0)) return send(res, 200, record)
      const finish = () => {
        clearTimeout(timer)
        waiters.get(id)?.delete(finish)
        send(res, 200, record)
      }
      const timer = setTimeout(finish, Math.min(wait, 60) * 1000)
      if (!waiters.has(id)) waiters.set(id, new Set())
      waiters.get(id).add(finish)
      res.on('close', finish)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    checks,
    approve(id) {
      approvals.get(id).status = 'approved'
      for (const finish of waiters.get(id) ?? []) finish()
      waiters.delete(id)
    },
    close() {
      for (const set of waiters.values()) for (const finish of set) finish()
      server.closeAllConnections()
      return new Promise((resolve) => server.close(resolve))
    },
  }
}

/** The baseline: create, then sleep the interval before every check (no long-poll). */
async function naiveRequireApproval(action, { apiUrl, apiKey, pollIntervalMs, onCreated }) {
  const headers = { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }
  const created = await (await fetch(`${apiUrl}/v1/approvals`, { method: 'POST', headers, body: JSON.stringify({ action, context: {} }) })).json()
  onCreated?.(created.id)
  for (;;) {
    await sleep(pollIntervalMs)
    const record = await (await fetch(`${apiUrl}/v1/approvals/${encodeURIComponent(created.id)}`, { headers })).json()
    if (record.status === 'approved') return created.id
    if (record.status !== 'pending') throw new Error(`naive poller: ${record.status}`)
  }
}

function percentile(sorted, p) {
  if (sorted.length === 0) return Number.NaN
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))]
}

/**
 * Runs `gates` gates with one poller against one server; each is approved at a random time
 * after creation, and we measure approve() → the poller's promise resolving. Meanwhile one
 * extra, never-decided gate measures the steady request rate over `windowMs`.
 */
async function measure({ name, server, startGate, gates, windowMs }) {
  const latencies = []
  const random = () => DECISION_SPAN_MS[0] + Math.random() * (DECISION_SPAN_MS[1] - DECISION_SPAN_MS[0])
  const oneGate = async (i) => {
    let decidedAt = 0
    let decision
    const resolved = startGate(`bench_${i}`, (id) => {
      decision = sleep(random()).then(() => {
        decidedAt = performance.now()
        server.approve(id)
      })
    })
    await resolved
    const resumedAt = performance.now()
    await decision
    latencies.push(resumedAt - decidedAt)
  }
  // The rate gate: never decided, abandoned (aborted) at the end of the window.
  const rateAbort = new AbortController()
  let rateId
  const rateGate = startGate('bench_rate', (id) => (rateId = id), rateAbort.signal).catch(() => {})
  const started = performance.now()
  await Promise.all([...Array.from({ length: gates }, (_, i) => oneGate(i)), sleep(windowMs)])
  rateAbort.abort()
  await rateGate
  const starts = server.checks.get(rateId) ?? []
  const span = starts.length > 1 ? starts.at(-1) - starts[0] : Number.NaN
  const perHour = starts.length > 1 ? ((starts.length - 1) / span) * 3_600_000 : Number.NaN
  latencies.sort((a, b) => a - b)
  const result = {
    poller: name,
    gates,
    latency_ms: {
      p50: Math.round(percentile(latencies, 50) * 10) / 10,
      p99: Math.round(percentile(latencies, 99) * 10) / 10,
      max: Math.round(latencies.at(-1) * 10) / 10,
    },
    // null: the window held fewer than two status checks (long-polls last 30 s: use a window > 60 s).
    requests_per_waited_hour: Number.isFinite(perHour) ? Math.round(perHour) : null,
    rate_window: { status_checks: starts.length, span_ms: Math.round(span) },
    elapsed_ms: Math.round(performance.now() - started),
  }
  progress(`  ${name}: p50 ${result.latency_ms.p50} ms, p99 ${result.latency_ms.p99} ms, ~${result.requests_per_waited_hour} requests/waited hour`)
  return result
}

function table(rows) {
  const header = ['poller', 'p50 resume', 'p99 resume', 'max', 'requests / waited hour']
  const lines = rows.map((r) => [r.poller, `${r.latency_ms.p50} ms`, `${r.latency_ms.p99} ms`, `${r.latency_ms.max} ms`, r.requests_per_waited_hour === null ? 'n/a (window too short)' : String(r.requests_per_waited_hour)])
  const widths = header.map((h, i) => Math.max(h.length, ...lines.map((l) => l[i].length)))
  const fmt = (cells) => `| ${cells.map((c, i) => c.padEnd(widths[i])).join(' | ')} |`
  return [fmt(header), `|${widths.map((w) => '-'.repeat(w + 2)).join('|')}|`, ...lines.map(fmt)].join('\n')
}

/**
 * Measures the core (long-poll server, wait-ignoring server) and the naive poller, prints a
 * table, writes bench/results/core-latency.json and returns the results.
 */
export default async function run({ gates = Number(process.argv[2]) || 30, windowMs = (Number(process.argv[3]) || 65) * 1000 } = {}) {
  const { requireApproval } = await loadCore()
  const servers = {
    honouring: await startBenchServer({ honourWait: true }),
    ignoring: await startBenchServer({ honourWait: false }),
    naive: await startBenchServer({ honourWait: false }),
  }
  const coreGate = (server) => (action, onCreated, signal) =>
    requireApproval(action, {
      apiUrl: server.url,
      apiKey: API_KEY,
      signal,
      onProgress: (event) => event.type === 'created' && onCreated(event.approvalId),
    })
  try {
    progress(`${gates} gates per poller, decisions at random 0.3–12 s after creation; rate window ${windowMs / 1000} s (real time, all pollers concurrently)`)
    const rows = await Promise.all([
      measure({ name: 'core, server honours wait (long-poll)', server: servers.honouring, startGate: coreGate(servers.honouring), gates, windowMs }),
      measure({ name: 'core, server ignores wait (pollIntervalMs 5 s)', server: servers.ignoring, startGate: coreGate(servers.ignoring), gates, windowMs }),
      measure({
        name: 'naive poller (every 5 s, first after 5 s)',
        server: servers.naive,
        gates,
        windowMs,
        startGate: (action, onCreated, signal) => {
          const gate = naiveRequireApproval(action, { apiUrl: servers.naive.url, apiKey: API_KEY, pollIntervalMs: NAIVE_INTERVAL_MS, onCreated })
          // The naive poller has no abort: stop waiting for it (its loop ends with the server).
          return signal ? Promise.race([gate, new Promise((_, reject) => signal.addEventListener('abort', () => reject(new Error('abandoned'))))]) : gate
        },
      }),
    ])
    const result = {
      benchmark: 'core-latency',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: process.platform },
      method:
        'Loopback HTTP, real time (no scaling). Latency: approve() on the server → the poller resolves, over N gates decided at uniformly random times 0.3–12 s after creation (with N = 30, p99 is the slowest gate). ' +
        'Requests/waited hour: steady status-check rate of one undecided gate over the window, (checks − 1) / (last − first start), extrapolated to an hour (create not counted).',
      rows,
    }
    console.log(table(rows))
    mkdirSync(join(here, 'results'), { recursive: true })
    writeFileSync(join(here, 'results', 'core-latency.json'), `${JSON.stringify(result, null, 2)}\n`)
    progress('wrote bench/results/core-latency.json')
    return result
  } finally {
    await Promise.all(Object.values(servers).map((server) => server.close()))
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
