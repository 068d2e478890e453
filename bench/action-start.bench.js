// Action start-up cost: how long from spawning `node dist/index.js` (the committed bundle, as a
// runner starts it) until a loopback approvals API receives its first request, and how long
// the whole approved run takes; beside the floor, a bare `node -e ''` process. Also the bundle
// size (bytes of dist/index.js, and gzipped). Median of N runs after one warm-up.
// Run: `node bench/action-start.bench.js [runs]` (Node 24: via npx/npm). Writes
// bench/results/action-start.json.
import { spawn } from 'node:child_process'
import { mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs'
import { createServer } from 'node:http'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { gzipSync } from 'node:zlib'

const here = dirname(fileURLToPath(import.meta.url))
const BUNDLE = join(here, '..', 'dist', 'index.js')
const API_KEY = 'bench-key'

function progress(message) {
  process.stderr.write(`[action-start] ${message}\n`)
}

/**
 * A tiny approvals API: create answers pending, every status check answers approved, so a run
 * ends right after its first check. `onFirstRequest` hears the moment a run's first request arrives.
 */
async function startApi() {
  let onRequest = () => {}
  const server = createServer((req, res) => {
    onRequest(performance.now())
    req.resume()
    req.on('end', () => {
      const id = 'apr_bench'
      const record = (status) => ({ id, status, created_at: new Date().toISOString(), decided_by: status === 'approved' ? 'bench' : null })
      const body = JSON.stringify(req.method === 'POST' ? record('pending') : record('approved'))
      res.writeHead(req.method === 'POST' ? 201 : 200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      res.end(body)
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}`,
    /** Resolves with the arrival time of the next request. */
    nextRequest: () => new Promise((resolve) => (onRequest = (at) => ((onRequest = () => {}), resolve(at)))),
    close: () => new Promise((resolve) => server.close(resolve)),
  }
}

/** Spawns a process; resolves with its exit time and code. */
function runProcess(args, env, cwd) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, args, { env, cwd, stdio: ['ignore', 'ignore', 'pipe'] })
    let stderr = ''
    child.stderr.on('data', (chunk) => (stderr += chunk))
    child.once('error', reject)
    child.once('close', (code) => resolve({ exitedAt: performance.now(), code, stderr }))
  })
}

/** One action run: spawn → first request, spawn → exit. */
async function measureAction(api) {
  const dir = mkdtempSync(join(tmpdir(), 'approval-gate-bench-'))
  try {
    const files = { GITHUB_OUTPUT: join(dir, 'output'), GITHUB_STEP_SUMMARY: join(dir, 'summary'), GITHUB_STATE: join(dir, 'state') }
    for (const path of Object.values(files)) writeFileSync(path, '')
    const env = { PATH: process.env.PATH ?? '', ...files, INPUT_ACTION: 'bench', 'INPUT_API-URL': api.url, 'INPUT_API-KEY': API_KEY, GITHUB_REPOSITORY: 'bench/bench', GITHUB_RUN_ID: '1' }
    const firstRequest = api.nextRequest()
    const startedAt = performance.now()
    const result = await runProcess([BUNDLE], env, dir)
    if (result.code !== 0) throw new Error(`the action exited ${result.code}: ${result.stderr}`)
    return { firstRequestMs: (await firstRequest) - startedAt, totalMs: result.exitedAt - startedAt }
  } finally {
    rmSync(dir, { recursive: true, force: true })
  }
}

async function measureBareNode() {
  const startedAt = performance.now()
  const result = await runProcess(['-e', ''], { PATH: process.env.PATH ?? '' }, tmpdir())
  return result.exitedAt - startedAt
}

function summarise(values) {
  const sorted = [...values].sort((a, b) => a - b)
  const median = sorted.length % 2 ? sorted[(sorted.length - 1) / 2] : (sorted[sorted.length / 2 - 1] + sorted[sorted.length / 2]) / 2
  const round = (ms) => Math.round(ms * 10) / 10
  return { median: round(median), min: round(sorted[0]), max: round(sorted.at(-1)) }
}

/** Runs the benchmark, prints a table, writes bench/results/action-start.json, returns the result. */
export default async function run(runs = Number(process.argv[2] ?? 10)) {
  const bundleBytes = statSync(BUNDLE).size
  const api = await startApi()
  try {
    progress(`warm-up, then ${runs} runs of dist/index.js against ${api.url}`)
    await measureAction(api)
    await measureBareNode()
    const actionRuns = []
    const bare = []
    for (let i = 0; i < runs; i++) {
      actionRuns.push(await measureAction(api))
      bare.push(await measureBareNode())
      progress(`run ${i + 1}/${runs}: first request after ${actionRuns.at(-1).firstRequestMs.toFixed(1)} ms`)
    }
    const result = {
      benchmark: 'action-start',
      date: new Date().toISOString(),
      machine: { cpus: cpus().length, cpu: cpus()[0]?.model ?? 'unknown', node: process.version, platform: process.platform },
      method:
        `Loopback HTTP. Spawn of \`node dist/index.js\` (valid inputs as INPUT_* env, temp GITHUB_* files, temp cwd) → arrival of its first request (the create) at the server; ` +
        `total = spawn → exit of an approved run (create answered pending, the first check approved). Median/min/max of ${runs} runs after one warm-up. ` +
        'Floor: spawn → exit of `node -e ""`.',
      runs,
      start_to_first_request_ms: summarise(actionRuns.map((r) => r.firstRequestMs)),
      start_to_exit_ms: summarise(actionRuns.map((r) => r.totalMs)),
      bare_node_start_to_exit_ms: summarise(bare),
      bundle_bytes: bundleBytes,
      bundle_gzip_bytes: gzipSync(readFileSync(BUNDLE)).length,
    }
    console.log(
      [
        '| measure | median | min | max |',
        '|---|---|---|---|',
        ...[
          ['action start → first request (ms)', result.start_to_first_request_ms],
          ['action start → exit, approved (ms)', result.start_to_exit_ms],
          ['bare `node -e ""` start → exit (ms)', result.bare_node_start_to_exit_ms],
        ].map(([name, s]) => `| ${name} | ${s.median} | ${s.min} | ${s.max} |`),
        '',
        `dist/index.js: ${bundleBytes} bytes (${result.bundle_gzip_bytes} gzipped)`,
      ].join('\n'),
    )
    mkdirSync(join(here, 'results'), { recursive: true })
    writeFileSync(join(here, 'results', 'action-start.json'), `${JSON.stringify(result, null, 2)}\n`)
    progress('wrote bench/results/action-start.json')
    return result
  } finally {
    await api.close()
  }
}

export { run }

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  run().catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
