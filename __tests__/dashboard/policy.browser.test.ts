/**
 * The policy editor in real Chromium: an admin types a valid document and saves it (a new
 * version appears in the history); a document with a typo is refused with the error shown at
 * its line, what was typed still in the editor, and nothing changed. Also without JavaScript.
 */
import { describe, expect, it } from '@jest/globals'
import type { Page } from 'playwright-core'
import { chromiumPagesClosedAfterEach } from '../helpers/dashboard-page.js'
import { ADMIN, dashboardsClosedAfterEach, TWO_SRE_POLICY, type DashboardFixture } from './fixture.js'

const TYPO = `rules:
  - name: production
    match: { action: "deploy-prod*" }
    approvers: { required: 1 }
    windows:
      - { days: [mon], from: "09:00", to: "17:00", time_zone: Europe/Berlln }
`

const pages = chromiumPagesClosedAfterEach()
const dashboard = dashboardsClosedAfterEach()

async function policyPageAsAdmin(javaScriptEnabled: boolean): Promise<{ fx: DashboardFixture; page: Page }> {
  const fx = await dashboard()
  const page = await pages.signedIn(fx.url, ADMIN, { width: 1280, javaScriptEnabled })
  await page.goto(`${fx.url}/settings/policy`)
  return { fx, page }
}

describe.each([true, false])('the policy editor (JavaScript %p)', (javaScriptEnabled) => {
  it('saves a valid document as version 1 and lists it in the history', async () => {
    const { fx, page } = await policyPageAsAdmin(javaScriptEnabled)
    expect(await page.getByRole('link', { name: 'Policy', exact: true }).getAttribute('aria-current')).toBe('page')
    await page.getByLabel('Policy document').fill(TWO_SRE_POLICY)
    await page.getByRole('button', { name: 'Validate and save' }).click()
    await page.waitForURL(`${fx.url}/settings/policy?notice=policy_saved`)
    expect(await page.getByRole('status').first().textContent()).toContain('Policy saved as a new version')
    expect(await page.getByRole('link', { name: 'Version 1' }).isVisible()).toBe(true)
    expect(await page.getByLabel('Policy document').inputValue()).toBe(TWO_SRE_POLICY)
    expect(await fx.store.getPolicy(fx.project.id)).toMatchObject({ version: 1, source: TWO_SRE_POLICY, created_by: ADMIN.email })
  })

  it('refuses a document with a typo: the error at its line, the text kept, nothing changed', async () => {
    const { fx, page } = await policyPageAsAdmin(javaScriptEnabled)
    await page.getByLabel('Policy document').fill(TYPO)
    await page.getByRole('button', { name: 'Validate and save' }).click()
    expect(await page.getByRole('alert').textContent()).toBe('The policy was not saved: 1 error. Nothing was changed.')
    const errorLine = page.locator('#policy-line-6')
    expect(await errorLine.getAttribute('class')).toBe('policy-line-error')
    expect(await errorLine.textContent()).toContain('rules[0].windows[0].time_zone: must be an IANA time zone')
    expect(await errorLine.isVisible()).toBe(true)
    await page.getByRole('link', { name: 'Line 6' }).click()
    expect(page.url()).toMatch(/#policy-line-6$/)
    expect(await page.getByLabel('Policy document').inputValue()).toBe(TYPO)
    expect(await fx.store.listPolicyVersions(fx.project.id)).toEqual([])
  })
})
