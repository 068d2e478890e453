/**
 * The dashboard in real Chromium against a real server: sign in, live cards, hostile context,
 * deciding (in place and without JavaScript), races, cross-site forgery, audit filters,
 * members. Screenshots go to docs/screenshots/ when SCREENSHOTS=1, else to a temp dir.
 */
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import type { Browser, BrowserContext, Locator, Page } from 'playwright-core'
import { ApprovalRejected, requireApproval } from '../../src/client/index.js'
import { launchBrowser } from '../helpers/browser.js'
import { ADMIN, createViaApi, decideViaApi, MEMBER, startDashboard, type DashboardFixture } from './fixture.js'

let fx: DashboardFixture
let browser: Browser
let shotDir: string
const contexts: BrowserContext[] = []

beforeAll(async () => {
  ;[fx, browser] = await Promise.all([startDashboard(), launchBrowser()])
  shotDir = process.env.SCREENSHOTS === '1' ? join(process.cwd(), 'docs/screenshots') : await mkdtemp(join(tmpdir(), 'approval-gate-shots-'))
}, 60_000)

// One profile per test keeps them independent; closing them keeps memory low on small machines.
afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close().catch(() => {})
})

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {})
  await browser?.close()
  await fx?.close()
  if (shotDir && process.env.SCREENSHOTS !== '1') await rm(shotDir, { recursive: true, force: true })
})

/** A fresh browser profile signed in as `who`, with every dialog and console message recorded. */
async function signedIn(who: { email: string; password: string }, options: { javaScriptEnabled?: boolean; width?: number } = {}) {
  const context = await browser.newContext({ javaScriptEnabled: options.javaScriptEnabled ?? true, viewport: { width: options.width ?? 1100, height: 900 } })
  contexts.push(context)
  const page = await context.newPage()
  const dialogs: string[] = []
  const consoleMessages: string[] = []
  page.on('dialog', (dialog) => {
    dialogs.push(dialog.message())
    void dialog.dismiss()
  })
  page.on('console', (message) => consoleMessages.push(message.text()))
  await page.goto(`${fx.url}/login`)
  await page.getByLabel('Email').fill(who.email)
  await page.getByLabel('Password').fill(who.password)
  await page.getByRole('button', { name: 'Sign in' }).click()
  await page.waitForURL(`${fx.url}/`)
  return { context, page, dialogs, consoleMessages }
}

function card(page: Page, id: string) {
  return page.locator(`article[data-approval-id="${id}"]`)
}

/** Waits until `locator` holds `text` (live updates land asynchronously). */
async function waitForText(locator: Locator, text: string): Promise<void> {
  await locator.filter({ hasText: text }).first().waitFor()
}

/** Waits until the page's event stream is connected, so live events are not missed. */
async function waitForStream(page: Page): Promise<void> {
  await page.waitForFunction(() => document.body.dataset.connected === 'true')
}

describe('signing in', () => {
  it('refuses a wrong password and lets the right one in', async () => {
    const context = await browser.newContext()
    contexts.push(context)
    const page = await context.newPage()
    await page.goto(`${fx.url}/`)
    expect(page.url()).toBe(`${fx.url}/login`)
    await page.getByLabel('Email').fill(ADMIN.email)
    await page.getByLabel('Password').fill('not the password')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect(page.getByRole('alert').textContent()).resolves.toContain('That email and password do not match an account.')
    await page.getByLabel('Password').fill(ADMIN.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(`${fx.url}/`)
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Approvals')
    // The empty state explains how to send a first request.
    await expect(page.locator('[data-empty]').textContent()).resolves.toContain('curl -X POST')
    expect(await page.title()).toBe('Approvals · approval-gate')
  })
})

describe('approvals, live', () => {
  it('shows a request created through the API at once, with its context table and workflow run', async () => {
    const { page } = await signedIn(MEMBER)
    await waitForStream(page)
    const created = await createViaApi(fx.url, fx.keys.request, {
      action: 'production_deploy',
      agent: 'release-bot',
      context: {
        service: 'auth-api',
        version: '2.3.1',
        replicas: 6,
        canary: { percent: 10, regions: ['eu-west-1', 'us-east-1'] },
        changelog: 'Rotate signing keys.\n'.repeat(20),
        github: {
          repository: 'acme/auth-api',
          workflow: 'deploy',
          job: 'production',
          run_id: 8812,
          run_attempt: 1,
          run_url: 'https://github.com/acme/auth-api/actions/runs/8812',
          sha: '4f2a9c1d7e5b3a6f8c0d2e4f6a8b0c1d3e5f7a9b',
          ref: 'refs/heads/main',
          actor: 'carol',
          event: 'push',
        },
      },
    })
    const live = card(page, created.id)
    await live.waitFor()
    await expect(live.locator('.card-title').textContent()).resolves.toBe('production_deploy')
    const row = (key: string) => live.locator('table.kv > tbody > tr', { has: page.locator(`th:text-is("${key}")`) }).first()
    await expect(row('service').locator('td').textContent()).resolves.toBe('auth-api')
    await expect(row('replicas').locator('td').textContent()).resolves.toBe('6')
    await expect(row('canary').locator('table.kv-nested th').allTextContents()).resolves.toEqual(['percent', 'regions'])
    expect(await row('changelog').locator('details').count()).toBe(1) // long text is folded
    const workflow = live.locator('.workflow')
    await expect(workflow.getByRole('link', { name: 'Run 8812' }).getAttribute('href')).resolves.toBe('https://github.com/acme/auth-api/actions/runs/8812')
    await expect(workflow.getByRole('link', { name: '4f2a9c1d7e5b' }).getAttribute('href')).resolves.toBe('https://github.com/acme/auth-api/commit/4f2a9c1d7e5b3a6f8c0d2e4f6a8b0c1d3e5f7a9b')
    await expect(workflow.textContent()).resolves.toContain('carol')
    await expect(live.textContent()).resolves.toContain('release-bot')
    await page.waitForFunction(() => document.title.startsWith('(1) Approvals'))
    expect(await page.locator('[data-empty]').isHidden()).toBe(true)
    // The pending timer ticks.
    const since = live.locator('[data-since]')
    const first = await since.textContent()
    await page.waitForFunction((el) => el?.textContent !== el?.getAttribute('data-first'), await since.evaluateHandle((el, text) => (el.setAttribute('data-first', text ?? ''), el), first))
    await decideViaApi(fx.url, fx.keys.decide, created.id, 'approve', 'cleanup')
  })

  it('renders HTML and script payloads in context as text and runs none of them', async () => {
    const { page, dialogs, consoleMessages } = await signedIn(MEMBER)
    await waitForStream(page)
    const payloads = {
      img: '<img src=x onerror="window.__pwned=1;alert(1)">',
      script: '<script>window.__pwned=2;alert(2)</script>',
      attr: '"><svg onload="window.__pwned=3">',
      nested: { '<b onmouseover=alert(4)>key</b>': ['<iframe src="javascript:alert(5)">'] },
      github: { run_url: 'javascript:window.__pwned=4', repository: '<img src=x onerror=alert(6)>', actor: '<script>alert(7)</script>' },
    }
    const created = await createViaApi(fx.url, fx.keys.request, { action: '<img src=x onerror=alert(8)>', agent: '<script>alert(9)</script>', context: payloads })
    const live = card(page, created.id)
    await live.waitFor()
    const check = async () => {
      await expect(live.locator('.card-title').textContent()).resolves.toBe('<img src=x onerror=alert(8)>')
      await expect(live.textContent()).resolves.toContain('<script>window.__pwned=2;alert(2)</script>')
      await expect(live.textContent()).resolves.toContain('<img src=x onerror="window.__pwned=1;alert(1)">')
      expect(await live.locator('img, script, svg, iframe, b').count()).toBe(0)
      expect(await live.locator('a[href^="javascript"]').count()).toBe(0)
      expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined()
    }
    await check() // inserted live from the event stream
    await page.reload()
    await live.waitFor()
    await check() // rendered by the server
    await page.goto(`${fx.url}/approvals/${created.id}`)
    await check()
    expect(dialogs).toEqual([])
    expect(consoleMessages.filter((m) => !/EventSource|net::ERR/.test(m))).toEqual([])
    await decideViaApi(fx.url, fx.keys.decide, created.id, 'reject', 'test payload')
  })

  it('approving with a reason resumes a waiting requireApproval', async () => {
    const { page } = await signedIn(MEMBER)
    await waitForStream(page)
    const waiting = requireApproval('approve_me', { apiUrl: fx.url, apiKey: fx.keys.request, timeoutMs: 30_000, context: { ticket: 'OPS-1' } })
    const live = page.locator('article', { has: page.locator('.card-title', { hasText: 'approve_me' }) })
    await live.waitFor()
    await live.getByLabel(/Reason/).fill('Looks good, ship it')
    await live.getByRole('button', { name: 'Approve' }).click()
    const id = await waiting
    await waitForText(card(page, id).locator('.outcome'), `Approved by ${MEMBER.email}`)
    const stored = await fx.store.getApproval(fx.project.id, id)
    expect(stored).toMatchObject({ status: 'approved', reason: 'Looks good, ship it', decided_by: MEMBER.email })
  })

  it('rejecting with a reason makes requireApproval throw ApprovalRejected with that reason', async () => {
    const { page } = await signedIn(ADMIN)
    await waitForStream(page)
    const waiting = requireApproval('reject_me', { apiUrl: fx.url, apiKey: fx.keys.request, timeoutMs: 30_000 })
    const outcome = waiting.then(
      () => null,
      (error: unknown) => error,
    )
    const live = page.locator('article', { has: page.locator('.card-title', { hasText: 'reject_me' }) })
    await live.waitFor()
    await live.getByLabel(/Reason/).fill('Not during the freeze')
    await live.getByRole('button', { name: 'Reject' }).click()
    const error = await outcome
    expect(error).toBeInstanceOf(ApprovalRejected)
    expect((error as ApprovalRejected).reason).toBe('Not during the freeze')
  })

  it('a decision made through the API updates the open page', async () => {
    const { page } = await signedIn(MEMBER)
    await waitForStream(page)
    const created = await createViaApi(fx.url, fx.keys.request, { action: 'decided_elsewhere' })
    const live = card(page, created.id)
    await live.waitFor()
    const stable = await signedIn(ADMIN)
    await stable.page.goto(created.url) // the action's `url` output
    await waitForStream(stable.page)
    expect(await decideViaApi(fx.url, fx.keys.decide, created.id, 'approve', 'from the API')).toBe(200)
    await waitForText(live.locator('.outcome'), 'Approved by key:deployer')
    await live.waitFor({ state: 'detached', timeout: 15_000 })
    await page.waitForFunction(() => !document.title.startsWith('('))
    // The approval's own page keeps the card and shows the outcome.
    const own = card(stable.page, created.id)
    await waitForText(own.locator('.outcome'), 'Reason: from the API')
  })

  it('cards leave live when a request is cancelled or expires', async () => {
    const { page } = await signedIn(MEMBER)
    await waitForStream(page)
    const [cancelled, expiring] = await Promise.all([
      createViaApi(fx.url, fx.keys.request, { action: 'withdrawn' }),
      createViaApi(fx.url, fx.keys.request, { action: 'short_lived', timeout_ms: 2_000 }),
    ])
    await card(page, cancelled.id).waitFor()
    await card(page, expiring.id).waitFor()
    const response = await fetch(`${fx.url}/v1/approvals/${cancelled.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fx.keys.request}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'step cancelled' }),
    })
    expect(response.status).toBe(200)
    await waitForText(card(page, cancelled.id).locator('.outcome'), 'Cancelled by key:ci')
    await waitForText(card(page, expiring.id).locator('.outcome'), 'Expired without a decision')
    await card(page, cancelled.id).waitFor({ state: 'detached', timeout: 15_000 })
    await card(page, expiring.id).waitFor({ state: 'detached', timeout: 15_000 })
    await page.waitForFunction(() => document.title === 'Approvals · approval-gate' && !(document.querySelector('[data-empty]') as HTMLElement).hidden)
  })

  it('a decision that lost the race says who won — in place, and without JavaScript', async () => {
    const withJs = await signedIn(MEMBER)
    await withJs.context.route('**/events*', (route) => route.abort()) // no live update: the click races the API
    await withJs.page.reload()
    const noJs = await signedIn(ADMIN, { javaScriptEnabled: false })
    const created = await createViaApi(fx.url, fx.keys.request, { action: 'race' })
    await withJs.page.reload()
    await noJs.page.reload()
    expect(await decideViaApi(fx.url, fx.keys.decide, created.id, 'reject', 'too slow')).toBe(200)

    await card(withJs.page, created.id).getByRole('button', { name: 'Approve' }).click()
    await waitForText(card(withJs.page, created.id).locator('.notice'), 'Too late: this request was already rejected by key:deployer.')

    await card(noJs.page, created.id).getByRole('button', { name: 'Approve' }).click()
    await noJs.page.waitForURL(`${fx.url}/approvals/${created.id}?notice=lost`)
    await expect(noJs.page.locator('.notice').textContent()).resolves.toBe('Too late: this request was already rejected by key:deployer.')
    expect((await fx.store.getApproval(fx.project.id, created.id))?.status).toBe('rejected')
  })
})

describe('cross-site forgery', () => {
  let attacker: Server
  let attackerUrl: string

  beforeAll(async () => {
    // Another origin (same host, another port): the session cookie is sent, so only our checks stop it.
    attacker = createServer((request, response) => {
      const target = new URL(request.url ?? '/', 'http://x').searchParams.get('target') ?? ''
      response.writeHead(200, { 'content-type': 'text/html' })
      response.end(`<!doctype html><form id="f" method="post" action="${target}"><input name="decision" value="approve"><input name="_csrf" value="guess"></form><script>document.getElementById('f').submit()</script>`)
    })
    await new Promise<void>((resolve) => attacker.listen(0, '127.0.0.1', resolve))
    const address = attacker.address()
    attackerUrl = `http://127.0.0.1:${typeof address === 'object' && address ? address.port : 0}`
  })
  afterAll(async () => {
    await new Promise<void>((resolve) => attacker.close(() => resolve()))
  })

  it('refuses a POST from a page on another origin and one without the token, changing nothing', async () => {
    const { page } = await signedIn(ADMIN)
    const created = await createViaApi(fx.url, fx.keys.request, { action: 'forgery_target' })
    const target = `${fx.url}/approvals/${created.id}/decision`
    const forged = page.waitForResponse((response) => response.url() === target)
    await page.goto(`${attackerUrl}/?target=${encodeURIComponent(target)}`)
    expect((await forged).status()).toBe(403)

    await page.goto(`${fx.url}/`)
    const status = await page.evaluate(async (url) => {
      const response = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/x-www-form-urlencoded' }, body: 'decision=approve' })
      return response.status
    }, target)
    expect(status).toBe(403)
    expect((await fx.store.getApproval(fx.project.id, created.id))?.status).toBe('pending')
    await decideViaApi(fx.url, fx.keys.decide, created.id, 'reject', 'cleanup')
  })
})

describe('screenshots, audit trail and members', () => {
  it('captures the approvals page and a card', async () => {
    await createViaApi(fx.url, fx.keys.request, {
      action: 'payment_authorization',
      agent: 'billing-agent',
      context: { amount_usd: 4500, payee: 'vendor-acme', invoice: { number: 'INV-2291', due: '2025-07-01', lines: 3 }, note: 'Quarterly license renewal, approved budget line 4.2.' },
    })
    const deploy = await createViaApi(fx.url, fx.keys.request, {
      action: 'production_deploy',
      agent: 'github-actions',
      context: {
        service: 'auth-api',
        version: '2.3.1',
        environment: 'production',
        github: {
          repository: 'acme/auth-api',
          workflow: 'deploy',
          job: 'production',
          run_id: 9120,
          run_attempt: 1,
          run_url: 'https://github.com/acme/auth-api/actions/runs/9120',
          sha: '9c1d7e5b3a6f8c0d2e4f6a8b0c1d3e5f7a9b4f2a',
          ref: 'refs/heads/main',
          actor: 'carol',
          event: 'workflow_dispatch',
        },
      },
    })
    const { page } = await signedIn(ADMIN)
    await card(page, deploy.id).waitFor()
    await page.screenshot({ path: join(shotDir, 'approvals.png'), fullPage: true })
    await card(page, deploy.id).screenshot({ path: join(shotDir, 'card.png') })
    const phone = await signedIn(MEMBER, { width: 390 })
    await card(phone.page, deploy.id).screenshot({ path: join(shotDir, 'card-phone.png') })
  })

  it('filters the audit trail and shows the chain status', async () => {
    const { page } = await signedIn(ADMIN)
    await page.getByRole('link', { name: 'Audit trail' }).click()
    await expect(page.locator('.chain').textContent()).resolves.toContain('Hash chain intact')
    await page.getByLabel('Outcome').selectOption('rejected')
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.waitForURL(/outcome=rejected/)
    const outcomes = await page.locator('table.audit tbody tr td:nth-child(3)').allTextContents()
    expect(outcomes.length).toBeGreaterThanOrEqual(3)
    expect(new Set(outcomes)).toEqual(new Set(['Rejected']))

    await page.getByLabel('Outcome').selectOption('')
    await page.getByLabel('Action').fill('approve_me')
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.waitForURL(/action=approve_me/)
    const rows = page.locator('table.audit tbody tr')
    expect(await rows.locator('td:nth-child(4)').allTextContents()).toEqual(['approve_me', 'approve_me'])
    expect(await rows.locator('td:nth-child(3)').allTextContents()).toEqual(['Approved', 'Requested'])

    await page.getByLabel('Action').fill('')
    await page.getByLabel('Approver').fill(MEMBER.email)
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.waitForURL(/approver=/)
    expect(new Set(await rows.locator('td:nth-child(7)').allTextContents())).toEqual(new Set([MEMBER.email]))
    await expect(page.getByRole('link', { name: 'CSV' }).getAttribute('href')).resolves.toBe(`/audit/export.csv?approver=${encodeURIComponent(MEMBER.email)}`)

    await page.getByRole('link', { name: 'Clear' }).click()
    // The audit page is laid out wide (a desktop table); show it at a desktop width.
    await page.setViewportSize({ width: 1280, height: 900 })
    await page.screenshot({ path: join(shotDir, 'audit.png'), fullPage: true })
  })

  // Adding members (now by invitation link) is covered in accounts.browser.test.ts.

  it('creates an API key that is shown once and works on the API', async () => {
    const { page } = await signedIn(ADMIN)
    await page.goto(`${fx.url}/settings/keys`)
    await page.getByLabel(/Name/).fill('nightly')
    await page.getByLabel('Scope').selectOption('request')
    await page.getByRole('button', { name: 'Create key' }).click()
    const key = await page.getByLabel('New API key').inputValue()
    expect(key).toMatch(/^agk_/)
    await createViaApi(fx.url, key, { action: 'from_new_key' })
    await page.goto(`${fx.url}/settings/keys`)
    expect(await page.content()).not.toContain(key)
    await expect(page.locator('table.keys').textContent()).resolves.toContain('nightly')
  })
})
