// Decision → resume and requests per waited hour as users run it: the real server
// (`approval-gate serve` as a child process on a temp SQLite data dir, provisioned with the
// CLI), gates waiting through the polling core (`requireApproval` with its defaults), and
// decisions made through the decision API — beside the naive baseline poller
// (bench/baseline-poller.js: first check 5 s after create, then every 5 s) in the same run,
// against the same server.
//
// Latency: from sending `POST /v1/approvals/{id}/decision` to the waiting call resolving, over N
// gates per poller decided at uniformly random times 0.3–12 s after creation (real time).
// Requests per waited hour: the status checks of one never-decided gate per poller, counted
// from the server's own request log: (checks − 1) / (last − first) · 1 h.
// Run: `npm run build && node bench/real-server-gates.bench.js [gates] [windowSeconds]` (Node 24: via npx/npm).
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { CLI, cli } from './approval-gate-cli.js'
import { naiveRequireApproval } from './baseline-poller.js'
import { measureGates } from './gate-measurement.js'

const here = dirname(fileURLToPath(import.meta.url))
const TARGETS = { p50_ms: 20, p99_ms: 100, requests_per_hour: 150 }

function progress(message) {
  process.stderr.write(`[real-server-gates] ${message}\n`)
}

/**
 * Provisions a data dir and starts `serve` with its JSON request log on, which we read to
 * count each approval's status checks (`checks`: approval id → [ms timestamps]).
 */
async function startRealServer() {
  const dataDir = mkdtempSync(join(tmpdir(), 'approval-gate-bench-gates-'))
  const { api_key: requestKey } = JSON.parse(await cli(['project', 'create', 'bench', '--data', dataDir, '--json']))
  const { api_key: decideKey } = JSON.parse(await cli(['keys', 'create', '--project', 'bench', '--scope', 'decide', '--data', dataDir, '--json']))
  const child = spawn(process.execPath, [CLI, 'serve', '--port', '0', '--data', dataDir, '--log-level', 'info', '--log-format', 'json'], { stdio: ['ignore', 'pipe', 'pipe'] })
  const checks = new Map()
  let buffered = ''
  child.stdout.setEncoding('utf8').on('data', (chunk) => {
    buffered += chunk
    const lines = buffered.split('\n')
    buffered = lines.pop()
    for (const line of lines) {
      // One line per answered request (method, path, status, ms); it arrived `ms` before `time`.
      if (!line.startsWith('{')) continue
      const entry = JSON.parse(line)
      const match = entry.method === 'GET' && typeof entry.path === 'string' ? /^\/v1\/approvals\/([^/?]+)$/.exec(entry.path) : null
      if (!match) continue
      if (!checks.has(match[1])) checks.set(match[1], [])
      checks.get(match[1]).push(entry.time - entry.ms)
    }
  })
  const url = await new Promise((resolve, reject) => {
    let err = ''
    child.stderr.setEncoding('utf8').on('data', (chunk) => {
      err += chunk
      const match = /listening on (http:\/\/127\.0\.0\.1:\d+)/.exec(err)
      if (match) resolve(match[1])
    })
    child.once('exit', (code) => reject(new Error(`serve exited ${code}: ${err}`)))
  })
  return {
    url,
    requestKey,
    checks,
    async decide(id) {
      const response = await fetch(`${url}/v1/approvals/${encodeURIComponent(id)}/decision`, {
        method: 'POST',
        headers: { authorization: `Bearer ${decideKey}`, 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approve', reason: 'bench' }),
      })
      await response.text()
      if (response.status !== 200) throw new Error(`decision answered ${response.status}`)
    },
    async close() {
      const exited = new Promise((resolve) => child.once('exit', resolve))
      child.kill('SIGTERM')
      await exited
      rmSync(dataDir, { recursive: true, force: true })
    },
  }
}

/** Measures the core and the naive baseline against one real server; writes bench/results/real-server-gates.json. */
export default async function run({ gates = Number(process.argv[2]) || 40, windowMs = (Number(process.argv[3]) || 65) * 1000 } = {}) {
  let core
  try {
    core = await import('../lib/client/index.js')
  } catch (error) {
    throw new Error(`cannot load lib/client/index.js — run \`npm run build\` first (${error.message})`)
  }
  progress('starting the real server (approval-gate serve, SQLite)')
  const server = await startRealServer()
  try {
    progress(`${gates} gates per poller, decided 0.3–12 s after creation; rate window ${windowMs / 1000} s; both pollers at once`)
    const measure = (name, startGate) =>
      measureGates({ name, gates, windowMs, startGate, decide: (id) => server.decide(id), checksOf: (id) => server.checks.get(id), log: progress })
    const rows = await Promise.all([
      measure('core (requireApproval defaults) → real server', (action, onCreated, signal) =>
        core.requireApproval(action, { apiUrl: server.url, apiKey: server.requestKey, signal, onProgress: (event) => event.type === 'created' && onCreated(event.approvalId) }),
      ),
      measure('naive baseline (first check after 5 s, then every 5 s) → real server', (action, onCreated, signal) =>
        naiveRequireApproval(action, { apiUrl: server.url, apiKey: server.requestKey, signal, onCreated }),
      ),
    ])
    const [coreRow] = rows
    const result = {
      benchmark: 'real-server-gates',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: process.platform },
      method:
        'approval-gate serve (child process, SQLite, request log on) on loopback. Latency: decision POST sent → the waiting call resolves; gates decided at uniformly random 0.3–12 s after creation, core and baseline concurrently. ' +
        'Requests/waited hour: status checks of one never-decided gate per poller from the server request log, (checks − 1) / (last − first) · 1 h (create not counted).',
      rows,
      targets: TARGETS,
      targets_met: {
        p50: coreRow.latency_ms.p50 <= TARGETS.p50_ms,
        p99: coreRow.latency_ms.p99 <= TARGETS.p99_ms,
        requests_per_hour: coreRow.requests_per_waited_hour !== null && coreRow.requests_per_waited_hour <= TARGETS.requests_per_hour,
      },
    }
    console.table(rows.map((r) => ({ poller: r.poller, 'p50 ms': r.latency_ms.p50, 'p99 ms': r.latency_ms.p99, 'max ms': r.latency_ms.max, 'requests/h': r.requests_per_waited_hour })))
    mkdirSync(join(here, 'results'), { recursive: true })
    writeFileSync(join(here, 'results', 'real-server-gates.json'), `${JSON.stringify(result, null, 2)}\n`)
    progress('wrote bench/results/real-server-gates.json')
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
