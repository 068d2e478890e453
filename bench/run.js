// Runs the benchmarks one after another and writes docs/benchmarks.md from their results.
//
//   npm run bench                       # build, then every bench/*.bench.js
//   node bench/run.js core-latency ...  # a subset, by name (lib/ and dist/ must be built)
//
// Each bench prints its own progress and writes bench/results/<name>.json; the page is built
// from those files, so a subset run keeps the other rows from their last run (each row says
// when it was measured). Exits non-zero when a bench fails.
import { readdirSync, readFileSync, writeFileSync, existsSync, mkdirSync } from 'node:fs'
import { cpus, loadavg, totalmem } from 'node:os'
import { basename, dirname, join } from 'node:path'
import { performance } from 'node:perf_hooks'
import { fileURLToPath, pathToFileURL } from 'node:url'

const here = dirname(fileURLToPath(import.meta.url))
const RESULTS = join(here, 'results')
const DOC = join(here, '..', 'docs', 'benchmarks.md')
/** Quick benches first, so a broken build shows up early. */
const ORDER = ['store-throughput', 'action-start', 'server-load', 'real-server-gates', 'core-latency', 'python-client', 'notifications']

function benchNames() {
  const found = readdirSync(here)
    .filter((file) => file.endsWith('.bench.js'))
    .map((file) => basename(file, '.bench.js'))
  const rank = (name) => (ORDER.includes(name) ? ORDER.indexOf(name) : ORDER.length)
  return found.sort((a, b) => rank(a) - rank(b) || a.localeCompare(b))
}

async function runBench(name) {
  const file = join(here, `${name}.bench.js`)
  const savedArgv = process.argv
  // Benches read their own command-line arguments as defaults: give them none. argv[1] stays
  // run.js, so a bench's "am I the entry point?" check does not start a second run on import.
  process.argv = savedArgv.slice(0, 2)
  const started = performance.now()
  try {
    const module = await import(pathToFileURL(file).href)
    if (typeof module.default !== 'function') throw new Error(`${name}.bench.js has no default export to run`)
    await module.default()
    return { name, ok: true, seconds: Math.round((performance.now() - started) / 100) / 10 }
  } catch (error) {
    console.error(`[run] ${name} failed:`, error)
    return { name, ok: false, seconds: Math.round((performance.now() - started) / 100) / 10, error: error instanceof Error ? error.message : String(error) }
  } finally {
    process.argv = savedArgv
  }
}

function readResult(name) {
  const path = join(RESULTS, `${name}.json`)
  return existsSync(path) ? JSON.parse(readFileSync(path, 'utf8')) : null
}

// ---------------------------------------------------------------- the page

const day = (iso) => (iso ? iso.slice(0, 16).replace('T', ' ') + ' UTC' : 'not run')
const ms = (value) => (value === null || value === undefined || Number.isNaN(value) ? 'n/a' : `${value} ms`)
const mark = (met) => (met === undefined ? '' : met ? '✅ met' : '❌ missed')
const num = (value) => (value === null || value === undefined ? 'n/a' : Number(value).toLocaleString('en-US'))

/** The rows of the summary table, each with its target, our figure, the baseline's, and when. */
function summaryRows(r) {
  const rows = []
  const gates = r['real-server-gates']
  const coreGate = gates?.rows[0]
  const naiveGate = gates?.rows[1]
  rows.push([
    'decision → waiting caller resumed, p50 (real server, core defaults)',
    '≤ 20 ms',
    ms(coreGate?.latency_ms.p50),
    ms(naiveGate?.latency_ms.p50),
    mark(coreGate && coreGate.latency_ms.p50 <= 20),
    day(gates?.date),
  ])
  rows.push([
    'decision → waiting caller resumed, p99 (real server, core defaults)',
    '≤ 100 ms',
    ms(coreGate?.latency_ms.p99),
    ms(naiveGate?.latency_ms.p99),
    mark(coreGate && coreGate.latency_ms.p99 <= 100),
    day(gates?.date),
  ])
  rows.push([
    'requests per waiting gate per hour (real server)',
    '≤ 150',
    num(coreGate?.requests_per_waited_hour),
    num(naiveGate?.requests_per_waited_hour),
    mark(coreGate && coreGate.requests_per_waited_hour !== null && coreGate.requests_per_waited_hour <= 150),
    day(gates?.date),
  ])
  const python = r['python-client']
  const pythonGate = python?.rows[0]
  const pythonNaive = python?.rows[1]
  rows.push([
    'decision → waiting Python caller resumed, p50 (real server, Python client defaults)',
    '≤ 20 ms',
    ms(pythonGate?.latency_ms.p50),
    ms(pythonNaive?.latency_ms.p50),
    mark(pythonGate && pythonGate.latency_ms.p50 <= 20),
    day(python?.date),
  ])
  rows.push([
    'decision → waiting Python caller resumed, p99 (real server, Python client defaults)',
    '≤ 100 ms',
    ms(pythonGate?.latency_ms.p99),
    ms(pythonNaive?.latency_ms.p99),
    mark(pythonGate && pythonGate.latency_ms.p99 <= 100),
    day(python?.date),
  ])
  const load = r['server-load']
  rows.push([`concurrent waiting gates held by one server process`, '10,000', num(load?.held_long_polls), '—', mark(load && load.held_long_polls >= 10_000), day(load?.date)])
  rows.push(['server RSS while they wait', '≤ 512 MB', load ? `${load.server_rss_mb.waiting} MB` : 'n/a', '—', mark(load && load.server_rss_mb.waiting <= 512), day(load?.date)])
  rows.push(['decision API p99 while they wait', '≤ 20 ms', ms(load?.decision_api_ms.p99), '—', mark(load && load.decision_api_ms.p99 <= 20), day(load?.date)])
  const store = r['store-throughput']
  rows.push(['durable decisions per second, embedded SQLite', '≥ 2,000/s', store ? `${num(store.decisions_per_second)}/s` : 'n/a', '—', mark(store && store.decisions_per_second >= 2000), day(store?.date)])
  const notify = r.notifications
  rows.push(['create → signed webhook received, p99 (loopback receiver)', '≤ 100 ms', ms(notify?.create_to_webhook_ms.p99), '—', mark(notify && notify.create_to_webhook_ms.p99 <= 100), day(notify?.date)])
  rows.push([
    'decision → long-poll answered, p99, with a receiver that never answers',
    'unchanged',
    ms(notify?.decision_hanging_receiver.decision_to_wake_ms.p99),
    notify ? `${ms(notify.decision_no_channel.decision_to_wake_ms.p99)} (no channel)` : '—',
    '',
    day(notify?.date),
  ])
  const action = r['action-start']
  rows.push(['action process start → first request (median)', '≤ 150 ms', ms(action?.start_to_first_request_ms.median), '—', mark(action && action.start_to_first_request_ms.median <= 150), day(action?.date)])
  rows.push([
    'action bundle size (dist/index.js)',
    'reported',
    action ? `${(action.bundle_bytes / 1024 / 1024).toFixed(2)} MB (${(action.bundle_gzip_bytes / 1024).toFixed(0)} KB gzipped)` : 'n/a',
    '—',
    '',
    day(action?.date),
  ])
  return rows
}

function table(header, rows) {
  return [`| ${header.join(' | ')} |`, `|${header.map(() => '---').join('|')}|`, ...rows.map((row) => `| ${row.join(' | ')} |`)].join('\n')
}

function detailSections(r) {
  const parts = []
  const latencyTable = (result) =>
    table(
      ['poller', 'gates', 'p50', 'p99', 'max', 'requests / waited hour'],
      result.rows.map((row) => [row.poller, row.gates, ms(row.latency_ms.p50), ms(row.latency_ms.p99), ms(row.latency_ms.max), num(row.requests_per_waited_hour)]),
    )
  const gates = r['real-server-gates']
  if (gates) parts.push(`### Gates against the real server (\`real-server-gates\`, ${day(gates.date)})\n\n${gates.method}\n\n${latencyTable(gates)}`)
  const core = r['core-latency']
  if (core)
    parts.push(
      `### The core against a long-polling and a non-long-polling server (\`core-latency\`, ${day(core.date)})\n\n${core.method} ` +
        'The middle row is the core against a server that ignores `?wait=` (JamJet Cloud): it then paces itself by `pollIntervalMs` like the baseline, but checks once right after creating.\n\n' +
        latencyTable(core),
    )
  const python = r['python-client']
  if (python) {
    const versions = [python.machine.python && `Python ${python.machine.python}`, python.machine.httpx && `httpx ${python.machine.httpx}`].filter(Boolean).join(', ')
    parts.push(
      `### The Python client against the real server (\`python-client\`, ${day(python.date)})\n\n${python.method}${versions ? ` (${versions}.)` : ''}\n\n` +
        table(
          ['poller', 'gates', 'p50', 'p99', 'max'],
          python.rows.map((row) => [row.poller, row.gates, ms(row.latency_ms.p50), ms(row.latency_ms.p99), ms(row.latency_ms.max)]),
        ),
    )
  }
  const load = r['server-load']
  if (load)
    parts.push(
      `### One server process under ${num(load.waiters)} waiting gates (\`server-load\`, ${day(load.date)})\n\n` +
        'The server (embedded SQLite) in a child process; the client holds one connection per waiter, each re-polling `?wait=60` as the core does; decisions are sent one at a time while all of them wait.\n\n' +
        table(
          ['measure', 'value'],
          [
            ['long-polls held at once', num(load.held_long_polls)],
            ['server RSS: idle / waiting / after decisions', `${load.server_rss_mb.idle} / ${load.server_rss_mb.waiting} / ${load.server_rss_mb.after_decisions} MB`],
            ['RSS per waiting gate', `${load.rss_per_waiter_kb} KB`],
            [`decision API (${load.decision_api_ms.samples} samples) p50 / p99 / max`, `${load.decision_api_ms.p50} / ${load.decision_api_ms.p99} / ${load.decision_api_ms.max} ms`],
            ['decision → its waiter answered, p50 / p99 / max', `${load.wake_up_ms.p50} / ${load.wake_up_ms.p99} / ${load.wake_up_ms.max} ms`],
            ['creates per second (while ramping)', num(load.create_per_second)],
            ['graceful close answering the remaining waiters', ms(load.graceful_close_ms)],
            ['client errors', num(load.client_errors)],
          ],
        ),
    )
  const store = r['store-throughput']
  if (store)
    parts.push(
      `### Embedded SQLite store (\`store-throughput\`, ${day(store.date)})\n\n` +
        `journal_mode=${store.store.journal_mode}, synchronous=${store.store.synchronous}: every decision is its own committed transaction (approval row + hash-chained audit event), fsynced before it resolves.\n\n` +
        table(
          ['phase', 'operations', 'time', 'per second'],
          store.phases.map((p) => [p.phase, num(p.operations), ms(p.ms), num(p.per_second)]),
        ) +
        `\n\nAudit chain verify of ${num(store.audit_verify.events)} events: ${ms(store.audit_verify.ms)}.`,
    )
  const action = r['action-start']
  if (action)
    parts.push(
      `### Action start-up (\`action-start\`, ${day(action.date)})\n\n${action.method}\n\n` +
        table(
          ['measure', 'median', 'min', 'max'],
          [
            ['start → first request', ms(action.start_to_first_request_ms.median), ms(action.start_to_first_request_ms.min), ms(action.start_to_first_request_ms.max)],
            ['start → exit (approved run)', ms(action.start_to_exit_ms.median), ms(action.start_to_exit_ms.min), ms(action.start_to_exit_ms.max)],
            ['bare `node -e ""` start → exit', ms(action.bare_node_start_to_exit_ms.median), ms(action.bare_node_start_to_exit_ms.min), ms(action.bare_node_start_to_exit_ms.max)],
          ],
        ) +
        `\n\nBundle: ${num(action.bundle_bytes)} bytes, ${num(action.bundle_gzip_bytes)} gzipped.`,
    )
  const notify = r.notifications
  if (notify)
    parts.push(
      `### Notifications (\`notifications\`, ${day(notify.date)})\n\n${notify.method}\n\n` +
        table(
          ['measure', 'p50', 'p99', 'max'],
          [
            ['create → webhook received', ms(notify.create_to_webhook_ms.p50), ms(notify.create_to_webhook_ms.p99), ms(notify.create_to_webhook_ms.max)],
            ['decision API, no channel', ms(notify.decision_no_channel.decision_api_ms.p50), ms(notify.decision_no_channel.decision_api_ms.p99), ms(notify.decision_no_channel.decision_api_ms.max)],
            ['decision API, hanging receiver', ms(notify.decision_hanging_receiver.decision_api_ms.p50), ms(notify.decision_hanging_receiver.decision_api_ms.p99), ms(notify.decision_hanging_receiver.decision_api_ms.max)],
            ['decision → long-poll answered, no channel', ms(notify.decision_no_channel.decision_to_wake_ms.p50), ms(notify.decision_no_channel.decision_to_wake_ms.p99), ms(notify.decision_no_channel.decision_to_wake_ms.max)],
            ['decision → long-poll answered, hanging receiver', ms(notify.decision_hanging_receiver.decision_to_wake_ms.p50), ms(notify.decision_hanging_receiver.decision_to_wake_ms.p99), ms(notify.decision_hanging_receiver.decision_to_wake_ms.max)],
          ],
        ),
    )
  return parts.join('\n\n')
}

/** Static notes on method and limits; kept here so the page is regenerated whole. */
const NOTES = `## How to read this

- Everything runs on one machine over loopback; the server and the clients share its cores.
- **Baseline**: a naive poller (\`bench/baseline-poller.js\`) that behaves as the seed's documented
  defaults — it creates the approval, sleeps \`pollIntervalMs\` (5 s), checks, and repeats. It sees a
  decision on average half an interval late (~2.5 s; more on a loaded machine) and makes 720
  status checks per waited hour. It runs in the same \`real-server-gates\` and \`core-latency\` runs
  as the core, against the same servers, at the same time.
- **Why the core is faster**: it checks right after creating, then long-polls (\`GET …?wait=30\`):
  the server holds the request and answers the moment the decision is stored (an in-process
  notifier wakes the waiter; nothing polls the database). One long-poll per 30 s is 120 requests
  per waited hour. Against a server that ignores \`wait\` the core falls back to \`pollIntervalMs\`
  spacing (the \`core-latency\` middle row), so it is never worse than the baseline.
- Latency percentiles come from a few dozen decisions per run (p99 is then close to the max);
  the \`server-load\` run gives a 300-sample p99 of the server side of the same path
  (decision → its waiter answered) under 10,000 waiters.
- **Limits**: 10,000 waiters need 10,000 sockets on each side (\`ulimit -n\` above that; the bench
  checks). Action start-up is bounded below by Node's own start (the bare \`node -e ""\` row) plus
  loading and compiling the ~2.7 MB single-file bundle (mostly \`@actions/*\` and undici): about
  90 ms to the first request on this VM when it is quiet, 140–155 ms while other test suites
  ran on its two cores (load average ~5), so the 150 ms target holds only with a core to spare. SQLite decision
  throughput is bounded by one writer and an fsync per commit (\`synchronous=FULL\`): it follows
  the disk's fsync latency, not the cores. On this VM it measures 3,200–4,700/s when the machine
  is quiet and drops below 1,000/s while other processes write to the same disk (seen when this
  suite's tests ran alongside). Concurrent decisions do not help today (each is its own
  transaction); group commit — several decisions per transaction and fsync — is the way past it.
`

function writeDoc(results, ranNow, loadAtStart) {
  const cpu = cpus()
  const machine = [
    ['CPU', cpu[0]?.model?.trim() ?? 'unknown'],
    ['cores', String(cpu.length)],
    ['RAM', `${(totalmem() / 1024 ** 3).toFixed(1)} GB`],
    ['Node.js', process.version],
    ['platform', `${process.platform} ${process.arch}`],
    ['date', new Date().toISOString().slice(0, 10)],
    ['load average (1 min) before / after the run', `${loadAtStart.toFixed(2)} / ${loadavg()[0].toFixed(2)} (other work on the machine skews the figures, fsync-bound ones most)`],
    ['benches run this time', ranNow.map((b) => `${b.name} (${b.ok ? `${b.seconds} s` : 'FAILED'})`).join(', ')],
  ]
  const text = `# Benchmarks

Measured by \`npm run bench\` (\`bench/run.js\` runs every \`bench/*.bench.js\` and regenerates this
page from \`bench/results/*.json\`). Targets are those of issue 7; the baseline is measured in the
same run. Never timed assertions in tests — only here.

## Machine

${table(['', ''], machine)}

## Figures against targets

${table(['figure', 'target', 'approval-gate', 'naive baseline (same run)', 'result', 'measured'], summaryRows(results))}

${NOTES}
## Details

${detailSections(results)}
`
  mkdirSync(dirname(DOC), { recursive: true })
  writeFileSync(DOC, text)
}

async function main() {
  const available = benchNames()
  const asked = process.argv.slice(2)
  const unknown = asked.filter((name) => !available.includes(name))
  if (unknown.length) {
    console.error(`unknown bench ${unknown.join(', ')}; available: ${available.join(', ')}`)
    return 64
  }
  const selected = asked.length ? available.filter((name) => asked.includes(name)) : available
  const loadAtStart = loadavg()[0]
  const ran = []
  for (const [i, name] of selected.entries()) {
    console.log(`\n=== [${i + 1}/${selected.length}] ${name} ===`)
    ran.push(await runBench(name))
  }
  const results = Object.fromEntries(available.map((name) => [name, readResult(name)]))
  writeDoc(results, ran, loadAtStart)
  console.log(`\n${ran.map((b) => `${b.ok ? 'ok    ' : 'FAILED'} ${b.name} (${b.seconds} s)${b.error ? `: ${b.error}` : ''}`).join('\n')}`)
  console.log('wrote docs/benchmarks.md')
  return ran.every((b) => b.ok) ? 0 : 1
}

process.exitCode = await main()
