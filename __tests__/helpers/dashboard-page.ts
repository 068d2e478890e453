/**
 * Driving the dashboard as an approver in real Chromium: sign in, wait for the live event
 * stream, find an approval's card. The same steps as the dashboard's own browser tests
 * (`__tests__/dashboard/dashboard.browser.test.ts`), shared here for end-to-end tests.
 */
import { afterAll, afterEach, expect } from '@jest/globals'
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core'
import { launchBrowser, sharedBrowser, withTestTimeouts, type SharedBrowser } from './browser.js'
import { APPROVER, startServerProcess, type ServerProcess } from './server-process.js'

/** Who signs in: an email and a password the dashboard knows. */
export interface Credentials {
  email: string
  password: string
}

/** How a fresh browser profile looks: its window width (900 px high) and whether JavaScript runs. */
export interface ProfileOptions {
  /** Default 1100 px. */
  width?: number
  /** Default true. */
  javaScriptEnabled?: boolean
}

/** Signs in through the dashboard's form at `baseUrl` as `who`, and waits until the home page is shown. */
export async function submitSignIn(page: Page, baseUrl: string, who: Credentials): Promise<void> {
  await page.goto(`${baseUrl}/login`)
  await page.getByLabel('Email').fill(who.email)
  await page.getByLabel('Password').fill(who.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${baseUrl}/`)
}

/** A fresh browser profile signed in to the dashboard at `baseUrl` as `who`. */
export async function signIn(browser: Browser, baseUrl: string, who: Credentials): Promise<{ context: BrowserContext; page: Page }> {
  const context = withTestTimeouts(await browser.newContext({ viewport: { width: 1100, height: 900 } }))
  const page = await context.newPage()
  await submitSignIn(page, baseUrl, who)
  return { context, page }
}

/** Pages of one test file in real Chromium: each in a fresh profile that is closed after the test that opened it. */
export interface ChromiumPages {
  /** The file's browser (relaunched if it went away), for tests that need more than pages. */
  readonly browser: SharedBrowser
  /** A blank page in a fresh profile. */
  newPage(options?: ProfileOptions): Promise<Page>
  /** A page in a fresh profile, signed in to the dashboard at `baseUrl` as `who` and on its home page. */
  signedIn(baseUrl: string, who: Credentials, options?: ProfileOptions): Promise<Page>
}

/**
 * One shared Chromium for a test file (started on first use, closed after the file) and its
 * profiles, each closed after the test that opened it so memory stays low on small machines.
 * Call once at the file's top level.
 */
export function chromiumPagesClosedAfterEach(): ChromiumPages {
  const browser = sharedBrowser()
  const contexts: BrowserContext[] = []
  afterEach(async () => {
    for (const context of contexts.splice(0)) await context.close().catch(() => {})
  })
  afterAll(async () => {
    await browser.close()
  })
  const newPage = async (options: ProfileOptions = {}): Promise<Page> => {
    const context = await browser.newContext({ viewport: { width: options.width ?? 1100, height: 900 }, javaScriptEnabled: options.javaScriptEnabled ?? true })
    contexts.push(context)
    return context.newPage()
  }
  return {
    browser,
    newPage,
    async signedIn(baseUrl, who, options) {
      const page = await newPage(options)
      await submitSignIn(page, baseUrl, who)
      return page
    },
  }
}

/** The page does not scroll sideways: the document is no wider than the window. */
export async function expectNoSidewaysScroll(page: Page): Promise<void> {
  const { scrollWidth, innerWidth } = await page.evaluate(() => ({ scrollWidth: document.documentElement.scrollWidth, innerWidth: window.innerWidth }))
  expect(scrollWidth).toBeLessThanOrEqual(innerWidth)
}

/** Waits until the page's event stream is connected, so live events are not missed. */
export async function waitForStream(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.connected === 'true')
}

/** The card of one approval. */
export function cardOf(page: Page, approvalId: string): Locator {
  return page.locator(`article[data-approval-id="${approvalId}"]`)
}

/** Fills the card's reason and clicks Approve or Reject. */
export async function decideOnCard(card: Locator, decision: 'Approve' | 'Reject', reason: string): Promise<void> {
  await card.getByLabel(/Reason/).fill(reason)
  await card.getByRole('button', { name: decision }).click()
}


/** The real server as a child process, and the approver signed in to its live dashboard in Chromium. */
export interface ServerWithApprover {
  server: ServerProcess
  browser: Browser
  context: BrowserContext
  page: Page
  /** Closes the page, the browser and the server; safe after a partial start. */
  close(): Promise<void>
}

/** Starts both at once; if either fails, whatever did start is closed before the error is thrown. */
export async function startServerWithApprover(): Promise<ServerWithApprover> {
  const [started, launched] = await Promise.allSettled([startServerProcess(), launchBrowser()])
  const server = started.status === 'fulfilled' ? started.value : undefined
  const browser = launched.status === 'fulfilled' ? launched.value : undefined
  let context: BrowserContext | undefined
  const close = async (): Promise<void> => {
    await context?.close().catch(() => {})
    await browser?.close()
    await server?.close()
  }
  try {
    for (const outcome of [started, launched]) if (outcome.status === 'rejected') throw outcome.reason
    const signedIn = await signIn(browser!, server!.url, APPROVER)
    context = signedIn.context
    await waitForStream(signedIn.page)
    return { server: server!, browser: browser!, context, page: signedIn.page, close }
  } catch (error) {
    await close()
    throw error
  }
}
