/**
 * The package as people install it (`npm pack` → `npm install ./approval-gate-x.y.z.tgz` in an
 * empty project) on a real Node.js 22: `--version`, `--help`, `request`, `decide` and the
 * library work against a server run on Node 24; `serve` says in one line that it needs Node 24.
 *
 * Node 22 comes from the npm registry (see `helpers/node-binary.ts`); without a registry the
 * test is skipped locally with the reason, and fails under CI=true. `npm test` builds lib/ first.
 */
import { execFile, spawn } from 'node:child_process'
import { mkdir, mkdtemp, readdir, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { delimiter, dirname, join, resolve } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { envWithoutNpmConfig, nodeBinary } from '../helpers/node-binary.js'
import { runCli, startServe, stop, type CliProcess } from './helpers.js'

const run = promisify(execFile)
const node22 = await nodeBinary(22)
const describeOnNode22 = 'path' in node22 ? describe : describe.skip

interface Result {
  code: number | null
  stdout: string
  stderr: string
}

let dir: string
let project: string
let server: { process: CliProcess; url: string } | null = null
let requestKey: string
let decideKey: string

/** Env where `node` is Node 22 (the package's bin runs `#!/usr/bin/env node`). */
function node22Env(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env = envWithoutNpmConfig(extra)
  for (const name of Object.keys(env)) if (/^(APPROVAL_GATE_|JAMJET_)/.test(name)) delete env[name]
  env.PATH = `${dirname((node22 as { path: string }).path)}${delimiter}${env.PATH ?? ''}`
  return env
}

/** Runs a command with Node 22 first on PATH, in the consumer project; `onOutput` sees output as it comes. */
function runOn22(command: string, args: string[], onOutput?: (stdout: string, stderr: string) => void): Promise<Result> {
  return new Promise((resolveRun, reject) => {
    const child = spawn(command, args, { cwd: project, env: node22Env(), stdio: ['ignore', 'pipe', 'pipe'] })
    let stdout = ''
    let stderr = ''
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk
      onOutput?.(stdout, stderr)
    })
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      stderr += chunk
      onOutput?.(stdout, stderr)
    })
    child.on('error', reject)
    child.on('close', (code) => resolveRun({ code, stdout, stderr }))
  })
}

const bin = () => join(project, 'node_modules', '.bin', 'approval-gate')

/** Waits for a `waiting for approval ID` line from a running request, then approves it with `decide` on Node 22. */
function approveWhenCreated(pattern: RegExp): (stdout: string, stderr: string) => void {
  let done = false
  return (stdout, stderr) => {
    const match = (stdout + stderr).match(pattern)
    if (done || !match) return
    done = true
    void runOn22(bin(), ['decide', match[1], 'approve', '--reason', 'checked on Node 22', '--api-url', server!.url, '--api-key', decideKey])
  }
}

beforeAll(async () => {
  if (!('path' in node22)) return
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-node22-'))
  // The tarball people would attach to a release (lib/ is already built by pretest).
  process.stderr.write('packed-on-node22: npm pack, then npm install of the tarball into an empty project (on Node 22)…\n')
  await run('npm', ['pack', '--ignore-scripts', '--silent', '--pack-destination', dir], { cwd: resolve('.'), env: envWithoutNpmConfig(), timeout: 120_000 })
  const tarball = (await readdir(dir)).find((name) => name.endsWith('.tgz'))!
  project = join(dir, 'consumer')
  await mkdir(project)
  await writeFile(join(project, 'package.json'), JSON.stringify({ name: 'consumer', private: true, type: 'module' }))
  const installed = await run('npm', ['install', join(dir, tarball), '--no-audit', '--no-fund', '--prefer-offline'], {
    cwd: project,
    env: node22Env(),
    timeout: 240_000,
    maxBuffer: 16 * 1024 * 1024,
  })
  // npm itself ran on Node 22: the package's engines accept it.
  expect(`${installed.stdout}${installed.stderr}`).not.toMatch(/EBADENGINE[\s\S]*approval-gate/)

  server = await startServe(join(dir, 'data'))
  await server.process.waitFor(/─+\n$/m)
  requestKey = server.process.stdout().match(/API key\s+(agk_\S+)/)![1]
  const created = await runCli(['keys', 'create', '--project', 'default', '--scope', 'decide', '--name', 'node22', '--data', join(dir, 'data'), '--json'])
  expect(created.code).toBe(0)
  decideKey = (JSON.parse(created.stdout) as { api_key: string }).api_key
}, 600_000)

afterAll(async () => {
  if (server) await stop(server.process)
  if (dir) await rm(dir, { recursive: true, force: true })
})

describeOnNode22('the packed package on Node 22', () => {
  it('runs on Node 22', async () => {
    const result = await runOn22('node', ['--version'])
    expect(result.stdout).toMatch(/^v22\./)
  })

  it('--version and --help work, with nothing on stderr', async () => {
    const version = await runOn22(bin(), ['--version'])
    expect(version).toEqual({ code: 0, stdout: expect.stringMatching(/^approval-gate \d+\.\d+\.\d+\n$/), stderr: '' })
    const help = await runOn22(bin(), ['--help'])
    expect(help.code).toBe(0)
    expect(help.stdout).toContain('Usage: approval-gate <command>')
    expect(help.stderr).toBe('')
    const serveHelp = await runOn22(bin(), ['serve', '--help'])
    expect(serveHelp.code).toBe(0)
    expect(serveHelp.stdout).toContain('Usage: approval-gate serve')
  })

  it('serve and an admin command say in one line that they need Node 24', async () => {
    const serve = await runOn22(bin(), ['serve', '--port', '0', '--data', join(dir, 'never')])
    expect(serve.code).toBe(3)
    expect(serve.stderr).toMatch(/^approval-gate: serve needs Node\.js >= 24, but this is Node\.js v22\.\d+\.\d+ \(request, decide and the library work on Node\.js >= 22\.19\)\n$/)
    const keys = await runOn22(bin(), ['keys', 'list', '--project', 'default', '--data', join(dir, 'data')])
    expect(keys.code).toBe(3)
    expect(keys.stderr).toMatch(/^approval-gate: the server and admin commands need Node\.js >= 24, but this is Node\.js v22\.[\d.]+ \(.*\)\n$/)
  })

  it('request waits for a decision made with decide, both on Node 22', async () => {
    const result = await runOn22(
      bin(),
      ['request', 'deploy-from-node-22', '--timeout', '2m', '--api-url', server!.url, '--api-key', requestKey],
      approveWhenCreated(/waiting for approval (\S+)/),
    )
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^\S+\n$/)
    expect(result.stderr).not.toMatch(/Warning|\n\s+at /)
  })

  it('import("approval-gate") and requireApproval work', async () => {
    await writeFile(
      join(project, 'check.mjs'),
      `import { requireApproval } from 'approval-gate'
const id = await requireApproval('library-on-node-22', {
  apiUrl: process.argv[2],
  apiKey: process.argv[3],
  timeoutMs: 120_000,
  onProgress: (event) => { if (event.type === 'created') console.log('created ' + event.approvalId) },
})
console.log('approved ' + id)
`,
    )
    const result = await runOn22('node', ['check.mjs', server!.url, requestKey], approveWhenCreated(/created (\S+)/))
    expect(result.stderr).toBe('')
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/approved \S+\n$/)
  })
})

// Node 20 (still common as a system Node): undici 8 cannot load there, so nothing works, but
// everything says so in one line instead of a stack trace from inside undici.
const node20 = await nodeBinary(20)
const describeOnNode20 = 'path' in node20 && 'path' in node22 ? describe : describe.skip

describeOnNode20('the packed package on Node 20', () => {
  const node = () => (node20 as { path: string }).path
  const entry = () => join(project, 'node_modules', 'approval-gate', 'lib', 'cli', 'index.js')

  it('every command says in one line which Node it needs and which it found', async () => {
    for (const args of [['--version'], ['--help'], ['request', 'x'], ['serve']]) {
      const result = await runOn22(node(), [entry(), ...args])
      expect(result.code).toBe(3)
      expect(result.stdout).toBe('')
      expect(result.stderr).toMatch(/^approval-gate needs Node\.js >= 22\.19, but this is Node\.js v20\.[\d.]+; install Node\.js 22\.19 or newer for request and decide, 24 for serve and the admin commands\n$/)
    }
  })

  it('importing the library fails with one clear message', async () => {
    const result = await runOn22(node(), ['--input-type=module', '-e', "import('approval-gate').then(() => console.log('loaded'), (error) => console.log(error.message))"])
    expect(result.stdout).toMatch(/^approval-gate \(the library\) needs Node\.js >= 22\.19, but this is Node\.js v20\.[\d.]+\. Install Node\.js 22\.19 or newer \(24 recommended\)\.\n$/)
  })
})

if (!('path' in node20)) {
  it(`(Node 20 checks skipped: ${node20.skip})`, () => undefined)
}

if (!('path' in node22)) {
  it(`(skipped: ${node22.skip})`, () => undefined)
}
