/**
 * The dashboard in real Chromium against a real server: sign in, live cards, hostile context,
 * deciding (in place and without JavaScript), races, cross-site forgery, audit filters,
 * members. Screenshots go to docs/screenshots/ when SCREENSHOTS=1, else to a temp dir.
 *
 * Every test works in a project of its own (`fx.newProject`: fresh admin, member and keys;
 * whatever it leaves pending is cancelled in `afterEach`), so none depends on another's data.
 * The browser is shared and relaunched if it dies (helpers/browser.ts; one test below kills it
 * on purpose). Decided cards leave the live page after `LINGER_MS` instead of the dashboard's
 * 6 s, and the outcome they showed is recorded as they appear, so no test waits on the linger.
 */
import { createServer, type Server } from 'node:http'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import type { BrowserContext, Locator, Page } from 'playwright-core'
import { ApprovalRejected, requireApproval } from '../../src/client/index.js'
import { sharedBrowser, type SharedBrowser } from '../helpers/browser.js'
import { waitUntil } from '../helpers/wait-until.js'
import { ADMIN, createViaApi, decideViaApi, FormClient, MEMBER, startDashboard, type DashboardFixture, type TestProject } from './fixture.js'

/** How long a decided card stays on the live page here (the dashboard's default is 6 s). */
const LINGER_MS = 300

let fx: DashboardFixture
let browser: SharedBrowser
let shotDir: string
/** This test's project, its open browser profiles, and the signal that ends its waiting gates. */
let t: TestProject
const contexts: BrowserContext[] = []
let gates: AbortController

beforeAll(async () => {
  fx = await startDashboard({ dashboard: { resolvedCardLingerMs: LINGER_MS } })
  browser = sharedBrowser()
  shotDir = process.env.SCREENSHOTS === '1' ? join(process.cwd(), 'docs/screenshots') : await mkdtemp(join(tmpdir(), 'approval-gate-shots-'))
})

beforeEach(async () => {
  t = await fx.newProject(expect.getState().currentTestName ?? 'test')
  gates = new AbortController()
})

// Closing profiles keeps memory low on small machines; cancelling leftovers keeps projects quiet.
afterEach(async () => {
  gates.abort()
  for (const context of contexts.splice(0)) await context.close().catch(() => {})
  await t.cleanup()
})

afterAll(async () => {
  await browser?.close()
  await fx?.close()
  if (shotDir && process.env.SCREENSHOTS !== '1') await rm(shotDir, { recursive: true, force: true })
})

/** A fresh profile (closed after the test); JavaScript pages record decided cards as they appear. */
async function newProfile(options: { javaScriptEnabled?: boolean; width?: number } = {}): Promise<{ context: BrowserContext; page: Page }> {
  const context = await browser.newContext({ javaScriptEnabled: options.javaScriptEnabled ?? true, viewport: { width: options.width ?? 1100, height: 900 } })
  contexts.push(context)
  await context.addInitScript(recordDecidedCards)
  return { context, page: await context.newPage() }
}

/** A fresh browser profile signed in as `who`, with every dialog and console message recorded. */
async function signedIn(who: { email: string; password: string }, options: { javaScriptEnabled?: boolean; width?: number } = {}) {
  const { context, page } = await newProfile(options)
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

/**
 * Runs in every page before its own script: remembers the text of each decided card put into
 * the page (by the live script, replacing a pending one: its outcome line and any notice), so a
 * test can read what the card said even after it left the live page.
 */
function recordDecidedCards(): void {
  const seen: Record<string, string> = {}
  Object.assign(window, { __decidedCards: seen })
  new MutationObserver((records) => {
    for (const record of records) {
      for (const node of record.addedNodes) {
        if (!(node instanceof HTMLElement) || !node.matches('article[data-approval-id]') || node.dataset.status === 'pending') continue
        seen[node.dataset.approvalId ?? ''] = node.textContent ?? ''
      }
    }
  }).observe(document, { childList: true, subtree: true })
}

/** The text a decided card showed on `page` (waits for it to appear). */
async function decidedCardText(page: Page, id: string): Promise<string> {
  const handle = await page.waitForFunction((approvalId) => (window as unknown as { __decidedCards?: Record<string, string> }).__decidedCards?.[approvalId], id)
  return (await handle.jsonValue()) as string
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

/** Decides like a person on the dashboard, without a browser (sign-in form, CSRF token, decision form). */
async function decideAsPerson(who: { email: string; password: string }, id: string, decision: 'approve' | 'reject', reason: string): Promise<void> {
  const client = new FormClient(fx.url)
  expect(await client.login(who.email, who.password)).toBe(303)
  const _csrf = await client.csrf()
  const answer = await client.request('POST', `/approvals/${id}/decision`, { form: { _csrf, decision, reason } })
  expect(answer.status).toBe(303)
}

describe('signing in', () => {
  it('refuses a wrong password and lets the right one in', async () => {
    const { page } = await newProfile()
    await page.goto(`${fx.url}/`)
    expect(page.url()).toBe(`${fx.url}/login`)
    await page.getByLabel('Email').fill(t.admin.email)
    await page.getByLabel('Password').fill('not the password')
    await page.getByRole('button', { name: 'Sign in' }).click()
    await expect(page.getByRole('alert').textContent()).resolves.toContain('That email and password do not match an account.')
    await page.getByLabel('Password').fill(t.admin.password)
    await page.getByRole('button', { name: 'Sign in' }).click()
    await page.waitForURL(`${fx.url}/`)
    await expect(page.getByRole('heading', { level: 1 }).textContent()).resolves.toBe('Approvals')
    // The empty state explains how to send a first request.
    await expect(page.locator('[data-empty]').textContent()).resolves.toContain('curl -X POST')
    expect(await page.title()).toBe('Approvals · approval-gate')
  })
})

describe('a browser that dies mid-suite', () => {
  let killedPid: number | undefined

  it('is killed here, while a page is open', async () => {
    const { page } = await signedIn(t.member)
    await waitForStream(page)
    const pid = browser.pid()
    expect(pid).toEqual(expect.any(Number))
    const disconnected = new Promise<void>((resolve) => page.context().browser()?.once('disconnected', () => resolve()))
    process.kill(pid!, 'SIGKILL')
    await disconnected
    killedPid = pid
    await expect(page.title()).rejects.toThrow(/closed/)
    // How it ended is logged (and kept) as soon as it is noticed.
    await waitUntil(() => browser.losses.some((line) => line.includes(`pid ${pid}`) && line.includes('SIGKILL')), { what: 'the loss of the killed browser to be logged' })
  })

  it('the next test gets a new browser and passes', async () => {
    const { page } = await signedIn(t.member)
    await waitForStream(page)
    const created = await createViaApi(fx.url, t.keys.request, { action: 'after_the_crash' })
    await card(page, created.id).waitFor()
    if (killedPid !== undefined) {
      expect(browser.pid()).not.toBe(killedPid)
      expect(browser.launches).toBeGreaterThanOrEqual(2)
    }
  })
})

describe('approvals, live', () => {
  it('shows a request created through the API at once, with its context table and workflow run', async () => {
    const { page } = await signedIn(t.member)
    await waitForStream(page)
    const created = await createViaApi(fx.url, t.keys.request, {
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
  })

  it('renders HTML and script payloads in context as text and runs none of them', async () => {
    const { page, dialogs, consoleMessages } = await signedIn(t.member)
    await waitForStream(page)
    const payloads = {
      img: '<img src=x onerror="window.__pwned=1;alert(1)">',
      script: '<script>window.__pwned=2;alert(2)</script>',
      attr: '"><svg onload="window.__pwned=3">',
      nested: { '<b onmouseover=alert(4)>key</b>': ['<iframe src="javascript:alert(5)">'] },
      github: { run_url: 'javascript:window.__pwned=4', repository: '<img src=x onerror=alert(6)>', actor: '<script>alert(7)</script>' },
    }
    const created = await createViaApi(fx.url, t.keys.request, { action: '<img src=x onerror=alert(8)>', agent: '<script>alert(9)</script>', context: payloads })
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
  })

  it('approving with a reason resumes a waiting requireApproval', async () => {
    const { page } = await signedIn(t.member)
    await waitForStream(page)
    const waiting = requireApproval('approve_me', { apiUrl: fx.url, apiKey: t.keys.request, timeoutMs: 30_000, context: { ticket: 'OPS-1' }, signal: gates.signal })
    const live = page.locator('article', { has: page.locator('.card-title', { hasText: 'approve_me' }) })
    await live.waitFor()
    await live.getByLabel(/Reason/).fill('Looks good, ship it')
    await live.getByRole('button', { name: 'Approve' }).click()
    const id = await waiting
    expect(await decidedCardText(page, id)).toContain(`Approved by ${t.member.email}`)
    await card(page, id).waitFor({ state: 'detached' }) // after the (shortened) linger
    const stored = await fx.store.getApproval(t.project.id, id)
    expect(stored).toMatchObject({ status: 'approved', reason: 'Looks good, ship it', decided_by: t.member.email })
  })

  it('rejecting with a reason makes requireApproval throw ApprovalRejected with that reason', async () => {
    const { page } = await signedIn(t.admin)
    await waitForStream(page)
    const outcome = requireApproval('reject_me', { apiUrl: fx.url, apiKey: t.keys.request, timeoutMs: 30_000, signal: gates.signal }).then(
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
    const { page } = await signedIn(t.member)
    await waitForStream(page)
    // The home page carries the injected linger for its script.
    await expect(page.locator('body').getAttribute('data-linger-ms')).resolves.toBe(String(LINGER_MS))
    const created = await createViaApi(fx.url, t.keys.request, { action: 'decided_elsewhere' })
    const live = card(page, created.id)
    await live.waitFor()
    const stable = await signedIn(t.admin)
    await stable.page.goto(created.url) // the action's `url` output
    await waitForStream(stable.page)
    expect(await decideViaApi(fx.url, t.keys.decide, created.id, 'approve', 'from the API')).toBe(200)
    expect(await decidedCardText(page, created.id)).toContain('Approved by key:deployer')
    await live.waitFor({ state: 'detached' })
    await page.waitForFunction(() => !document.title.startsWith('('))
    // The approval's own page keeps the card and shows the outcome.
    const own = card(stable.page, created.id)
    await waitForText(own.locator('.outcome'), 'Reason: from the API')
  })

  it('cards leave live when a request is cancelled or expires', async () => {
    const { page } = await signedIn(t.member)
    await waitForStream(page)
    const [cancelled, expiring] = await Promise.all([
      createViaApi(fx.url, t.keys.request, { action: 'withdrawn' }),
      createViaApi(fx.url, t.keys.request, { action: 'short_lived', timeout_ms: 2_000 }),
    ])
    await card(page, cancelled.id).waitFor()
    await card(page, expiring.id).waitFor()
    const response = await fetch(`${fx.url}/v1/approvals/${cancelled.id}/cancel`, {
      method: 'POST',
      headers: { authorization: `Bearer ${t.keys.request}`, 'content-type': 'application/json' },
      body: JSON.stringify({ reason: 'step cancelled' }),
    })
    expect(response.status).toBe(200)
    expect(await decidedCardText(page, cancelled.id)).toContain('Cancelled by key:ci')
    // Expiry is the server's timer (2 s after the create): give it Playwright's full default.
    expect(await decidedCardText(page, expiring.id)).toContain('Expired without a decision')
    await card(page, cancelled.id).waitFor({ state: 'detached' })
    await card(page, expiring.id).waitFor({ state: 'detached' })
    // This project has nothing else pending: the title drops its count and the empty state returns.
    await page.waitForFunction(() => document.title === 'Approvals · approval-gate' && !(document.querySelector('[data-empty]') as HTMLElement).hidden)
  })

  it('a decision that lost the race says who won — in place, and without JavaScript', async () => {
    const withJs = await signedIn(t.member)
    await withJs.context.route('**/events*', (route) => route.abort()) // no live update: the click races the API
    await withJs.page.reload()
    const noJs = await signedIn(t.admin, { javaScriptEnabled: false })
    const created = await createViaApi(fx.url, t.keys.request, { action: 'race' })
    await withJs.page.reload()
    await noJs.page.reload()
    expect(await decideViaApi(fx.url, t.keys.decide, created.id, 'reject', 'too slow')).toBe(200)

    await card(withJs.page, created.id).getByRole('button', { name: 'Approve' }).click()
    // The card is replaced in place by the decided one, with a notice saying who won.
    const replaced = await decidedCardText(withJs.page, created.id)
    expect(replaced).toContain('Too late: this request was already rejected by key:deployer.')
    expect(replaced).toContain('Rejected by key:deployer')

    await card(noJs.page, created.id).getByRole('button', { name: 'Approve' }).click()
    await noJs.page.waitForURL(`${fx.url}/approvals/${created.id}?notice=lost`)
    await expect(noJs.page.locator('.notice').textContent()).resolves.toBe('Too late: this request was already rejected by key:deployer.')
    expect((await fx.store.getApproval(t.project.id, created.id))?.status).toBe('rejected')
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
    const { page } = await signedIn(t.admin)
    const created = await createViaApi(fx.url, t.keys.request, { action: 'forgery_target' })
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
    expect((await fx.store.getApproval(t.project.id, created.id))?.status).toBe('pending')
  })
})

describe('screenshots, audit trail and members', () => {
  it('captures the approvals page and a card', async () => {
    // The fixture's own project "main" (alice and bob), used by no other test here, so the
    // screenshots in docs/ show the names the docs use.
    const created: string[] = []
    try {
      created.push(
        (
          await createViaApi(fx.url, fx.keys.request, {
            action: 'payment_authorization',
            agent: 'billing-agent',
            context: { amount_usd: 4500, payee: 'vendor-acme', invoice: { number: 'INV-2291', due: '2025-07-01', lines: 3 }, note: 'Quarterly license renewal, approved budget line 4.2.' },
          })
        ).id,
      )
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
      created.push(deploy.id)
      const { page } = await signedIn(ADMIN)
      await card(page, deploy.id).waitFor()
      await page.screenshot({ path: join(shotDir, 'approvals.png'), fullPage: true })
      await card(page, deploy.id).screenshot({ path: join(shotDir, 'card.png') })
      const phone = await signedIn(MEMBER, { width: 390 })
      await card(phone.page, deploy.id).screenshot({ path: join(shotDir, 'card-phone.png') })
    } finally {
      for (const id of created) await decideViaApi(fx.url, fx.keys.decide, id, 'reject', 'screenshot taken')
    }
  })

  it('filters the audit trail and shows the chain status', async () => {
    // This project's trail: approve_me approved by the member on the dashboard, three
    // rejections (one by the member), one request withdrawn by CI.
    const approveMe = await createViaApi(fx.url, t.keys.request, { action: 'approve_me', context: { ticket: 'OPS-1' } })
    await decideAsPerson(t.member, approveMe.id, 'approve', 'Looks good, ship it')
    const rejections = await Promise.all(['migrate_db', 'rotate_keys', 'drop_table'].map((action) => createViaApi(fx.url, t.keys.request, { action })))
    await decideAsPerson(t.member, rejections[0].id, 'reject', 'Not during the freeze')
    for (const rejected of rejections.slice(1)) expect(await decideViaApi(fx.url, t.keys.decide, rejected.id, 'reject', 'too risky')).toBe(200)
    const withdrawn = await createViaApi(fx.url, t.keys.request, { action: 'rollback' })
    const cancel = await fetch(`${fx.url}/v1/approvals/${withdrawn.id}/cancel`, { method: 'POST', headers: { authorization: `Bearer ${t.keys.request}`, 'content-type': 'application/json' }, body: '{}' })
    expect(cancel.status).toBe(200)

    const { page } = await signedIn(t.admin)
    await page.getByRole('link', { name: 'Audit trail' }).click()
    await expect(page.locator('.chain').textContent()).resolves.toContain('Hash chain intact')
    await page.getByLabel('Outcome').selectOption('rejected')
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.waitForURL(/outcome=rejected/)
    const outcomes = await page.locator('table.audit tbody tr td:nth-child(3)').allTextContents()
    expect(outcomes).toEqual(['Rejected', 'Rejected', 'Rejected'])

    await page.getByLabel('Outcome').selectOption('')
    await page.getByLabel('Action').fill('approve_me')
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.waitForURL(/action=approve_me/)
    const rows = page.locator('table.audit tbody tr')
    expect(await rows.locator('td:nth-child(4)').allTextContents()).toEqual(['approve_me', 'approve_me'])
    expect(await rows.locator('td:nth-child(3)').allTextContents()).toEqual(['Approved', 'Requested'])

    await page.getByLabel('Action').fill('')
    await page.getByLabel('Approver').fill(t.member.email)
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.waitForURL(/approver=/)
    expect(await rows.locator('td:nth-child(4)').allTextContents()).toEqual(['migrate_db', 'approve_me'])
    expect(new Set(await rows.locator('td:nth-child(7)').allTextContents())).toEqual(new Set([t.member.email]))
    await expect(page.getByRole('link', { name: 'CSV' }).getAttribute('href')).resolves.toBe(`/audit/export.csv?approver=${encodeURIComponent(t.member.email)}`)

    await page.getByRole('link', { name: 'Clear' }).click()
    // The audit page is laid out wide (a desktop table); show it at a desktop width.
    await page.setViewportSize({ width: 1280, height: 900 })
    await page.screenshot({ path: join(shotDir, 'audit.png'), fullPage: true })
  })

  // Adding members (now by invitation link) is covered in accounts.browser.test.ts.

  it('creates an API key that is shown once and works on the API', async () => {
    const { page } = await signedIn(t.admin)
    await page.goto(`${fx.url}/settings/keys`)
    await page.getByLabel(/Name/).fill('nightly')
    await page.getByLabel('Scope').selectOption('request')
    await page.getByRole('button', { name: 'Create key' }).click()
    const key = await page.getByLabel('New API key').inputValue()
    expect(key).toMatch(/^agk_/)
    const created = await createViaApi(fx.url, key, { action: 'from_new_key' })
    expect((await fx.store.getApproval(t.project.id, created.id))?.status).toBe('pending')
    await page.goto(`${fx.url}/settings/keys`)
    expect(await page.content()).not.toContain(key)
    await expect(page.locator('table.keys').textContent()).resolves.toContain('nightly')
  })
})
