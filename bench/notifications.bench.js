// Notifications on a real server (in this process, embedded SQLite) and loopback receivers:
// 1. create → signed webhook received, p50/p99 (target p99 ≤ 100 ms);
// 2. the decision path with a receiver that never answers, against the same with no channel:
//    decision API time and decision → its long-poll answered, p50/p99 (should be unchanged).
// Run: `npm run build && node bench/notifications.bench.js [gates]` (Node 24: via npx/npm).
import { createServer } from 'node:http'
import { mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { cpus, tmpdir } from 'node:os'
import { dirname, join } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { percentile } from './gate-measurement.js'

const here = dirname(fileURLToPath(import.meta.url))
const round = (value) => (value === null || value === undefined || Number.isNaN(value) ? null : Math.round(value * 10) / 10)
const stats = (values) => {
  const sorted = [...values].sort((a, b) => a - b)
  return { samples: sorted.length, p50: round(percentile(sorted, 50)), p99: round(percentile(sorted, 99)), max: round(sorted.at(-1)) }
}

function progress(message) {
  process.stderr.write(`[notifications] ${message}\n`)
}

/** A loopback receiver: `onRequest(body)` per request; `hang` keeps every request open. */
async function receiver({ hang = false, onRequest = () => {} } = {}) {
  const held = []
  const server = createServer((request, response) => {
    const chunks = []
    request.on('data', (chunk) => chunks.push(chunk))
    request.on('end', () => {
      onRequest(Buffer.concat(chunks).toString('utf8'))
      if (hang) held.push(response)
      else response.writeHead(204).end()
    })
  })
  await new Promise((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${server.address().port}/hook`,
    close: async () => {
      for (const response of held) response.destroy()
      server.closeAllConnections()
      await new Promise((resolve) => server.close(resolve))
    },
  }
}

async function api(url, method, path, key, body) {
  const response = await fetch(`${url}${path}`, { method, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' }, body: body && JSON.stringify(body) })
  const text = await response.text()
  if (response.status >= 300) throw new Error(`${method} ${path}: ${response.status} ${text}`)
  return JSON.parse(text)
}

async function startBenchServer(lib) {
  const dataDir = mkdtempSync(join(tmpdir(), 'ag-bench-notify-'))
  const server = await lib.startServer({ dataDir, port: 0, notifications: { allowPrivateWebhooks: true }, createRateLimit: null })
  const project = await server.store.createProject('bench')
  const key = async (scope) => {
    const { key, hash, prefix } = lib.newApiKey()
    await server.store.createApiKey({ project_id: project.id, name: scope, scopes: [scope], key_hash: hash, prefix })
    return key
  }
  return { server, project, requestKey: await key('request'), decideKey: await key('decide'), close: async () => (await server.close(), rmSync(dataDir, { recursive: true, force: true })) }
}

/** Creates `gates` approvals one at a time, each decided while its long-poll waits. */
async function decisionPath(s, gates) {
  const decideMs = []
  const wakeMs = []
  for (let i = 0; i < gates; i++) {
    const created = await api(s.server.url, 'POST', '/v1/approvals', s.requestKey, { action: `deploy ${i}`, context: { i } })
    let woke = 0
    const waiting = api(s.server.url, 'GET', `/v1/approvals/${created.id}?wait=30`, s.requestKey).then(() => (woke = performance.now()))
    await new Promise((resolve) => setTimeout(resolve, 5)) // let the long-poll reach the server
    const started = performance.now()
    await api(s.server.url, 'POST', `/v1/approvals/${created.id}/decision`, s.decideKey, { decision: 'approve' })
    decideMs.push(performance.now() - started)
    await waiting
    wakeMs.push(woke - started)
  }
  return { decision_api_ms: stats(decideMs), decision_to_wake_ms: stats(wakeMs) }
}

export default async function run({ gates = Number(process.argv[2]) || 200 } = {}) {
  const lib = {
    ...(await import('../lib/server/server.js')),
    ...(await import('../lib/server/auth/secrets.js')),
  }

  progress(`create → webhook received, ${gates} gates`)
  const arrivals = new Map()
  const fast = await receiver({ onRequest: (body) => arrivals.set(JSON.parse(body).approval.id, performance.now()) })
  let s = await startBenchServer(lib)
  await s.server.notifications.channels.addWebhook(s.project, 'bench', fast.url, { events: ['approval.created'] })
  const deliveryMs = []
  for (let i = 0; i < gates; i++) {
    const started = performance.now()
    const created = await api(s.server.url, 'POST', '/v1/approvals', s.requestKey, { action: `deploy ${i}`, context: { i } })
    while (!arrivals.has(created.id)) await new Promise((resolve) => setTimeout(resolve, 1))
    deliveryMs.push(arrivals.get(created.id) - started)
  }
  await s.close()
  await fast.close()

  progress(`decision path, no channel, ${gates} gates`)
  s = await startBenchServer(lib)
  const quiet = await decisionPath(s, gates)
  await s.close()

  progress(`decision path, a receiver that never answers, ${gates} gates`)
  const hanging = await receiver({ hang: true })
  s = await startBenchServer(lib)
  await s.server.notifications.channels.addWebhook(s.project, 'bench', hanging.url)
  const stuck = await decisionPath(s, gates)
  await s.close()
  await hanging.close()

  const result = {
    benchmark: 'notifications',
    date: new Date().toISOString(),
    machine: { cpus: cpus().length, cpu: cpus()[0]?.model?.trim(), node: process.version, platform: process.platform },
    method: `A real server in this process (embedded SQLite) and loopback receivers; ${gates} gates one at a time. Create → webhook: from sending POST /v1/approvals to the signed webhook arriving at the receiver. Decision path: a long-poll waits on each gate; the decision API's time and decision → long-poll answered, once with no channel and once with a webhook channel whose receiver never answers (every attempt hangs until its 10 s timeout).`,
    create_to_webhook_ms: stats(deliveryMs),
    decision_no_channel: quiet,
    decision_hanging_receiver: stuck,
  }
  mkdirSync(join(here, 'results'), { recursive: true })
  writeFileSync(join(here, 'results', 'notifications.json'), `${JSON.stringify(result, null, 2)}\n`)
  progress(JSON.stringify({ create_to_webhook_ms: result.create_to_webhook_ms, no_channel: quiet, hanging: stuck }))
  return result
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  run().catch((error) => {
    console.error(error)
    process.exitCode = 1
  })
}
