/**
 * Single sign-on in real Chromium against a real OpenID provider (`oidc-provider` on
 * loopback): the happy path, and a forged `state`, a replayed code, an unverified email, a
 * domain that is not allowed, an email with no account, each refused with no session; first
 * sign-ins joining the default project; and password sign-in turned off (form absent, POST
 * refused).
 */
import { afterAll, describe, expect, it } from '@jest/globals'
import type { Page } from 'playwright-core'
import { AdminService } from '../../src/server/admin/admin-service.js'
import { hashPassword } from '../../src/server/auth/secrets.js'
import { chromiumPagesClosedAfterEach } from '../helpers/dashboard-page.js'
import { signInAtProvider, startOpenIdProvider, type OpenIdProvider } from '../helpers/openid-provider.js'
import { ADMIN, dashboardsClosedAfterEach, FormClient, MEMBER, type DashboardFixture } from './fixture.js'

const PEOPLE = {
  carol: { email: 'Carol@Example.com', email_verified: true },
  unverified: { email: 'bob@example.com', email_verified: false },
  stringly: { email: 'bob@example.com', email_verified: 'true' },
  outsider: { email: 'eve@other.org', email_verified: true },
  newcomer: { email: 'newcomer@example.com', email_verified: true },
}

const pages = chromiumPagesClosedAfterEach()
const providers: OpenIdProvider[] = []
const dashboard = dashboardsClosedAfterEach()

afterAll(async () => {
  for (const provider of providers.splice(0)) await provider.close()
})

/** A dashboard whose sign-in page offers the test provider (domains example.com only, unless told). */
async function ssoDashboard(options: { passwordLogin?: boolean; defaultProject?: string; allowedDomains?: string[] } = {}): Promise<{ fx: DashboardFixture; idp: OpenIdProvider }> {
  const idp = await startOpenIdProvider(PEOPLE)
  providers.push(idp)
  const fx = await dashboard({
    passwordLogin: options.passwordLogin,
    sso: { issuer: idp.issuer, clientId: idp.clientId, clientSecret: idp.clientSecret, providerName: 'Test IdP', allowedDomains: options.allowedDomains ?? ['example.com'], defaultProject: options.defaultProject },
  })
  await idp.register(`${fx.url}/login/sso/callback`)
  const carol = await fx.store.createUser({ email: 'carol@example.com', password_hash: await hashPassword('carol password 123') })
  await fx.store.setMembership(fx.project.id, carol.id, 'member')
  return { fx, idp }
}

/** Clicks "Sign in with Test IdP" on the dashboard and signs in at the provider as `login`. */
async function signInThroughProvider(page: Page, fx: DashboardFixture, login: string): Promise<void> {
  await page.goto(`${fx.url}/login`)
  await page.getByRole('link', { name: 'Sign in with Test IdP' }).click()
  await signInAtProvider(page, login)
}

/** The URL the provider sends this page back to (with `code` and `state`), once it does. */
function callbackOf(page: Page, fx: DashboardFixture): Promise<URL> {
  return new Promise((resolve) => {
    // Request events fire for every hop of a redirect chain, so the provider's 303 is seen too.
    page.on('request', (request) => {
      if (request.url().startsWith(`${fx.url}/login/sso/callback?`)) resolve(new URL(request.url()))
    })
  })
}

/** The pre-login cookie a started sign-in left in the page's browser. */
async function preLoginCookie(page: Page, fx: DashboardFixture): Promise<string> {
  const value = (await page.context().cookies(fx.url)).find((c) => c.name === 'ag_sso')?.value
  if (!value) throw new Error('no pre-login cookie after starting the sign-in')
  return value
}

/** No session cookie was given, and the dashboard sends the page to sign in. */
async function expectSignedOut(page: Page, fx: DashboardFixture): Promise<void> {
  expect((await page.context().cookies(fx.url)).some((c) => c.name === 'ag_session')).toBe(false)
  await expectSentToSignIn(page, fx)
}

async function expectSentToSignIn(page: Page, fx: DashboardFixture): Promise<void> {
  await page.goto(`${fx.url}/`)
  expect(new URL(page.url()).pathname).toBe('/login')
}

describe('single sign-on (real Chromium, real OpenID provider)', () => {
  it('signs in an existing account by its verified email (any case), with an ordinary session', async () => {
    const { fx } = await ssoDashboard()
    const page = await pages.newPage()
    await page.goto(`${fx.url}/approvals/unknown-id-to-come-back-to`)
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).click()
    await signInAtProvider(page, 'carol')
    await page.waitForURL(`${fx.url}/approvals/unknown-id-to-come-back-to`)
    await page.goto(`${fx.url}/`)
    await expect(page.locator('.who').textContent()).resolves.toBe('carol@example.com')
    const cookies = await page.context().cookies(fx.url)
    expect(cookies.find((c) => c.name === 'ag_session')).toMatchObject({ httpOnly: true })
    expect(cookies.some((c) => c.name === 'ag_sso')).toBe(false) // the pre-login cookie is spent
    // Removal ends SSO sessions like password ones.
    const carol = (await fx.store.getUserByEmail('carol@example.com'))!
    expect(await fx.store.deleteUserSessions(carol.id)).toBe(1)
    await expectSentToSignIn(page, fx)
  })

  it('refuses a forged state: an answer that belongs to another sign-in than the one this browser started', async () => {
    const { fx } = await ssoDashboard()
    // The attacker signs in as themself and keeps the provider's answer (login CSRF).
    const attacker = await pages.newPage()
    const attackersAnswer = callbackOf(attacker, fx)
    await signInThroughProvider(attacker, fx, 'carol')
    const callback = await attackersAnswer
    // The victim has started a sign-in of their own; the attacker makes their browser open the answer.
    const victim = await pages.newPage()
    for (const state of [callback.searchParams.get('state')!, 'forged-state-of-the-attackers-choosing']) {
      await victim.goto(`${fx.url}/login`)
      await victim.getByRole('link', { name: 'Sign in with Test IdP' }).click()
      await victim.waitForURL(/\/interaction\//)
      const forged = new URL(callback)
      forged.searchParams.set('state', state)
      const answer = await victim.goto(forged.href)
      expect(answer?.status()).toBe(400)
      await expect(victim.getByRole('alert').textContent()).resolves.toMatch(/state mismatch/)
      await expectSignedOut(victim, fx)
    }
  })

  it('refuses a replayed code, even with the pre-login cookie replayed too (the provider refuses it)', async () => {
    const { fx } = await ssoDashboard()
    const page = await pages.newPage()
    const answer = callbackOf(page, fx)
    await page.goto(`${fx.url}/login`)
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).click()
    const preLogin = await preLoginCookie(page, fx)
    await signInAtProvider(page, 'carol')
    await page.waitForURL(`${fx.url}/`)
    await expect(page.locator('.who').textContent()).resolves.toBe('carol@example.com')
    const callback = await answer
    // The same browser again: its pre-login cookie was spent.
    expect((await page.goto(callback.href))?.status()).toBe(400)
    await expect(page.getByRole('alert').textContent()).resolves.toMatch(/not started in this browser/)
    // An attacker who copied the URL and the cookie: the provider redeems a code once.
    const thief = await pages.newPage()
    await thief.context().addCookies([{ name: 'ag_sso', value: preLogin, url: fx.url }])
    expect((await thief.goto(callback.href))?.status()).toBe(403)
    await expect(thief.getByRole('alert').textContent()).resolves.toMatch(/refused the sign-in code \(invalid_grant\)/)
    await expectSignedOut(thief, fx)
  })

  it('refuses an email the provider has not verified, also when email_verified is the string "true"', async () => {
    const { fx } = await ssoDashboard()
    for (const login of ['unverified', 'stringly']) {
      const page = await pages.newPage()
      await signInThroughProvider(page, fx, login)
      await page.waitForURL(`${fx.url}/login/sso/callback**`)
      await expect(page.getByRole('alert').textContent()).resolves.toContain('has not verified the email bob@example.com')
      await expectSignedOut(page, fx)
    }
    // bob has an account with that email: an unverified claim must not open it.
    expect(await fx.store.getUserByEmail(MEMBER.email)).not.toBeNull()
  })

  it('refuses a domain that is not allowed, and a verified email with no account (nothing is created)', async () => {
    const { fx } = await ssoDashboard()
    await fx.store.createUser({ email: 'eve@other.org', password_hash: await hashPassword('eve password 12345') })
    const page = await pages.newPage()
    await signInThroughProvider(page, fx, 'outsider')
    await page.waitForURL(`${fx.url}/login/sso/callback**`)
    await expect(page.getByRole('alert').textContent()).resolves.toContain('Email addresses at other.org may not sign in here')
    await expectSignedOut(page, fx)

    const stranger = await pages.newPage()
    await signInThroughProvider(stranger, fx, 'newcomer')
    await stranger.waitForURL(`${fx.url}/login/sso/callback**`)
    await expect(stranger.getByRole('alert').textContent()).resolves.toContain('There is no account for newcomer@example.com here')
    await expectSignedOut(stranger, fx)
    expect(await fx.store.getUserByEmail('newcomer@example.com')).toBeNull()
  })

  it('with a default project, a first sign-in creates a member account there, recorded on its audit chain', async () => {
    const { fx } = await ssoDashboard({ defaultProject: 'main' })
    const page = await pages.newPage()
    await signInThroughProvider(page, fx, 'newcomer')
    await page.waitForURL(`${fx.url}/`)
    await expect(page.locator('.who').textContent()).resolves.toBe('newcomer@example.com')
    const members = await fx.store.listMembers(fx.project.id)
    expect(members.find((m) => m.email === 'newcomer@example.com')).toMatchObject({ role: 'member' })
    const events = []
    for await (const event of fx.store.exportAudit(fx.project.id)) events.push(event)
    expect(events.at(-1)).toMatchObject({ type: 'member_added', action: 'member:newcomer@example.com', actor: 'newcomer@example.com' })
    // No password opens the account.
    expect(await new FormClient(fx.url).login('newcomer@example.com', '!sso-only')).toBe(401)
  })

  it('an invited email with no account signs in through the provider from the link and joins the project', async () => {
    const { fx } = await ssoDashboard({ passwordLogin: false })
    const { token } = await new AdminService(fx.store).invite(fx.project, ADMIN.email, { email: 'newcomer@example.com', role: 'member', githubLogin: '' })
    const page = await pages.newPage()
    await page.goto(`${fx.url}/invite/${token}`)
    await expect(page.getByRole('heading', { name: 'Join main' }).isVisible()).resolves.toBe(true)
    await expect(page.locator('input[type="password"]').count()).resolves.toBe(0)
    await page.getByRole('link', { name: 'Sign in with Test IdP' }).click()
    await signInAtProvider(page, 'newcomer')
    await page.waitForURL(`${fx.url}/?notice=invitation_accepted`)
    await expect(page.locator('.who').textContent()).resolves.toBe('newcomer@example.com')
    const newcomer = (await fx.store.listMembers(fx.project.id)).find((m) => m.email === 'newcomer@example.com')
    expect(newcomer).toMatchObject({ role: 'member' })
    // The link is spent.
    expect((await (await pages.newPage()).goto(`${fx.url}/invite/${token}`))?.status()).toBe(404)
  })

  it('with password sign-in off: the form is absent, a posted password is refused, and the provider still signs in', async () => {
    const { fx } = await ssoDashboard({ passwordLogin: false })
    const page = await pages.newPage()
    await page.goto(`${fx.url}/login`)
    await expect(page.locator('input[type="password"]').count()).resolves.toBe(0)
    await expect(page.getByRole('link', { name: 'Sign in with Test IdP' }).isVisible()).resolves.toBe(true)

    const client = new FormClient(fx.url)
    await client.request('GET', '/login') // sets the sign-in CSRF cookie
    const csrf = decodeURIComponent(/ag_login_csrf=([^;]+)/.exec(client.cookieHeader())![1])
    const posted = await client.request('POST', '/login', { form: { _csrf: csrf, email: 'carol@example.com', password: 'carol password 123' } })
    expect(posted.status).toBe(403)
    expect(posted.text).toContain('Password sign-in is turned off on this server')
    expect(posted.headers.getSetCookie().some((line) => line.startsWith('ag_session=') && !/max-age=0/i.test(line))).toBe(false)

    await signInThroughProvider(page, fx, 'carol')
    await page.waitForURL(`${fx.url}/`)
    await expect(page.locator('.who').textContent()).resolves.toBe('carol@example.com')
  })
})
