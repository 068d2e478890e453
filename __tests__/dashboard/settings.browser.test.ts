/**
 * Settings in real Chromium at a phone (390 px) and two desktop widths (1280, 1920 px), issue
 * #16 item 12: API-key rows and member rows say what each value is (labels on a phone, column
 * headers on a desktop), no settings page scrolls sideways, removing a member and revoking a
 * key or an invitation ask first and work with JavaScript disabled, and after a refused change
 * the browser is on the list's page URL with a notice, not on a POST URL. Each test has its own
 * server and project. Screenshots go to docs/screenshots/ when SCREENSHOTS=1.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { Locator, Page } from 'playwright-core'
import { AdminService } from '../../src/server/admin/admin-service.js'
import { hashPassword } from '../../src/server/auth/secrets.js'
import { chromiumPagesClosedAfterEach, expectNoSidewaysScroll } from '../helpers/dashboard-page.js'
import { ADMIN, createViaApi, dashboardsClosedAfterEach, MEMBER, type DashboardFixture } from './fixture.js'

const WIDTHS = [390, 1280, 1920] as const
const PHONE = 390
/** An email as long as people's work addresses get, with no space to break at. */
const LONG_EMAIL = 'maximilian.schwarzenberger-oppenheimer@platform-engineering.example.com'

const pages = chromiumPagesClosedAfterEach()
const plainDashboard = dashboardsClosedAfterEach()
let shotDir: string

beforeAll(async () => {
  shotDir = process.env.SCREENSHOTS === '1' ? join(process.cwd(), 'docs/screenshots') : await mkdtemp(join(tmpdir(), 'approval-gate-settings-'))
})
afterAll(async () => {
  if (shotDir && process.env.SCREENSHOTS !== '1') await rm(shotDir, { recursive: true, force: true })
})

/** A project of its own: alice (admin), bob (member), a long-named member, a used key and an open invitation. */
async function dashboard(): Promise<DashboardFixture> {
  const fx = await plainDashboard()
  const long = await fx.store.createUser({ email: LONG_EMAIL, password_hash: await hashPassword('long password 123') })
  await fx.store.setMembership(fx.project.id, long.id, 'member', { github_login: 'max-schwarzenberger-oppenheimer' })
  await createViaApi(fx.url, fx.keys.request, { action: 'marks_the_key_used' }) // "Last used" gets a time
  await new AdminService(fx.store).invite(fx.project, 'test', { email: 'dora@example.com', role: 'member', githubLogin: '' })
  return fx
}

/** A page in a fresh profile of `width` px, signed in as the admin. */
function signedIn(fx: DashboardFixture, width: number, options: { javaScriptEnabled?: boolean } = {}): Promise<Page> {
  return pages.signedIn(fx.url, ADMIN, { width, ...options })
}

/** The texts of a row's labels that are shown (the phone's per-cell labels), without their screen-reader-only parts. */
async function visibleLabels(row: Locator): Promise<string[]> {
  return row.locator('.cell-label, .cell-label-field').evaluateAll((labels) =>
    labels
      .filter((label) => {
        const rect = label.getBoundingClientRect()
        return label.checkVisibility() && rect.width > 8 && rect.height > 8 && getComputedStyle(label).clip === 'auto'
      })
      .map((label) => {
        const copy = label.cloneNode(true) as HTMLElement
        for (const hidden of copy.querySelectorAll('.visually-hidden')) hidden.remove()
        return (copy.textContent ?? '').trim()
      }),
  )
}

/** Every element of the row lies inside the table's box (nothing cut off on the right). */
async function expectInside(row: Locator, box: Locator): Promise<void> {
  const right = await box.evaluate((el) => el.getBoundingClientRect().right)
  const overflowing = await row.evaluate(
    (el, limit) => [...el.querySelectorAll<HTMLElement>('*')].filter((child) => child.getClientRects().length > 0 && child.getBoundingClientRect().right > limit + 0.5).map((child) => child.outerHTML.slice(0, 80)),
    right,
  )
  expect(overflowing).toEqual([])
}

describe.each(WIDTHS)('at %i px', (width) => {
  it('key rows say which time is "Created" and which "Last used", and the page does not scroll sideways', async () => {
    const fx = await dashboard()
    const page = await signedIn(fx, width)
    await page.goto(`${fx.url}/settings/keys`)
    const rows = page.locator('table.keys tbody tr')
    expect(await rows.count()).toBe(2)
    for (let i = 0; i < 2; i++) {
      const row = rows.nth(i)
      if (width === PHONE) {
        expect(await visibleLabels(row)).toEqual(['Key', 'Scopes', 'Created', 'Last used'])
        // Each time sits right under its own label.
        for (const label of ['Created', 'Last used']) {
          const cell = row.locator('td', { has: page.locator('.cell-label', { hasText: new RegExp(`^${label}$`) }) })
          const [labelBox, valueBox] = await Promise.all([cell.locator('.cell-label').boundingBox(), cell.locator('time, .muted').first().boundingBox()])
          expect(valueBox!.y).toBeGreaterThanOrEqual(labelBox!.y + labelBox!.height - 1)
          expect(valueBox!.y - (labelBox!.y + labelBox!.height)).toBeLessThan(labelBox!.height)
          expect(Math.abs(valueBox!.x - labelBox!.x)).toBeLessThan(2)
        }
      } else {
        expect(await visibleLabels(row)).toEqual([]) // the column headers say it
      }
      await expectInside(row, page.locator('.table-wrap'))
    }
    await expect(page.locator('table.keys thead').isVisible()).resolves.toBe(width !== PHONE)
    // The key named ci ("decide" in the other row also holds the letters ci).
    const ci = rows.filter({ hasNotText: 'deployer' })
    await expect(ci.locator('time').count()).resolves.toBe(2) // created and last used
    await expectNoSidewaysScroll(page)
    if (width === PHONE) await page.screenshot({ path: join(shotDir, 'settings-keys-phone.png'), fullPage: true })
  }, 60_000)

  it('member rows label the role and the GitHub login, long emails wrap, and nothing scrolls sideways', async () => {
    const fx = await dashboard()
    const page = await signedIn(fx, width)
    await page.goto(`${fx.url}/settings/members`)
    const rows = page.locator('table.members tbody tr')
    expect(await rows.count()).toBe(3)
    for (let i = 0; i < 3; i++) {
      const row = rows.nth(i)
      expect(await visibleLabels(row)).toEqual(width === PHONE ? ['Role', 'GitHub login'] : [])
      await expectInside(row, page.locator('.table-wrap').first())
    }
    // The fields keep their full names for screen readers at every width.
    const long = rows.filter({ hasText: LONG_EMAIL })
    await expect(long.getByLabel(`GitHub login of ${LONG_EMAIL}`).inputValue()).resolves.toBe('max-schwarzenberger-oppenheimer')
    await expect(long.getByLabel(`Role of ${LONG_EMAIL}`).inputValue()).resolves.toBe('member')
    const invitation = page.locator('table.invitations tbody tr')
    expect(await visibleLabels(invitation)).toEqual(width === PHONE ? ['Role', 'Expires'] : [])
    await expectNoSidewaysScroll(page)
    if (width === PHONE) await page.screenshot({ path: join(shotDir, 'settings-phone.png'), fullPage: true })
    if (width === 1280) await page.screenshot({ path: join(shotDir, 'settings-members.png'), fullPage: true })
  }, 60_000)

  it('removing a member asks first and works with JavaScript disabled', async () => {
    const fx = await dashboard()
    const page = await signedIn(fx, width, { javaScriptEnabled: false })
    await page.goto(`${fx.url}/settings/members`)
    await page.getByRole('link', { name: `Remove ${MEMBER.email}` }).click()
    await page.waitForURL(`${fx.url}/settings/members/${fx.member.id}/remove`)
    await expect(page.getByRole('heading', { name: `Remove ${MEMBER.email} from main?` }).isVisible()).resolves.toBe(true)
    expect(await fx.store.getMembership(fx.project.id, fx.member.id)).toBe('member') // asking changed nothing
    await expectNoSidewaysScroll(page)
    if (width === PHONE) await page.screenshot({ path: join(shotDir, 'settings-confirm-phone.png'), fullPage: true })

    // Cancel goes back and keeps them.
    await page.getByRole('link', { name: 'Cancel' }).click()
    await page.waitForURL(`${fx.url}/settings/members`)
    expect(await fx.store.getMembership(fx.project.id, fx.member.id)).toBe('member')

    await page.getByRole('link', { name: `Remove ${MEMBER.email}` }).click()
    await page.getByRole('button', { name: `Remove ${MEMBER.email}` }).click()
    await page.waitForURL(`${fx.url}/settings/members?notice=member_removed`)
    await expect(page.getByRole('status').first().textContent()).resolves.toBe('Member removed.')
    expect(await fx.store.getMembership(fx.project.id, fx.member.id)).toBeNull()
    await expect(page.locator('table.members').textContent()).resolves.not.toContain(MEMBER.email)
  }, 60_000)
})

describe('after a refused change the browser is on a page URL', () => {
  it('a member removed by someone else while the confirmation page was open', async () => {
    const fx = await dashboard()
    const page = await signedIn(fx, PHONE, { javaScriptEnabled: false })
    await page.goto(`${fx.url}/settings/members`)
    await page.getByRole('link', { name: `Remove ${MEMBER.email}` }).click()
    await page.waitForURL(/\/remove$/)
    expect(await fx.store.removeMembership(fx.project.id, fx.member.id)).toBe(true) // another admin was quicker
    await page.getByRole('button', { name: `Remove ${MEMBER.email}` }).click()
    await page.waitForURL(`${fx.url}/settings/members?notice=not_a_member`)
    await expect(page.getByRole('alert').textContent()).resolves.toContain('is not a member of this project')
    // Reloading shows the list again; nothing is posted a second time.
    const reloaded = await page.reload()
    expect(reloaded?.request().method()).toBe('GET')
    expect(reloaded?.status()).toBe(200)
  }, 60_000)

  it('demoting the last admin and a bad GitHub login, with JavaScript', async () => {
    const fx = await dashboard()
    const page = await signedIn(fx, 1280)
    await page.goto(`${fx.url}/settings/members`)
    await page.getByLabel(`Role of ${ADMIN.email}`).selectOption('member')
    await page.locator('tr', { hasText: ADMIN.email }).getByRole('button', { name: 'Set role' }).click()
    await page.waitForURL(`${fx.url}/settings/members?notice=last_admin_role`)
    await expect(page.getByRole('alert').textContent()).resolves.toContain('A project needs at least one admin')
    await page.getByLabel(`GitHub login of ${MEMBER.email}`).fill('-not a login')
    await page.locator('tr', { hasText: MEMBER.email }).getByRole('button', { name: 'Link' }).click()
    await page.waitForURL(`${fx.url}/settings/members?notice=bad_github_login`)
    await expect(page.getByRole('alert').textContent()).resolves.toContain('A GitHub login has 1–39 letters')
    expect(await fx.store.getMembership(fx.project.id, fx.admin.id)).toBe('admin')
  }, 60_000)

  it('revoking a key asks first; a key revoked meanwhile ends on the keys page', async () => {
    const fx = await dashboard()
    const page = await signedIn(fx, PHONE, { javaScriptEnabled: false })
    await page.goto(`${fx.url}/settings/keys`)
    await page.getByRole('link', { name: 'Revoke key deployer' }).click()
    await expect(page.getByRole('heading', { name: 'Revoke API key “deployer”?' }).isVisible()).resolves.toBe(true)
    await expectNoSidewaysScroll(page)
    await page.getByRole('button', { name: 'Revoke deployer' }).click()
    await page.waitForURL(`${fx.url}/settings/keys?notice=key_revoked`)
    expect((await fx.store.listApiKeys(fx.project.id)).find((k) => k.name === 'deployer')?.revoked_at).not.toBeNull()

    await page.getByRole('link', { name: 'Revoke key ci' }).click()
    const ci = (await fx.store.listApiKeys(fx.project.id)).find((k) => k.name === 'ci')!
    await fx.store.revokeApiKey(fx.project.id, ci.id) // revoked elsewhere meanwhile
    await page.getByRole('button', { name: 'Revoke ci' }).click()
    await page.waitForURL(`${fx.url}/settings/keys?notice=key_already_revoked`)
    await expect(page.getByRole('status').first().textContent()).resolves.toBe('That API key was already revoked.')
  }, 60_000)

  it('revoking an invitation asks first; one already gone ends on the members page', async () => {
    const fx = await dashboard()
    const page = await signedIn(fx, PHONE, { javaScriptEnabled: false })
    await page.goto(`${fx.url}/settings/members`)
    await page.getByRole('link', { name: 'Revoke the invitation for dora@example.com' }).click()
    await expect(page.getByRole('heading', { name: 'Revoke the invitation for dora@example.com?' }).isVisible()).resolves.toBe(true)
    await expectNoSidewaysScroll(page)
    const [invitation] = await fx.store.listOpenInvitations(fx.project.id)
    await fx.store.revokeInvitation(fx.project.id, invitation.id) // revoked elsewhere meanwhile
    await page.getByRole('button', { name: 'Revoke invitation' }).click()
    await page.waitForURL(`${fx.url}/settings/members?notice=no_such_invitation`)
    await expect(page.getByRole('alert').textContent()).resolves.toContain('no such open invitation')
  }, 60_000)
})
