/**
 * Accounts in real Chromium against a real server (issue #10 items 2, 3, 7, 8): invitation
 * links for new and existing accounts, the account page's password change and "Sign out
 * everywhere" stopping another browser's live page, live cards deciding with the viewer's
 * own CSRF token, and the warning on keys that can decide their own requests.
 */
import { describe, expect, it } from '@jest/globals'
import { hashPassword } from '../../src/server/auth/secrets.js'
import { chromiumPagesClosedAfterEach } from '../helpers/dashboard-page.js'
import { ADMIN, createViaApi, dashboardsClosedAfterEach, MEMBER, type DashboardFixture } from './fixture.js'

const pages = chromiumPagesClosedAfterEach()
const dashboard = dashboardsClosedAfterEach()

async function inviteLink(fx: DashboardFixture, email: string, githubLogin = ''): Promise<string> {
  const admin = await pages.signedIn(fx.url, ADMIN)
  await admin.goto(`${fx.url}/settings/members`)
  await admin.getByLabel('Email').fill(email)
  await admin.getByLabel('Role', { exact: true }).selectOption('member')
  await admin.locator('#new-github').fill(githubLogin)
  await admin.getByRole('button', { name: 'Create invitation link' }).click()
  await expect(admin.getByRole('heading', { name: `Invitation for ${email}` }).isVisible()).resolves.toBe(true)
  const link = await admin.getByLabel('Invitation link').inputValue()
  await admin.goto(`${fx.url}/settings/members`)
  expect(await admin.content()).not.toContain(link) // shown once
  await expect(admin.locator('table.invitations').textContent()).resolves.toContain(email)
  return link
}

describe('invitations', () => {
  it('a new person opens the link, chooses a password and is in the project', async () => {
    const fx = await dashboard()
    const link = await inviteLink(fx, 'dave@example.com', 'dave-gh')
    const page = await pages.newPage()
    await page.goto(link)
    await expect(page.getByRole('heading', { name: 'Join main' }).isVisible()).resolves.toBe(true)
    await page.getByLabel(/Choose a password/).fill('dave password 42')
    await page.getByLabel('Password again').fill('dave password 42')
    await page.getByRole('button', { name: 'Create account and join' }).click()
    await page.waitForURL(`${fx.url}/?notice=invitation_accepted`)
    await expect(page.getByRole('status').first().textContent()).resolves.toContain('you are now a member')
    await expect(page.locator('.who').textContent()).resolves.toBe('dave@example.com')
    const dave = (await fx.store.listMembers(fx.project.id)).find((m) => m.email === 'dave@example.com')
    expect(dave).toMatchObject({ role: 'member', github_login: 'dave-gh' })
    // The link is spent.
    const again = await pages.newPage()
    const answer = await again.goto(link)
    expect(answer?.status()).toBe(404)
    await expect(again.getByRole('heading', { name: 'This invitation link does not work' }).isVisible()).resolves.toBe(true)
  }, 60_000)

  it('someone with an account signs in on the link to join', async () => {
    const fx = await dashboard()
    const other = await fx.store.createProject('other')
    const carol = await fx.store.createUser({ email: 'carol@example.com', password_hash: await hashPassword('carol password 1') })
    await fx.store.setMembership(other.id, carol.id, 'admin')
    const link = await inviteLink(fx, 'carol@example.com')
    const page = await pages.newPage()
    await page.goto(link)
    await page.getByLabel(/Password of carol@example.com/).fill('carol password 1')
    await page.getByRole('button', { name: 'Sign in and join' }).click()
    await page.waitForURL(`${fx.url}/?notice=invitation_accepted`)
    await expect(page.locator('#project-select option:checked').textContent()).resolves.toBe('main')
    expect(await fx.store.getMembership(fx.project.id, carol.id)).toBe('member')
  }, 60_000)
})

describe('sessions', () => {
  it('"Sign out everywhere" signs out another browser and stops its live page', async () => {
    const fx = await dashboard()
    const watching = await pages.signedIn(fx.url, MEMBER)
    await watching.waitForSelector('body[data-connected="true"]')
    const first = await createViaApi(fx.url, fx.keys.request, { action: 'seen_live' })
    await watching.locator(`article[data-approval-id="${first.id}"]`).waitFor()

    const here = await pages.signedIn(fx.url, MEMBER)
    await here.getByRole('link', { name: MEMBER.email }).click()
    await here.waitForURL(`${fx.url}/account`)
    await here.getByRole('button', { name: 'Sign out everywhere' }).click()
    await here.waitForURL(/\/login\?notice=signed_out_everywhere/)
    await expect(here.getByRole('status').first().textContent()).resolves.toBe('You are signed out on every device.')

    // The other browser's stream is closed and not reopened (its session is gone).
    await watching.waitForSelector('body[data-connected="false"]')
    const after = await createViaApi(fx.url, fx.keys.request, { action: 'after_sign_out' })
    await watching.waitForTimeout(500)
    expect(await watching.locator(`article[data-approval-id="${after.id}"]`).count()).toBe(0)
    await watching.reload()
    expect(watching.url()).toBe(`${fx.url}/login`)
  }, 60_000)

  it('changing the password keeps this browser signed in and signs out the others', async () => {
    const fx = await dashboard()
    const other = await pages.signedIn(fx.url, MEMBER)
    const page = await pages.signedIn(fx.url, MEMBER)
    await page.goto(`${fx.url}/account`)
    await page.getByLabel('Current password').fill(MEMBER.password)
    await page.locator('#new-password').fill('a new password 123')
    await page.getByLabel('New password again').fill('a new password 123')
    await page.getByRole('button', { name: 'Change password' }).click()
    await page.waitForURL(`${fx.url}/account?notice=password_changed`)
    await page.goto(`${fx.url}/`)
    expect(page.url()).toBe(`${fx.url}/`)
    await other.reload()
    expect(other.url()).toBe(`${fx.url}/login`)
  }, 60_000)

  it('decides a card that arrived live, with this viewer’s own CSRF token', async () => {
    const fx = await dashboard()
    const page = await pages.signedIn(fx.url, MEMBER)
    await page.waitForSelector('body[data-connected="true"]')
    const created = await createViaApi(fx.url, fx.keys.request, { action: 'live_decide' })
    const card = page.locator(`article[data-approval-id="${created.id}"]`)
    await card.waitFor()
    const token = await page.locator('header input[name="_csrf"]').inputValue()
    await expect(card.locator('input[name="_csrf"]').inputValue()).resolves.toBe(token)
    await card.getByRole('button', { name: 'Approve' }).click()
    for (let i = 0; i < 100 && (await fx.store.getApproval(fx.project.id, created.id))?.status === 'pending'; i++) await page.waitForTimeout(50)
    expect((await fx.store.getApproval(fx.project.id, created.id))?.status).toBe('approved')
  }, 60_000)
})

describe('API keys', () => {
  it('warns when a new key can both ask and decide', async () => {
    const fx = await dashboard()
    const page = await pages.signedIn(fx.url, ADMIN)
    await page.goto(`${fx.url}/settings/keys`)
    await page.getByLabel(/Name/).fill('ops')
    await page.getByLabel('Scope').selectOption('admin')
    await page.getByRole('button', { name: 'Create key' }).click()
    await expect(page.getByRole('alert').first().textContent()).resolves.toContain('This key can both ask for approvals and decide them')
    expect(await page.getByLabel('New API key').inputValue()).toMatch(/^agk_/)
  }, 60_000)
})
