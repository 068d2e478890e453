/**
 * Settings → Trust rules in real Chromium: an admin adds a rule with the form (a refusal keeps
 * what was typed), sees it listed, removes it through the confirmation page; a member is
 * refused the page.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { BrowserContext, Page } from 'playwright-core'
import { sharedBrowser, type SharedBrowser } from '../helpers/browser.js'
import { ADMIN, MEMBER, dashboardsClosedAfterEach, type DashboardFixture } from './fixture.js'

let browser: SharedBrowser
const contexts: BrowserContext[] = []
const dashboard = dashboardsClosedAfterEach()

beforeAll(() => {
  browser = sharedBrowser()
})
afterAll(async () => {
  for (const context of contexts.splice(0)) await context.close().catch(() => {})
  await browser?.close()
})

async function signedIn(fx: DashboardFixture, who: { email: string; password: string }): Promise<Page> {
  const context = await browser.newContext({ viewport: { width: 1100, height: 900 } })
  contexts.push(context)
  const page = await context.newPage()
  await page.goto(`${fx.url}/login`)
  await page.getByLabel('Email').fill(who.email)
  await page.getByLabel('Password').fill(who.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${fx.url}/`)
  return page
}

describe('trust rules page (real Chromium)', () => {
  it('an admin adds a rule, a refusal keeps the form, and removing asks first', async () => {
    const fx = await dashboard()
    const page = await signedIn(fx, ADMIN)
    await page.goto(`${fx.url}/settings`)
    await page.getByRole('link', { name: 'Trust rules' }).click()
    await page.waitForURL(`${fx.url}/settings/trust`)
    await expect(page.getByText('No trust rules').isVisible()).resolves.toBe(true)

    await page.getByLabel(/^Repository/).fill('acme')
    await page.getByLabel(/^Only this environment/).fill('production')
    await page.getByRole('button', { name: 'Add trust rule' }).click()
    await expect(page.getByRole('alert').first().textContent()).resolves.toContain('Repository is required, as owner/repo')
    await expect(page.getByLabel(/^Only this environment/).inputValue()).resolves.toBe('production')

    await page.getByLabel(/^Repository/).fill('acme/web')
    await page.getByRole('button', { name: 'Add trust rule' }).click()
    await expect(page.getByRole('status').first().textContent()).resolves.toContain('Trust rule added')
    await expect(page.locator('table.trust-rules').textContent()).resolves.toContain('acme/web')
    expect(await fx.store.listTrustRules(fx.project.id)).toMatchObject([{ repository: 'acme/web', environment: 'production', audience: new URL(fx.url).origin }])

    await page.getByRole('link', { name: 'Remove trust rule for acme/web' }).click()
    await expect(page.getByRole('heading', { name: 'Remove the trust rule for acme/web?' }).isVisible()).resolves.toBe(true)
    await page.getByRole('button', { name: 'Remove trust rule' }).click()
    await page.waitForURL(`${fx.url}/settings/trust?notice=trust_rule_removed`)
    await expect(page.getByText('No trust rules').isVisible()).resolves.toBe(true)
    expect(await fx.store.listTrustRules(fx.project.id)).toEqual([])
  })

  it('a member gets the admins-only page', async () => {
    const fx = await dashboard()
    const page = await signedIn(fx, MEMBER)
    const answer = await page.goto(`${fx.url}/settings/trust`)
    expect(answer?.status()).toBe(403)
    await expect(page.getByRole('heading', { name: 'Admins only' }).isVisible()).resolves.toBe(true)
  })
})
