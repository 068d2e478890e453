/**
 * Launches a real headless Chromium for dashboard tests: `CHROMIUM_PATH`, else Debian's
 * `/usr/bin/chromium`, else the binary bundled in `@sparticuz/chromium` (so `npm test`
 * works on a machine without apt packages).
 */
import { existsSync } from 'node:fs'
import { chromium, type Browser } from 'playwright-core'

const BASE_ARGS = ['--no-sandbox', '--disable-gpu', '--disable-background-networking', '--disable-component-update', '--disable-sync', '--no-first-run']

export async function launchBrowser(): Promise<Browser> {
  const fromEnv = process.env.CHROMIUM_PATH
  if (fromEnv) return chromium.launch({ executablePath: fromEnv, headless: true, args: BASE_ARGS })
  if (existsSync('/usr/bin/chromium')) return chromium.launch({ executablePath: '/usr/bin/chromium', headless: true, args: BASE_ARGS })
  const sparticuz = (await import('@sparticuz/chromium')).default
  return chromium.launch({ executablePath: await sparticuz.executablePath(), headless: true, args: [...new Set([...sparticuz.args, ...BASE_ARGS])] })
}
