// The built `approval-gate` CLI as the benches use it: run a command to completion.
import { spawn } from 'node:child_process'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/** `lib/cli/index.js` (run `npm run build` first). */
export const CLI = join(dirname(fileURLToPath(import.meta.url)), '..', 'lib', 'cli', 'index.js')

/** Runs the built CLI to completion; resolves with stdout, rejects with stderr on failure. */
export function cli(args) {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [CLI, ...args], { stdio: ['ignore', 'pipe', 'pipe'] })
    let out = ''
    let err = ''
    child.stdout.on('data', (chunk) => (out += chunk))
    child.stderr.on('data', (chunk) => (err += chunk))
    child.on('close', (code) => (code === 0 ? resolve(out) : reject(new Error(`approval-gate ${args.join(' ')} exited ${code}: ${err}`))))
  })
}
