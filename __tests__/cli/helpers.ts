/** Runs the built CLI (`lib/cli/index.js`) as a real process. `npm test` builds lib first (pretest). */
import { spawn, type ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { resolve } from 'node:path'

export const CLI = resolve('lib/cli/index.js')

if (!existsSync(CLI)) throw new Error(`${CLI} is missing: run "npm run build" first (npm test does it in pretest)`)

export interface CliResult {
  code: number | null
  signal: NodeJS.Signals | null
  stdout: string
  stderr: string
}

/** Env for children: none of the developer's approval-gate settings leak in. */
export function cleanEnv(extra: Record<string, string> = {}): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = {}
  for (const [name, value] of Object.entries(process.env)) {
    if (!/^(APPROVAL_GATE_|JAMJET_)/.test(name)) env[name] = value
  }
  return { ...env, ...extra }
}

/** A running CLI process with its output so far. */
export interface CliProcess {
  child: ChildProcess
  stdout(): string
  stderr(): string
  /** Resolves when stdout+stderr match `pattern`, with the match. */
  waitFor(pattern: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>
  done: Promise<CliResult>
}

/** Starts `approval-gate …args`. */
export function startCli(args: string[], options: { env?: Record<string, string>; input?: string } = {}): CliProcess {
  const child = spawn(process.execPath, [CLI, ...args], { env: cleanEnv(options.env), stdio: ['pipe', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  const watchers = new Set<() => void>()
  child.stdout!.setEncoding('utf8').on('data', (chunk: string) => {
    stdout += chunk
    for (const watcher of [...watchers]) watcher()
  })
  child.stderr!.setEncoding('utf8').on('data', (chunk: string) => {
    stderr += chunk
    for (const watcher of [...watchers]) watcher()
  })
  if (options.input !== undefined) child.stdin!.end(options.input)
  else child.stdin!.end()
  const done = new Promise<CliResult>((resolveDone) => {
    child.on('close', (code, signal) => resolveDone({ code, signal, stdout, stderr }))
  })
  return {
    child,
    stdout: () => stdout,
    stderr: () => stderr,
    done,
    waitFor(pattern, timeoutMs = 15_000) {
      return new Promise((resolveMatch, reject) => {
        const check = () => {
          const match = (stdout + stderr).match(pattern)
          if (match) {
            cleanup()
            resolveMatch(match)
          }
        }
        const timer = setTimeout(() => {
          cleanup()
          reject(new Error(`timed out waiting for ${pattern}; stdout: ${stdout}\nstderr: ${stderr}`))
        }, timeoutMs)
        const onExit = () => {
          check()
          if (watchers.has(check)) {
            cleanup()
            reject(new Error(`process exited before ${pattern}; stdout: ${stdout}\nstderr: ${stderr}`))
          }
        }
        const cleanup = () => {
          clearTimeout(timer)
          watchers.delete(check)
          child.off('close', onExit)
        }
        watchers.add(check)
        child.on('close', onExit)
        check()
      })
    },
  }
}

/** Runs `approval-gate …args` to completion. */
export async function runCli(args: string[], options: { env?: Record<string, string>; input?: string } = {}): Promise<CliResult> {
  return startCli(args, options).done
}

/** Starts `serve` on a free port and resolves with its URL. */
export async function startServe(dataDir: string, extraArgs: string[] = []): Promise<{ process: CliProcess; url: string }> {
  const proc = startCli(['serve', '--port', '0', '--data', dataDir, '--quiet', ...extraArgs])
  const match = await proc.waitFor(/(?:listening on |Dashboard\s+)(http:\/\/127\.0\.0\.1:\d+)/)
  return { process: proc, url: match[1] }
}

/** SIGTERMs a process (SIGKILL after 10 s) and waits for it to end. */
export async function stop(proc: CliProcess): Promise<CliResult> {
  if (proc.child.exitCode === null && proc.child.signalCode === null) {
    proc.child.kill('SIGTERM')
    const timer = setTimeout(() => proc.child.kill('SIGKILL'), 10_000)
    const result = await proc.done
    clearTimeout(timer)
    return result
  }
  return proc.done
}
