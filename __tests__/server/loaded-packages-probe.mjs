/**
 * `node loaded-packages-probe.mjs <startServer options as JSON>`: starts the built server
 * (lib/) with those options in a temp data dir and prints, as one JSON line, the npm packages
 * the process loaded by the time it listens (every import and require is seen by the hook).
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { registerHooks } from 'node:module'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

const packages = new Set()
registerHooks({
  resolve(specifier, context, nextResolve) {
    const resolved = nextResolve(specifier, context)
    const match = /\/node_modules\/((?:@[^/]+\/)?[^/]+)\//.exec(resolved.url ?? '')
    if (match) packages.add(match[1])
    return resolved
  },
})

const dataDir = await mkdtemp(join(tmpdir(), 'approval-gate-packages-'))
const { startServer } = await import(new URL('../../lib/server/server.js', import.meta.url).href)
const server = await startServer({ dataDir, port: 0, logger: false, ...JSON.parse(process.argv[2] ?? '{}') })
process.stdout.write(`${JSON.stringify([...packages].sort())}\n`)
await server.close()
await rm(dataDir, { recursive: true, force: true })
