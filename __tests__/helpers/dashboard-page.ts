/**
 * Driving the dashboard as an approver in real Chromium: sign in, wait for the live event
 * stream, find an approval's card. The same steps as the dashboard's own browser tests
 * (`__tests__/dashboard/dashboard.browser.test.ts`), shared here for end-to-end tests.
 */
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core'

/** A fresh browser profile signed in to the dashboard at `baseUrl` as `who`. */
export async function signIn(browser: Browser, baseUrl: string, who: { email: string; password: string }): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } })
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
