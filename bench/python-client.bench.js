// Decision → resume of the Python client (python/, `approval_gate.require_approval` with its
// defaults) against the real server, beside the naive baseline poller (bench/baseline-poller.js:
// first check 5 s after create, then every 5 s) in the same run, against the same server.
//
// The real server is `approval-gate serve` (child process, temp SQLite data dir, provisioned with
// the CLI). The Python gates run in one Python process (bench/python-client-driver.py, Debian's
// /usr/bin/python3 with httpx), N concurrent calls; each approval is found by its action through
// the list API and decided over the decision API at a uniformly random 0.3–12 s after it
// appeared. Latency: from the moment the decision POST is sent to the moment the Python call
// returned, both read on CLOCK_MONOTONIC (Node's process.hrtime.bigint() and Python's
// time.monotonic_ns() on Linux), so no pipe sits in the measurement. The naive poller is timed
// with bench/gate-measurement.js, as in the other gate benches.
// Run: `npm run build && node bench/python-client.bench.js [gates]` (Node 24: via npx/npm).
import { spawn } from 'node:child_process'
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { createInterface } from 'node:readline'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { CLI, cli } from './approval-gate-cli.js'
import { naiveRequireApproval } from './baseline-poller.js'
import { DECISION_SPAN_MS, measureGates, percentile } from './gate-measurement.js'

const here = dirname(fileURLToPath(import.meta.url))
const ROOT = join(here, '..')
const PYTHON = process.env.APPROVAL_GATE_PYTHON ?? '/usr/bin/python3'
const TARGETS = { p50_ms: 20, p99_ms: 100 }

const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms))
const roundTenth = (ms) => Math.round(ms * 10) / 10

function progress(message) {
  process.stderr.write(`[python-client] ${message}\n`)
}

/** Provisions a data dir (project + request key, decide key) and starts `serve` on a free port. */
async function startRealServer() {
  if (!existsSync(CLI)) throw new Error(`${CLI} is missing — run \`npm run build\` first`)
  const dataDir = mkdtempSync(join(tmpdir(), 'approval-gate-bench-python-'))
  const { api_key: requestKey } = JSON.parse(await cli(['project', 'create', 'bench', '--data', dataDir, '--json']))
  const { api_key: decideKey } = JSON.parse(await cli(['keys', 'create', '--project', 'bench', '--scope', 'decide', '--data', dataDir, '--json']))
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data', dataDir, '--quiet'], { stdio: ['ignore', 'ignore', 'pipe'] })
  const url = await new Promise((resolve, reject) => {
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      err += chunk
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)
      if (match) resolve(match[1])
    })
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)))
  })
  const request = async (path, key, init = {}) => {
    const response = await fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' } })
    const text = await response.text()
    if (!response.ok) throw new Error(`${init.method ?? 'GET'} ${path} answered ${response.status}: ${text}`)
    return JSON.parse(text)
  }
  return {
    url,
    requestKey,
    /** The pending approval of `action`, once it exists (polled every 20 ms). */
    async pendingId(action, timeoutMs = 60_000) {
      const until = Date.now() + timeoutMs
      for (;;) {
        const page = await request(`/v1/approvals?status=pending&action=${encodeURIComponent(action)}`, requestKey)
        if (page.items.length > 0) return page.items[0].id
        if (Date.now() > until) throw new Error(`no pending approval for ${action} within ${timeoutMs} ms`)
        await sleep(20)
      }
    },
    /** Approves `id`; resolves with the CLOCK_MONOTONIC time (ns) just before the POST was sent. */
    async approve(id) {
      const sentAt = process.hrtime.bigint()
      await request(`/v1/approvals/${encodeURIComponent(id)}/decision`, decideKey, { method: 'POST', body: JSON.stringify({ decision: 'approve', reason: 'bench' }) })
      return sentAt
    },
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Starts the Python driver with `gates` concurrent calls; `resumed` maps action → CLOCK_MONOTONIC ns. */
function startPythonGates(server, gates, prefix) {
  const child = spawn(PYTHON, [join(here, 'python-client-driver.py'), String(gates), prefix], {
    cwd: ROOT,
    stdio: ['ignore', 'pipe', 'pipe'],
    env: {
      ...Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(APPROVAL_GATE_|JAMJET_)/.test(name))),
      PYTHONPATH: join(ROOT, 'python'),
      PYTHONDONTWRITEBYTECODE: '1',
      APPROVAL_GATE_API_URL: server.url,
      APPROVAL_GATE_API_KEY: server.requestKey,
    },
  })
  const resumed = new Map()
  const failures = []
  let versions = {}
  let stderr = ''
  child.stderr.setEncoding('utf8').on('data', (chunk) => (stderr += chunk))
  createInterface({ input: child.stdout }).on('line', (line) => {
    const event = JSON.parse(line)
    if (event.event === 'started') versions = { python: event.python, httpx: event.httpx, client: event.client }
    if (event.event === 'resumed') resumed.set(event.action, BigInt(event.mono_ns))
    if (event.event === 'failed') failures.push(`${event.action}: ${event.error}`)
  })
  const done = new Promise((resolve, reject) => {
    child.once('error', reject)
    child.once('close', (code) => (code === 0 ? resolve() : reject(new Error(`python-client-driver.py exited ${code}: ${stderr}`))))
  })
  return { resumed, failures, done, versions: () => versions }
}

/** N Python gates, each decided at a random moment after its approval appeared. */
async function measurePython(server, gates) {
  const prefix = `py-bench-${Date.now()}`
  const driver = startPythonGates(server, gates, prefix)
  const sentAt = new Map()
  const decideOne = async (i) => {
    const action = `${prefix}-${i}`
    const id = await server.pendingId(action)
    await sleep(DECISION_SPAN_MS[0] + Math.random() * (DECISION_SPAN_MS[1] - DECISION_SPAN_MS[0]))
    sentAt.set(action, await server.approve(id))
  }
  await Promise.all([...Array.from({ length: gates }, (_, i) => decideOne(i)), driver.done])
  if (driver.failures.length) throw new Error(`Python gates failed: ${driver.failures.join('; ')}`)
  const latencies = [...sentAt].map(([action, sent]) => Number(driver.resumed.get(action) - sent) / 1e6).sort((a, b) => a - b)
  return {
    row: {
      poller: 'Python client (require_approval defaults) → real server',
      gates,
      latency_ms: { p50: roundTenth(percentile(latencies, 50)), p99: roundTenth(percentile(latencies, 99)), max: roundTenth(latencies.at(-1)) },
      requests_per_waited_hour: null,
    },
    versions: driver.versions(),
  }
}

/** Measures the Python client and the naive baseline against one real server; writes bench/results/python-client.json. */
export default async function run({ gates = Number(process.argv[2]) || 20 } = {}) {
  if (!existsSync(PYTHON)) throw new Error(`${PYTHON} is missing (apt-get install python3-httpx)`)
  progress('starting the real server (approval-gate serve, SQLite)')
  const server = await startRealServer()
  try {
    progress(`${gates} gates per poller, decided ${DECISION_SPAN_MS[0] / 1000}–${DECISION_SPAN_MS[1] / 1000} s after creation; both pollers at once`)
    const [python, naive] = await Promise.all([
      measurePython(server, gates),
      measureGates({
        name: 'naive baseline (first check after 5 s, then every 5 s) → real server',
        gates,
        windowMs: 0, // latency only: no requests-per-hour window
        startGate: (action, onCreated, signal) => naiveRequireApproval(`naive-${action}`, { apiUrl: server.url, apiKey: server.requestKey, signal, onCreated }),
        decide: (id) => server.approve(id),
        checksOf: () => [],
        log: progress,
      }),
    ])
    const rows = [python.row, { ...naive, requests_per_waited_hour: null }]
    progress(`  ${python.row.poller}: p50 ${python.row.latency_ms.p50} ms, p99 ${python.row.latency_ms.p99} ms`)
    const result = {
      benchmark: 'python-client',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: process.platform, ...python.versions },
      method:
        'approval-gate serve (child process, SQLite) on loopback. The Python gates are concurrent require_approval calls (defaults: immediate check, then ?wait=30 long-polls) in one Python process; ' +
        'each approval is decided over the API at a uniformly random 0.3–12 s after it appeared. Latency: decision POST sent → the Python call returned, both on CLOCK_MONOTONIC. ' +
        'The naive baseline runs at the same time against the same server, timed in Node.',
      rows,
      targets: TARGETS,
      targets_met: { p50: python.row.latency_ms.p50 <= TARGETS.p50_ms, p99: python.row.latency_ms.p99 <= TARGETS.p99_ms },
    }
    console.table(rows.map((r) => ({ poller: r.poller, gates: r.gates, 'p50 ms': r.latency_ms.p50, 'p99 ms': r.latency_ms.p99, 'max ms': r.latency_ms.max })))
    mkdirSync(join(here, 'results'), { recursive: true })
    writeFileSync(join(here, 'results', 'python-client.json'), `${JSON.stringify(result, null, 2)}\n`)
    progress('wrote bench/results/python-client.json')
    return result
  } finally {
    await server.close()
  }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
