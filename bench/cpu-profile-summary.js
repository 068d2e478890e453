// Summarises a V8 CPU profile (`node --cpu-prof`, or BENCH_CPU_PROF=dir for http-throughput):
// self time by function and by where the code lives (our lib/, fastify, node internals, …).
//
// Run: `node bench/cpu-profile-summary.js <file.cpuprofile> [top]`
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

/** Where a frame's code lives, coarse enough to read at a glance. */
function area(url) {
  if (!url) return '(native / GC / idle)'
  if (url.startsWith('node:')) return `node:${url.slice(5).split('/')[0]}`
  const module = url.match(/node_modules\/((?:@[^/]+\/)?[^/]+)/)
  if (module) return module[1]
  const ours = url.match(/\/lib\/(.+)$/)
  if (ours) return `lib/${ours[1].split('/').slice(0, -1).join('/')}`
  return url
}

/** Self time per function and per area, in ms and share of the sampled time. */
export function summarise(profile, top = 25) {
  const nodes = new Map(profile.nodes.map((node) => [node.id, node]))
  const selfMs = new Map()
  const deltas = profile.timeDeltas
  for (let i = 0; i < profile.samples.length; i++) selfMs.set(profile.samples[i], (selfMs.get(profile.samples[i]) ?? 0) + (deltas[i] ?? 0) / 1000)
  const total = [...selfMs.values()].reduce((a, b) => a + b, 0)
  const byFunction = new Map()
  const byArea = new Map()
  for (const [id, ms] of selfMs) {
    const { functionName, url, lineNumber } = nodes.get(id).callFrame
    const name = `${functionName || '(anonymous)'} ${url ? `${url.replace(/^.*\/(node_modules|lib)\//, '$1/')}:${lineNumber + 1}` : ''}`.trim()
    byFunction.set(name, (byFunction.get(name) ?? 0) + ms)
    const where = area(url)
    byArea.set(where, (byArea.get(where) ?? 0) + ms)
  }
  const rank = (map) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([name, ms]) => ({ name, ms: Math.round(ms), share: `${((ms / total) * 100).toFixed(1)}%` }))
  return { total_ms: Math.round(total), functions: rank(byFunction), areas: rank(byArea) }
}

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const summary = summarise(JSON.parse(readFileSync(process.argv[2], 'utf8')), Number(process.argv[3]) || 25)
  console.log(`sampled ${summary.total_ms} ms`)
  console.table(summary.areas)
  console.table(summary.functions)
}
