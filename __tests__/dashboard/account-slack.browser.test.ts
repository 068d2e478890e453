/**
 * The account page's Slack field in real Chromium: a member enters their Slack user id for a
 * project, saves, and sees it kept; a malformed id is stopped by the field's own rule before
 * anything is sent, and the server refuses it too when the browser's check is bypassed.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import type { Browser, BrowserContext } from 'playwright-core'
import { launchBrowser } from '../helpers/browser.js'
import { signIn } from '../helpers/dashboard-page.js'
import { MEMBER, startDashboard, type DashboardFixture } from './fixture.js'

let browser: Browser
const contexts: BrowserContext[] = []
const fixtures: DashboardFixture[] = []

beforeAll(async () => {
  browser = await launchBrowser()
}, 60_000)
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close().catch(() => {})
  for (const fx of fixtures.splice(0)) await fx.close()
})
afterAll(async () => {
  await browser?.close()
})

describe('account page: Slack user id', () => {
  it('saves the id for the project and shows it again; a malformed id is refused and changes nothing', async () => {
    const fx = await startDashboard()
    fixtures.push(fx)
    const { context, page } = await signIn(browser, fx.url, MEMBER)
    contexts.push(context)
    await page.goto(`${fx.url}/account`)
    const field = page.getByLabel(`Slack user id in ${fx.project.name}`)
    await field.fill('U0BOB1234')
    await page.locator(`form[action="/account/slack"]`).getByRole('button', { name: 'Save' }).click()
    await page.waitForURL(`${fx.url}/account?notice=slack_linked`)
    await expect(page.getByText('Slack user saved.').isVisible()).resolves.toBe(true)
    await expect(page.getByLabel(`Slack user id in ${fx.project.name}`).inputValue()).resolves.toBe('U0BOB1234')
    expect((await fx.store.getMemberBySlackUser(fx.project.id, 'U0BOB1234'))?.email).toBe(MEMBER.email)

    // The field's pattern stops a malformed id in the browser…
    await page.getByLabel(`Slack user id in ${fx.project.name}`).fill('<@U0BOB>')
    await page.locator(`form[action="/account/slack"]`).getByRole('button', { name: 'Save' }).click()
    await expect(page.getByLabel(`Slack user id in ${fx.project.name}`).evaluate((input: HTMLInputElement) => input.validity.patternMismatch)).resolves.toBe(true)
    // …and without the browser's check, the server refuses it.
    await page.getByLabel(`Slack user id in ${fx.project.name}`).evaluate((input: HTMLInputElement) => input.removeAttribute('pattern'))
    await page.locator(`form[action="/account/slack"]`).getByRole('button', { name: 'Save' }).click()
    await expect(page.getByText('The Slack user id is refused').isVisible()).resolves.toBe(true)
    expect((await fx.store.getMemberBySlackUser(fx.project.id, 'U0BOB1234'))?.email).toBe(MEMBER.email)
  }, 60_000)
})
