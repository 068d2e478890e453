// Bench-only: CPU per decision of each part of a PostgreSQL http-throughput run (Linux /proc).
// Runs the bench given after `--`, samples utime+stime every 0.25 s of (a) the newest
// throwaway cluster's postmaster and its backends (`ag-bench-pg-` data dir, started after the
// bench), (b) the bench's server children (the replicas) and (c) the bench process itself (the
// load generator), and after each "[label] N decisions in X ms" line prints the CPU each part
// spent over that decision phase, per decision, and the load average when the phase began.
// Run: `node bench/proc-cpu-sample.js -- node bench/http-throughput.bench.js` (Node 24, via npx).
import { spawn } from 'node:child_process'
import { readdirSync, readFileSync } from 'node:fs'
import { loadavg } from 'node:os'
import { createInterface } from 'node:readline'

const TICK_MS = 10 // USER_HZ is 100 on Linux
const command = process.argv.slice(process.argv.indexOf('--') + 1)
if (command.length === 0) throw new Error('usage: node bench/proc-cpu-sample.js -- <bench command>')

/** pid → { ppid, ticks, start } of every process, and its command line when asked. */
function processes() {
  const all = new Map()
  for (const name of readdirSync('/proc')) {
    if (!/^\d+$/.test(name)) continue
    try {
      const stat = readFileSync(`/proc/${name}/stat`, 'utf8')
      const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ')
      all.set(Number(name), { ppid: Number(fields[1]), ticks: Number(fields[11]) + Number(fields[12]), start: Number(fields[19]) })
    } catch {
      // the process ended between readdir and read
    }
  }
  return all
}

const commandLine = (pid) => {
  try {
    return readFileSync(`/proc/${pid}/cmdline`, 'utf8').replaceAll('\u0000', ' ')
  } catch {
    return ''
  }
}

const bench = spawn(command[0], command.slice(1), { stdio: ['ignore', 'pipe', 'inherit'] })
const benchStart = processes().get(bench.pid)?.start ?? 0
const samples = [] // { at, postgres, replicas, generator }
const loads = [] // { at, load }
let postmaster = null
const cumulative = new Map() // pid → last ticks seen, per part (a process that ends keeps its last)

const sample = () => {
  const all = processes()
  const children = (root) => [...all].filter(([, p]) => p.ppid === root).map(([pid]) => pid)
  if (postmaster === null || !all.has(postmaster)) {
    const candidates = [...all].filter(([pid, p]) => p.start >= benchStart && /bin\/postgres .*ag-bench-pg-/.test(commandLine(pid)))
    postmaster = candidates.sort((a, b) => b[1].start - a[1].start)[0]?.[0] ?? null
  }
  const descendants = (root) => {
    const out = []
    const queue = [root]
    while (queue.length) {
      const pid = queue.pop()
      out.push(pid)
      queue.push(...children(pid))
    }
    return out
  }
  const record = (part, pids) => {
    for (const pid of pids) if (all.has(pid)) cumulative.set(`${part}:${pid}`, all.get(pid).ticks)
    let sum = 0
    for (const [key, ticks] of cumulative) if (key.startsWith(`${part}:`)) sum += ticks
    return sum
  }
  const replicas = descendants(bench.pid).filter((pid) => pid !== bench.pid && commandLine(pid).includes('--server-child'))
  samples.push({
    at: Date.now(),
    postgres: postmaster === null ? 0 : record('postgres', descendants(postmaster)),
    replicas: record('replicas', replicas),
    generator: record('generator', [bench.pid]),
  })
  loads.push({ at: Date.now(), load: loadavg()[0] })
}
const timer = setInterval(sample, 250)
sample()

const lines = createInterface({ input: bench.stdout })
lines.on('line', (line) => {
  console.log(line)
  const phase = /\[(.+)\] (\d+) decisions in (\d+) ms/.exec(line)
  if (!phase) return
  sample()
  const end = samples.at(-1)
  const startAt = end.at - Number(phase[3])
  const start = samples.findLast((s) => s.at <= startAt) ?? samples[0]
  const decisions = Number(phase[2])
  const perDecision = (part) => (((end[part] - start[part]) * TICK_MS) / decisions).toFixed(2)
  const load = (loads.findLast((l) => l.at <= startAt) ?? loads[0]).load.toFixed(2)
  const busy = (((end.postgres - start.postgres + end.replicas - start.replicas + end.generator - start.generator) * TICK_MS) / ((end.at - start.at) / 1000)).toFixed(0)
  console.log(`  [${phase[1]}] CPU ms per decision: PostgreSQL ${perDecision('postgres')}, replicas ${perDecision('replicas')}, load generator ${perDecision('generator')} (these three: ${busy} ms/s; load average at start ${load})`)
})
bench.on('exit', (code) => {
  clearInterval(timer)
  process.exitCode = code ?? 1
})
