/**
 * The dashboard's layout in real Chromium at a phone (390 px) and two desktop widths (1280,
 * 1920 px), with long agent names, long reasons and hostile context: no page scrolls sideways,
 * the audit trail's reasons are fully visible and wrap, rows become cards on a phone, the filter
 * form folds away there, names wrap between their parts, context URLs are links, nested arrays
 * are lists, the empty state's commands stay inside their boxes, and a card decided elsewhere
 * shows its outcome without a reload. Screenshots go to docs/screenshots/ when SCREENSHOTS=1.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import type { BrowserContext, Locator, Page } from 'playwright-core'
import { sharedBrowser, type SharedBrowser } from '../helpers/browser.js'
import { cardOf, expectNoSidewaysScroll, signIn, waitForStream } from '../helpers/dashboard-page.js'
import { ADMIN, createViaApi, decideViaApi, MEMBER, startDashboard, type DashboardFixture } from './fixture.js'

const WIDTHS = [390, 1280, 1920] as const

/** Names as automation writes them: separators but no spaces. */
const LONG_AGENT = 'deploy-orchestrator.payments-platform/eu-west-1_canary_rollout_controller@build-farm-7'
/** The worst case: 180 characters and not one place to break. */
const UNBROKEN_AGENT = 'ReleaseCoordinatorAgentForThePaymentsPlatform'.repeat(4)
const LONG_REASON =
  'No decision within the change window: the payments freeze runs until the end of the quarter, and the rollback plan for the ledger migration has not been reviewed by the database owners yet. Ask again once DBA-4411 is closed and the on-call engineer has signed off.'
const UNBROKEN_REASON = `see-${'x'.repeat(300)}`
const PR_URL = 'https://github.com/acme/auth-api/pull/7'

let fx: DashboardFixture
/** Shared by the file's tests and relaunched if it dies (helpers/browser.ts). */
let browser: SharedBrowser
let shotDir: string
const contexts: BrowserContext[] = []
/** Ids of the decided approvals seeded for the audit trail. */
const seeded: string[] = []

beforeAll(async () => {
  browser = sharedBrowser()
  fx = await startDashboard()
  shotDir = process.env.SCREENSHOTS === '1' ? join(process.cwd(), 'docs/screenshots') : await mkdtemp(join(tmpdir(), 'approval-gate-layout-'))
  // An audit trail with long names and reasons; nothing is left pending (the empty state is tested first).
  const requests: Array<{ agent?: string; action: string; reason: string; decision: 'approve' | 'reject' }> = [
    { action: 'production_deploy', agent: LONG_AGENT, reason: LONG_REASON, decision: 'reject' },
    { action: 'rotate_signing_keys.auth-api/production', agent: UNBROKEN_AGENT, reason: UNBROKEN_REASON, decision: 'reject' },
    { action: 'payment_authorization', agent: 'billing-agent', reason: 'Within budget.\nInvoice checked against the PO.', decision: 'approve' },
    { action: 'db_migration', reason: 'ok', decision: 'approve' },
  ]
  for (const request of requests) {
    const created = await createViaApi(fx.url, fx.keys.request, { action: request.action, agent: request.agent, context: { ticket: 'OPS-1' } })
    expect(await decideViaApi(fx.url, fx.keys.decide, created.id, request.decision, request.reason)).toBe(200)
    seeded.push(created.id)
  }
}, 60_000)

afterEach(async () => {
  for (const context of contexts.splice(0)) await context.close().catch(() => {})
})

afterAll(async () => {
  for (const context of contexts) await context.close().catch(() => {})
  await browser?.close()
  await fx?.close()
  if (shotDir && process.env.SCREENSHOTS !== '1') await rm(shotDir, { recursive: true, force: true })
})

async function signedInAt(width: number, who: { email: string; password: string } = ADMIN): Promise<Page> {
  const { context, page } = await signIn(await browser.browser(), fx.url, who)
  contexts.push(context)
  await page.setViewportSize({ width, height: 900 })
  return page
}

/** Where `element`'s text breaks onto a new line: the character before each break. */
async function charactersBeforeLineBreaks(element: Locator): Promise<string[]> {
  return element.evaluate((root) => {
    const breaks: string[] = []
    let previous: { top: number; char: string } | null = null
    const walker = document.createTreeWalker(root, NodeFilter.SHOW_TEXT)
    for (let node = walker.nextNode(); node; node = walker.nextNode()) {
      const text = node.textContent ?? ''
      for (let i = 0; i < text.length; i++) {
        const range = document.createRange()
        range.setStart(node, i)
        range.setEnd(node, i + 1)
        const rect = range.getClientRects()[0]
        if (!rect) continue
        if (previous && rect.top > previous.top + rect.height / 2) breaks.push(previous.char)
        previous = { top: rect.top, char: text[i] }
      }
    }
    return breaks
  })
}

describe('the empty state', () => {
  it('keeps its commands inside their boxes on a phone and on desktops', async () => {
    for (const width of WIDTHS) {
      const page = await signedInAt(width, MEMBER)
      const empty = page.locator('[data-empty]')
      await empty.waitFor()
      await expectNoSidewaysScroll(page)
      const boxes = await empty.locator('pre.code').evaluateAll((pres) =>
        pres.map((pre) => ({ scroll: pre.scrollWidth, client: pre.clientWidth, right: pre.getBoundingClientRect().right })),
      )
      expect(boxes).toHaveLength(2)
      for (const box of boxes) {
        expect(box.scroll).toBeLessThanOrEqual(box.client) // wrapped: nothing hidden behind a scrollbar
        expect(box.right).toBeLessThanOrEqual(width)
      }
      // Soft wraps only: the command still copies as written.
      await expect(empty.locator('pre.code').first().textContent()).resolves.toContain('curl -X POST')
      if (width === 390) await empty.screenshot({ path: join(shotDir, 'empty-phone.png') })
    }
  })
})

describe('the audit trail', () => {
  it.each(WIDTHS)('at %i px: no sideways scrolling, every reason fully visible and wrapped', async (width) => {
    const page = await signedInAt(width)
    await page.goto(`${fx.url}/audit`)
    await expectNoSidewaysScroll(page)
    const wrap = await page.locator('.table-wrap').evaluate((el) => ({ scroll: el.scrollWidth, client: el.clientWidth, right: el.getBoundingClientRect().right }))
    expect(wrap.scroll).toBeLessThanOrEqual(wrap.client)
    const reasons = await page.locator('table.audit td.reason').evaluateAll((cells) =>
      cells
        .filter((cell) => (cell.textContent ?? '') !== '')
        .map((cell) => {
          const rect = cell.getBoundingClientRect()
          return { text: cell.textContent ?? '', scroll: cell.scrollWidth, client: cell.clientWidth, left: rect.left, right: rect.right, height: rect.height, lineHeight: parseFloat(getComputedStyle(cell).lineHeight) }
        }),
    )
    expect(reasons.map((r) => r.text).sort()).toEqual([LONG_REASON, UNBROKEN_REASON, 'Within budget.\nInvoice checked against the PO.', 'ok'].sort())
    for (const reason of reasons) {
      expect(reason.scroll).toBeLessThanOrEqual(reason.client)
      expect(reason.left).toBeGreaterThanOrEqual(0)
      expect(reason.right).toBeLessThanOrEqual(Math.min(width, wrap.right) + 0.5)
    }
    // The long reasons wrap onto several lines instead of being cut.
    for (const text of [LONG_REASON, UNBROKEN_REASON]) {
      const reason = reasons.find((r) => r.text === text)!
      expect(reason.height).toBeGreaterThan(2 * reason.lineHeight)
    }
    // Names wrap inside their cells too.
    const names = await page.locator('table.audit td.name').evaluateAll((cells) => cells.map((cell) => ({ scroll: cell.scrollWidth, client: cell.clientWidth })))
    for (const name of names) expect(name.scroll).toBeLessThanOrEqual(name.client)
    // A long agent name breaks between its parts, not mid-word.
    const agentCell = page.locator('table.audit td.name', { hasText: LONG_AGENT }).first()
    for (const char of await charactersBeforeLineBreaks(agentCell)) expect('-_./:@').toContain(char)
    if (width === 1280) await page.screenshot({ path: join(shotDir, 'audit-long-names.png'), fullPage: true })
    if (width === 390) await page.screenshot({ path: join(shotDir, 'audit-phone.png'), fullPage: true, clip: { x: 0, y: 0, width, height: 1300 } })
  })

  it('shortens approval ids, with the full id on hover and when copied', async () => {
    const page = await signedInAt(1280)
    await page.goto(`${fx.url}/audit`)
    const id = seeded[0]
    const link = page.locator(`table.audit td.id a[href="/approvals/${id}"]`).first()
    await expect(link.getAttribute('title')).resolves.toBe(id)
    const code = link.locator('code')
    const shown = await code.evaluate((el) => ({ visible: el.clientWidth, full: el.scrollWidth, overflow: getComputedStyle(el).textOverflow }))
    expect(shown.visible).toBeLessThan(shown.full) // shortened on screen…
    expect(shown.overflow).toBe('ellipsis')
    const copied = await code.evaluate((el) => {
      const selection = window.getSelection()!
      selection.selectAllChildren(el)
      return selection.toString()
    })
    expect(copied).toBe(id) // …but copied whole
  })

  it('lays rows out as cards and folds the filter form on a phone', async () => {
    const page = await signedInAt(390)
    await page.goto(`${fx.url}/audit`)
    expect(await page.locator('table.audit thead').isVisible()).toBe(false)
    const row = page.locator('table.audit tbody tr').first()
    await expect(row.evaluate((el) => getComputedStyle(el).display)).resolves.toBe('flex')
    // Each field is labelled with its column name.
    await expect(row.locator('td.name').first().evaluate((el) => getComputedStyle(el, '::before').content)).resolves.toBe('"Action"')
    // The whole id is shown in a card.
    const code = row.locator('td.id code')
    await expect(code.evaluate((el) => el.scrollWidth <= el.clientWidth + 0.5)).resolves.toBe(true)

    const outcome = page.getByLabel('Outcome')
    expect(await outcome.isVisible()).toBe(false)
    await page.locator('.filter-box > summary').click()
    await outcome.selectOption('rejected')
    await page.getByRole('button', { name: 'Filter' }).click()
    await page.waitForURL(/outcome=rejected/)
    // With a filter set, the form is open, and says how many are active.
    expect(await page.getByLabel('Outcome').isVisible()).toBe(true)
    await expect(page.locator('.filter-box > summary').textContent()).resolves.toBe('Filters (1 active)')
    expect(new Set(await page.locator('table.audit td.event').allTextContents())).toEqual(new Set(['Rejected']))
    await expectNoSidewaysScroll(page)
  })

  it('shows the filter form without a toggle on desktops', async () => {
    for (const width of [1280, 1920]) {
      const page = await signedInAt(width)
      await page.goto(`${fx.url}/audit`)
      expect(await page.getByLabel('Outcome').isVisible()).toBe(true)
      expect(await page.locator('.filter-box > summary').isVisible()).toBe(false)
      await page.getByLabel('Action').fill('db_migration')
      await page.getByRole('button', { name: 'Filter' }).click()
      await page.waitForURL(/action=db_migration/)
      expect(await page.locator('table.audit td.name:nth-child(4)').allTextContents()).toEqual(['db_migration', 'db_migration'])
    }
  })
})

describe('cards', () => {
  let linked: { id: string }
  let longNames: { id: string }

  beforeAll(async () => {
    linked = await createViaApi(fx.url, fx.keys.request, {
      action: 'merge_release_branch',
      agent: 'release-bot',
      context: {
        pr: PR_URL,
        docs: 'http://docs.example.com/runbooks/release?step=3#merge',
        script: 'javascript:alert(document.cookie)',
        data: 'data:text/html,<script>alert(1)</script>',
        quoted: 'https://example.com/"><script>alert(2)</script>',
        sneaky: 'https://github.com@evil.example/login',
        matrix: [[1, 2], [3, [4, 5]]],
        regions: ['eu-west-1', 'us-east-1'],
        huge: 'y'.repeat(20_000),
      },
    })
    longNames = await createViaApi(fx.url, fx.keys.request, { action: 'rotate_signing_keys.auth-api/production', agent: LONG_AGENT, context: { unbroken_agent: UNBROKEN_AGENT } })
  })

  it.each(WIDTHS)('at %i px: no sideways scrolling; long names wrap between their parts', async (width) => {
    const page = await signedInAt(width)
    await cardOf(page, longNames.id).waitFor()
    await expectNoSidewaysScroll(page)
    const agent = cardOf(page, longNames.id).locator('.facts dd', { hasText: LONG_AGENT })
    await expect(agent.evaluate((el) => el.scrollWidth <= el.clientWidth)).resolves.toBe(true)
    for (const char of await charactersBeforeLineBreaks(agent)) expect('-_./:@').toContain(char)
    for (const char of await charactersBeforeLineBreaks(cardOf(page, longNames.id).locator('.card-title'))) expect('-_./:@').toContain(char)
    if (width >= 1280) {
      // A long name gets a whole row of the facts grid: one line on a desktop.
      const box = await agent.evaluate((el) => ({ height: el.getBoundingClientRect().height, line: parseFloat(getComputedStyle(el).lineHeight) }))
      expect(box.height).toBeLessThan(1.5 * box.line)
    }
    await page.goto(`${fx.url}/approvals/${linked.id}`)
    await expectNoSidewaysScroll(page)
    if (width === 390) await cardOf(page, linked.id).screenshot({ path: join(shotDir, 'card-links-phone.png') })
  })

  it('links http(s) URLs in context, on cards and the approval page, and nothing else', async () => {
    const page = await signedInAt(1280)
    for (const where of ['home', 'approval page'] as const) {
      if (where === 'approval page') await page.goto(`${fx.url}/approvals/${linked.id}`)
      const card = cardOf(page, linked.id)
      await card.waitFor()
      const pr = card.getByRole('link', { name: PR_URL })
      await expect(pr.getAttribute('href')).resolves.toBe(PR_URL)
      await expect(pr.getAttribute('rel')).resolves.toBe('noopener noreferrer')
      const docs = card.locator('a.v-link').nth(1)
      await expect(docs.textContent()).resolves.toBe('http://docs.example.com/runbooks/release?step=3#merge')
      // Only the http(s) URLs: other schemes and URLs with credentials stay text; markup is encoded.
      expect(await card.locator('a.v-link').count()).toBe(3)
      const quoted = card.locator('a.v-link').nth(2)
      await expect(quoted.getAttribute('href')).resolves.toBe('https://example.com/%22%3E%3Cscript%3Ealert(2)%3C/script%3E')
      expect(await card.locator('a[href^="javascript"], a[href^="data"], script').count()).toBe(0)
      await expect(card.textContent()).resolves.toContain('javascript:alert(document.cookie)')
      await expect(card.textContent()).resolves.toContain('https://github.com@evil.example/login')
      // Nested arrays are bulleted lists, not "0. 1 1. 2".
      const matrix = card.locator('table.kv > tbody > tr', { has: page.locator('th:text-is("matrix")') }).locator('td').first()
      expect(await matrix.locator('ol').count()).toBe(0)
      await expect(matrix.locator(':scope > ul.v-list > li').count()).resolves.toBe(2)
      await expect(matrix.locator(':scope > ul.v-list > li').first().locator('li').allTextContents()).resolves.toEqual(['1', '2'])
      // Scalars get bullets; a nested list is a group of its own, without a bullet beside it.
      const regions = card.locator('table.kv > tbody > tr', { has: page.locator('th:text-is("regions")') }).locator('td').first()
      await expect(regions.locator('li').allTextContents()).resolves.toEqual(['eu-west-1', 'us-east-1'])
      await expect(regions.locator('li').first().evaluate((el) => getComputedStyle(el).listStyleType)).resolves.toBe('disc')
      await expect(matrix.locator(':scope > ul.v-list > li').first().evaluate((el) => getComputedStyle(el).listStyleType)).resolves.toBe('none')
      if (where === 'approval page') await card.screenshot({ path: join(shotDir, 'card-links.png') })
    }
  })

  it('a card decided elsewhere shows its outcome without a reload, then leaves the pending page', async () => {
    const page = await signedInAt(1280, MEMBER)
    await waitForStream(page)
    const created = await createViaApi(fx.url, fx.keys.request, { action: 'decided_live', agent: LONG_AGENT })
    const live = cardOf(page, created.id)
    await live.waitFor()
    expect(await decideViaApi(fx.url, fx.keys.decide, created.id, 'reject', LONG_REASON)).toBe(200)
    await live.locator('.outcome', { hasText: 'Rejected by key:deployer' }).waitFor()
    await expect(live.getAttribute('data-status')).resolves.toBe('rejected')
    await expectNoSidewaysScroll(page)
    await live.waitFor({ state: 'detached', timeout: 60_000 })
  })
})
