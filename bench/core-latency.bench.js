// Decision→resume latency and requests per waited hour of the polling core, against an
// approvals server that honours `?wait=` (long-poll) and one that ignores it, beside a naive
// fixed-interval poller (bench/baseline-poller.js: first check 5 s after create, then every
// 5 s: the seed's default). The measurement itself is bench/gate-measurement.js.
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
import { naiveRequireApproval } from './baseline-poller.js'
import { measureGates } from './gate-measurement.js'

const here = dirname(fileURLToPath(import.meta.url))
const API_KEY = 'bench-key'

async function loadCore() {
  try {
    return await import('../lib/client/index.js')
  } catch (error) {
    throw new Error(`cannot load lib/client/index.js — run \`npm run build\` first (${error.message})`)
  }
}

function progress(message) {
  process.stderr.write(`[core-latency] ${message}\n`)
}

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
    const measure = (name, server, startGate) =>
      measureGates({ name, gates, windowMs, startGate, decide: (id) => server.approve(id), checksOf: (id) => server.checks.get(id), log: progress })
    const rows = await Promise.all([
      measure('core, server honours wait (long-poll)', servers.honouring, coreGate(servers.honouring)),
      measure('core, server ignores wait (pollIntervalMs 5 s)', servers.ignoring, coreGate(servers.ignoring)),
      // bench/baseline-poller.js at its default interval (5 s): first check 5 s after create.
      measure('naive poller (every 5 s, first after 5 s)', servers.naive, (action, onCreated, signal) =>
        naiveRequireApproval(action, { apiUrl: servers.naive.url, apiKey: API_KEY, signal, onCreated }),
      ),
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
