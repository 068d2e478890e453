/**
 * Settings → Trust rules in real Chromium: an admin adds a rule with the form (a refusal keeps
 * what was typed), sees it listed, removes it through the confirmation page; a member is
 * refused the page.
 */
import { describe, expect, it } from '@jest/globals'
import { chromiumPagesClosedAfterEach } from '../helpers/dashboard-page.js'
import { ADMIN, MEMBER, dashboardsClosedAfterEach } from './fixture.js'

const pages = chromiumPagesClosedAfterEach()
const dashboard = dashboardsClosedAfterEach()

describe('trust rules page (real Chromium)', () => {
  it('an admin adds a rule, a refusal keeps the form, and removing asks first', async () => {
    const fx = await dashboard()
    const page = await pages.signedIn(fx.url, ADMIN)
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
    const page = await pages.signedIn(fx.url, MEMBER)
    const answer = await page.goto(`${fx.url}/settings/trust`)
    expect(answer?.status()).toBe(403)
    await expect(page.getByRole('heading', { name: 'Admins only' }).isVisible()).resolves.toBe(true)
  })
})
