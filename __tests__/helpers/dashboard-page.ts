/**
 * Driving the dashboard as an approver in real Chromium: sign in, wait for the live event
 * stream, find an approval's card. The same steps as the dashboard's own browser tests
 * (`__tests__/dashboard/dashboard.browser.test.ts`), shared here for end-to-end tests.
 */
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core'
import { launchBrowser, withTestTimeouts } from './browser.js'
import { APPROVER, startServerProcess, type ServerProcess } from './server-process.js'

/** A fresh browser profile signed in to the dashboard at `baseUrl` as `who`. */
export async function signIn(browser: Browser, baseUrl: string, who: { email: string; password: string }): Promise<{ context: BrowserContext; page: Page }> {
  const context = withTestTimeouts(await browser.newContext({ viewport: { width: 1100, height: 900 } }))
  const page = await context.newPage()
  await page.goto(`${baseUrl}/login`)
  await page.getByLabel('Email').fill(who.email)
  await page.getByLabel('Password').fill(who.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${baseUrl}/`)
  return { context, page }
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
