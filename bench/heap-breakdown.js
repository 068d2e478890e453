// Where a held waiter's heap goes: compares two V8 heap snapshots of the same process (idle,
// and with N long-polls held) and prints, per object type, how many more there are and how
// many bytes each waiter adds (self sizes, the way DevTools' "Comparison" view counts them).
//
//   node bench/heap-breakdown.js idle.heapsnapshot waiting.heapsnapshot <waiters> [rows]
//
// `server-load` writes such a pair with BENCH_HEAP_SNAPSHOT=<directory>.
import { readFileSync } from 'node:fs'
import { pathToFileURL } from 'node:url'

/** Count and self size per "<node type> <constructor or function name>". */
export function summarise(path) {
  const snapshot = JSON.parse(readFileSync(path, 'utf8'))
  const fields = snapshot.snapshot.meta.node_fields
  const types = snapshot.snapshot.meta.node_types[0]
  const width = fields.length
  const at = (name) => fields.indexOf(name)
  const [typeAt, nameAt, sizeAt] = [at('type'), at('name'), at('self_size')]
  const { nodes, strings } = snapshot
  const groups = new Map()
  for (let i = 0; i < nodes.length; i += width) {
    const type = types[nodes[i + typeAt]]
    // Strings and numbers are grouped by kind, not by their (per-object) text.
    const name = type === 'object' || type === 'closure' || type === 'native' || type === 'hidden' ? strings[nodes[i + nameAt]].slice(0, 60) : ''
    const key = `${type} ${name}`.trim()
    const group = groups.get(key) ?? { count: 0, bytes: 0 }
    group.count++
    group.bytes += nodes[i + sizeAt]
    groups.set(key, group)
  }
  return groups
}

/** Rows of what `waiting` has beyond `idle`, per waiter, largest first. */
export function breakdown(idle, waiting, waiters) {
  const rows = []
  for (const [key, after] of waiting) {
    const before = idle.get(key) ?? { count: 0, bytes: 0 }
    const bytes = after.bytes - before.bytes
    if (bytes <= 0) continue
    rows.push({ what: key, per_waiter_count: round((after.count - before.count) / waiters), per_waiter_bytes: round(bytes / waiters) })
  }
  rows.sort((a, b) => b.per_waiter_bytes - a.per_waiter_bytes)
  return rows
}

const round = (n) => Math.round(n * 100) / 100

if (process.argv[1] && import.meta.url === pathToFileURL(process.argv[1]).href) {
  const [idlePath, waitingPath, waiters, limit = '40'] = process.argv.slice(2)
  const rows = breakdown(summarise(idlePath), summarise(waitingPath), Number(waiters))
  const total = rows.reduce((sum, row) => sum + row.per_waiter_bytes, 0)
  console.table(rows.slice(0, Number(limit)))
  console.log(`heap self size added per waiter: ${Math.round(total)} bytes (${rows.length} types grew)`)
}
