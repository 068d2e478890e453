/**
 * Child processes in tests run the compiled store from `lib/` (they are plain Node, not
 * jest). `npm test` builds first; when a test runs alone and `lib/` is missing or older than
 * the sources, this builds it once. Type errors elsewhere in the repo do not stop `tsc` from
 * emitting, so only a missing output counts as failure.
 */
import { execSync } from 'node:child_process'
import { existsSync, readdirSync, statSync } from 'node:fs'
import { dirname, join, relative, resolve } from 'node:path'
import { fileURLToPath, pathToFileURL } from 'node:url'

export const repoRoot = resolve(dirname(fileURLToPath(import.meta.url)), '../..')

function sourceFiles(dir: string): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((entry) => {
    const path = join(dir, entry.name)
    if (entry.isDirectory()) return sourceFiles(path)
    return entry.name.endsWith('.ts') && !entry.name.endsWith('.d.ts') ? [path] : []
  })
}

function isStale(sources: string[]): boolean {
  return sources.some((source) => {
    const output = join(repoRoot, 'lib', relative(join(repoRoot, 'src'), source)).replace(/\.ts$/, '.js')
    return !existsSync(output) || statSync(output).mtimeMs < statSync(source).mtimeMs
  })
}

/** The `file:` URL of `lib/server/store/index.js`, building `lib/` first if it is stale. */
export function builtStoreModuleUrl(): string {
  return builtModuleUrl('server/store/index.js', [...sourceFiles(join(repoRoot, 'src/server/store')), join(repoRoot, 'src/server/auth/secrets.ts')])
}

/** The `file:` URL of `lib/<path>` (e.g. `server/admin/admin-service.js`), building `lib/` first if any source is newer. */
export function builtLibModuleUrl(path: string): string {
  return builtModuleUrl(path, sourceFiles(join(repoRoot, 'src')))
}

function builtModuleUrl(path: string, sources: string[]): string {
  if (isStale(sources)) {
    try {
      execSync('npm run build', { cwd: repoRoot, stdio: 'pipe', timeout: 120_000 })
    } catch {
      // Another part of the repo may not compile right now; tsc still emitted ours.
    }
    if (isStale(sources)) throw new Error(`lib/${path} (or what it imports) is missing or stale and \`npm run build\` did not produce it`)
  }
  return pathToFileURL(join(repoRoot, 'lib', path)).href
}
