/**
 * Runs the committed bundle (`dist/index.js`) as the runner would: a real Node process with
 * `INPUT_*` environment variables (names keep their hyphens, e.g. `INPUT_API-KEY`), real
 * `GITHUB_OUTPUT` / `GITHUB_STEP_SUMMARY` / `GITHUB_STATE` files, and a temporary working
 * directory, so the bundle must be self-contained.
 */
import { spawn, type ChildProcess } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { dirname, join, resolve } from 'node:path'
import { fileURLToPath } from 'node:url'
import { waitUntil } from '../helpers/wait-until.js'

export const BUNDLE = resolve(dirname(fileURLToPath(import.meta.url)), '../../dist/index.js')

/** A run's files, in a temp dir that is also its working directory. */
export interface RunnerFiles {
  dir: string
  output: string
  summary: string
  state: string
  remove(): void
}

export function createRunnerFiles(): RunnerFiles {
  const dir = mkdtempSync(join(tmpdir(), 'approval-gate-action-'))
  const files = { output: join(dir, 'github_output'), summary: join(dir, 'step_summary.md'), state: join(dir, 'github_state') }
  for (const path of Object.values(files)) writeFileSync(path, '')
  return { dir, ...files, remove: () => rmSync(dir, { recursive: true, force: true }) }
}

/** The run's identity, as a runner sets it. */
export const RUNNER_ENV: Record<string, string> = {
  GITHUB_ACTIONS: 'true',
  GITHUB_REPOSITORY: 'octo/shop',
  GITHUB_WORKFLOW: 'Deploy',
  GITHUB_JOB: 'release',
  GITHUB_RUN_ID: '987654',
  GITHUB_RUN_ATTEMPT: '1',
  GITHUB_SERVER_URL: 'https://github.com',
  GITHUB_SHA: '0123456789abcdef0123456789abcdef01234567',
  GITHUB_REF: 'refs/heads/main',
  GITHUB_ACTOR: 'mona',
  GITHUB_EVENT_NAME: 'push',
  GITHUB_ACTION: '__self',
}

/** `INPUT_<NAME>` as the runner names it: upper case, spaces → `_`, hyphens kept. */
export function inputEnv(inputs: Record<string, string>): Record<string, string> {
  return Object.fromEntries(Object.entries(inputs).map(([name, value]) => [`INPUT_${name.replace(/ /g, '_').toUpperCase()}`, value]))
}

export interface ActionResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

export interface RunningAction {
  child: ChildProcess
  /** Output so far (for waiting on a log line). */
  stdout(): string
  done: Promise<ActionResult>
}

/**
 * Starts the bundle with only the given environment (plus PATH), so nothing from the test
 * machine (a real GITHUB_* or API key variable) leaks in.
 */
export function startAction(files: RunnerFiles, env: Record<string, string>): RunningAction {
  const child = spawn(process.execPath, [BUNDLE], {
    cwd: files.dir,
    env: {
      PATH: process.env.PATH ?? '',
      GITHUB_OUTPUT: files.output,
      GITHUB_STEP_SUMMARY: files.summary,
      GITHUB_STATE: files.state,
      ...env,
    },
    stdio: ['ignore', 'pipe', 'pipe'],
  })
  let stdout = ''
  let stderr = ''
  child.stdout?.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr?.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const done = new Promise<ActionResult>((resolveDone, reject) => {
    child.once('error', reject)
    child.once('close', (code, signal) => resolveDone({ code, signal, stdout, stderr }))
  })
  return { child, stdout: () => stdout, done }
}

/** Runs the bundle to completion. */
export function runAction(files: RunnerFiles, env: Record<string, string>): Promise<ActionResult> {
  return startAction(files, env).done
}

/**
 * Parses a `GITHUB_OUTPUT`/`GITHUB_STATE` file: `name<<DELIMITER\nvalue\nDELIMITER` blocks
 * (what `@actions/core` writes) and plain `name=value` lines. Later values win.
 */
export function parseCommandFile(text: string): Record<string, string> {
  const values: Record<string, string> = {}
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i]
    const heredoc = /^([^=<]+)<<(.+)$/.exec(line)
    if (heredoc) {
      const [, name, delimiter] = heredoc
      const end = lines.indexOf(delimiter, i + 1)
      if (end < 0) throw new Error(`unterminated value for ${name} (delimiter ${delimiter})`)
      values[name] = lines.slice(i + 1, end).join('\n')
      i = end
    } else if (line.includes('=')) {
      const at = line.indexOf('=')
      values[line.slice(0, at)] = line.slice(at + 1)
    } else if (line.trim() !== '') {
      throw new Error(`unexpected line in command file: ${line}`)
    }
  }
  return values
}

export function readOutputs(files: RunnerFiles): Record<string, string> {
  return parseCommandFile(readFileSync(files.output, 'utf8'))
}

export function readState(files: RunnerFiles): Record<string, string> {
  return parseCommandFile(readFileSync(files.state, 'utf8'))
}

/** The `STATE_*` variables a runner gives the post step, from the main step's state file. */
export function postStepEnv(files: RunnerFiles): Record<string, string> {
  return Object.fromEntries(Object.entries(readState(files)).map(([name, value]) => [`STATE_${name}`, value]))
}

/** Waits until `predicate` holds, polling every 10 ms; rejects after `timeoutMs` (see `waitUntil`). */
export async function until(predicate: () => boolean, what: string, timeoutMs = 10_000): Promise<void> {
  await waitUntil(predicate, { what, timeoutMs })
}
