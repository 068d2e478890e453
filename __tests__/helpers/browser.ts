/**
 * A real headless Chromium for dashboard and end-to-end tests: `CHROMIUM_PATH`, else Debian's
 * `/usr/bin/chromium`, else the binary bundled in `@sparticuz/chromium` (so `npm test` works on
 * a machine without apt packages; `CHROMIUM_PATH=@sparticuz/chromium` picks it on purpose).
 *
 * `sharedBrowser()` is the one a test file shares across its tests. It relaunches a browser
 * that went away (crashed, was killed, ran out of memory on a loaded machine) at the next
 * `newContext()`, after logging how the old one ended, so one lost browser fails at most the
 * test that was using it instead of every later test in milliseconds with "Target page,
 * context or browser has been closed".
 *
 * Every context it makes has Playwright's default timeout (`PLAYWRIGHT_TIMEOUT_MS`) well under
 * Jest's per-test timeout (60 s, jest.config.js), so a step that never happens fails with
 * Playwright's message naming that step.
 */
import type { ChildProcess } from 'node:child_process'
import { existsSync } from 'node:fs'
import { chromium, type Browser, type BrowserContext, type BrowserContextOptions, type BrowserServer } from 'playwright-core'

/** Playwright's default for actions, waits and navigations in contexts made here. */
export const PLAYWRIGHT_TIMEOUT_MS = 10_000

const BASE_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-dev-shm-usage', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']

/**
 * Flags of `@sparticuz/chromium`'s Lambda profile that change what the tests check: one process
 * for everything (a renderer crash takes the browser down; not how people run Chromium), and
 * the same-origin policy and mixed-content blocking switched off (the cross-site forgery test
 * needs them on). Its `--headless='shell'` is Playwright's to set.
 */
const REFUSED_SPARTICUZ_ARGS = [/^--single-process$/, /^--disable-web-security$/, /^--allow-running-insecure-content$/, /^--disable-site-isolation-trials$/, /^--no-zygote$/, /^--headless/]

/** Which Chromium to start, with which flags, and where it came from (for log lines). */
export interface BrowserLaunchPlan {
  executablePath: string
  args: string[]
  source: 'CHROMIUM_PATH' | '/usr/bin/chromium' | '@sparticuz/chromium'
}

/** Picks the Chromium: `CHROMIUM_PATH`, Debian's, or (`bundled: true`, or neither present) the bundled one. */
export async function browserLaunchPlan(options: { bundled?: boolean } = {}): Promise<BrowserLaunchPlan> {
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv === '@sparticuz/chromium' && !options.bundled) return browserLaunchPlan({ bundled: true })
  if (!options.bundled && fromEnv) return { executablePath: fromEnv, args: BASE_ARGS, source: 'CHROMIUM_PATH' }
  if (!options.bundled && existsSync('/usr/bin/chromium')) return { executablePath: '/usr/bin/chromium', args: BASE_ARGS, source: '/usr/bin/chromium' }
  const sparticuz = (await import('@sparticuz/chromium')).default
  const kept = sparticuz.args.filter((arg) => !REFUSED_SPARTICUZ_ARGS.some((refused) => refused.test(arg)))
  return { executablePath: await sparticuz.executablePath(), args: [...new Set([...kept, ...BASE_ARGS])], source: '@sparticuz/chromium' }
}

/** A browser of its own (closed by the caller): for a test that starts and stops everything itself. */
export async function launchBrowser(): Promise<Browser> {
  const plan = await browserLaunchPlan()
  return chromium.launch({ executablePath: plan.executablePath, headless: true, args: plan.args })
}

/** Applies the suite's Playwright timeouts to a context. */
export function withTestTimeouts(context: BrowserContext): BrowserContext {
  context.setDefaultTimeout(PLAYWRIGHT_TIMEOUT_MS)
  context.setDefaultNavigationTimeout(PLAYWRIGHT_TIMEOUT_MS)
  return context
}

export interface SharedBrowser {
  /** A new context (profile) in a connected browser, relaunching it first if it went away. */
  newContext(options?: BrowserContextOptions): Promise<BrowserContext>
  /** The connected browser, relaunching it first if it went away. */
  browser(): Promise<Browser>
  /** The browser process's id (for tests that kill it), or undefined before the first launch. */
  pid(): number | undefined
  /** How many times a browser was started. */
  readonly launches: number
  /** How earlier browsers ended, one line each (also logged to stderr when noticed). */
  readonly losses: readonly string[]
  close(): Promise<void>
}

interface Running {
  server: BrowserServer
  browser: Browser
  process: ChildProcess
  /** Settles once a loss has been logged (set when the browser disconnects unasked). */
  lost?: Promise<void>
}

/**
 * One Chromium for a test file, started on first use and relaunched when it is gone. Each
 * browser is a `launchServer` child (so its process id and exit status are known) that this
 * process connects to.
 */
export function sharedBrowser(options: { bundled?: boolean } = {}): SharedBrowser {
  let running: Running | null = null
  let starting: Promise<Running> | null = null
  let launches = 0
  let closing = false
  const losses: string[] = []

  const launch = async (): Promise<Running> => {
    const plan = await browserLaunchPlan(options)
    const server = await chromium.launchServer({ executablePath: plan.executablePath, headless: true, args: plan.args })
    const child = server.process()
    let stderrTail = ''
    child.stderr?.on('data', (chunk: Buffer) => (stderrTail = (stderrTail + chunk.toString('utf8')).slice(-2_000)))
    const exited = new Promise<string>((resolve) => {
      if (child.exitCode !== null || child.signalCode !== null) resolve(describeExit(child.exitCode, child.signalCode, stderrTail))
      child.once('exit', (code, signal) => resolve(describeExit(code, signal, stderrTail)))
    })
    let browser: Browser
    try {
      browser = await chromium.connect(server.wsEndpoint())
    } catch (error) {
      await server.kill().catch(() => {})
      throw error
    }
    launches++
    const launch = launches
    const entry: Running = { server, browser, process: child }
    browser.once('disconnected', () => {
      if (closing) return
      // Not asked for: log how it ended (waiting briefly for the exit status), as soon as it happens.
      entry.lost = (async () => {
        const how = await Promise.race([exited, new Promise<string>((resolve) => setTimeout(() => resolve('disconnected; the process had not exited 2 s later'), 2_000).unref())])
        const line = `Chromium (pid ${child.pid}, launch ${launch}, ${plan.source}) went away: ${how}. The next test gets a new one.`
        losses.push(line)
        console.warn(line)
      })()
    })
    return entry
  }

  const connected = async (): Promise<Browser> => {
    if (closing) throw new Error('sharedBrowser: used after close()')
    if (running && running.browser.isConnected()) return running.browser
    if (running) {
      const lost = running
      running = null
      await lost.lost
      await lost.server.kill().catch(() => {}) // whatever is left of it
    }
    starting ??= launch().finally(() => (starting = null))
    running = await starting
    return running.browser
  }

  return {
    browser: connected,
    async newContext(contextOptions) {
      return withTestTimeouts(await (await connected()).newContext(contextOptions))
    },
    pid: () => running?.process.pid,
    get launches() {
      return launches
    },
    losses,
    async close() {
      closing = true
      const last = running ?? (starting ? await starting.catch(() => null) : null)
      running = null
      if (!last) return
      await last.browser.close().catch(() => {})
      await last.server.close().catch(() => last.server.kill())
    },
  }
}

function describeExit(code: number | null, signal: NodeJS.Signals | null, stderrTail: string): string {
  const tail = stderrTail.trim().split('\n').slice(-5).join(' | ')
  return `its process exited with ${signal ? `signal ${signal}` : `code ${code}`}${tail ? `; last stderr: ${tail}` : ''}`
}
