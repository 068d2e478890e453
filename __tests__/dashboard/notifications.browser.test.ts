/**
 * Settings → Notifications in real Chromium, as an admin would use it: add a webhook from the
 * form (the secret shown once), watch its failures appear on the channel's row and in its
 * delivery log, redeliver once the receiver recovers, and remove it after the confirmation
 * page — at a phone and a desktop width, with no sideways scrolling, and with JavaScript off
 * (every step is a plain form).
 */
import { afterEach, describe, expect, it } from '@jest/globals'
import { chromiumPagesClosedAfterEach, expectNoSidewaysScroll } from '../helpers/dashboard-page.js'
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js'
import { waitUntil } from '../helpers/wait-until.js'
import { ADMIN, createViaApi, dashboardsClosedAfterEach } from './fixture.js'

const pages = chromiumPagesClosedAfterEach()
const dashboard = dashboardsClosedAfterEach()
const receivers: WebhookReceiver[] = []

afterEach(async () => {
  for (const receiver of receivers.splice(0)) await receiver.close()
})

describe('Settings → Notifications in Chromium', () => {
  for (const [width, javaScriptEnabled] of [[390, true], [1280, false]] as const) {
    it(`adds a webhook, shows its failures, redelivers and removes it (${width} px, JavaScript ${javaScriptEnabled ? 'on' : 'off'})`, async () => {
      const fx = await dashboard({ notifications: { allowPrivateWebhooks: true, worker: { retry: { baseDelayMs: 50, maxDelayMs: 100, giveUpAfterMs: 60_000 }, pollMs: 100 } } })
      const hook = await startWebhookReceiver()
      receivers.push(hook)
      hook.answer = () => 503
      const page = await pages.signedIn(fx.url, ADMIN, { width, javaScriptEnabled })

      await page.goto(`${fx.url}/settings`)
      await page.getByRole('link', { name: 'Notifications' }).click()
      await page.waitForURL(`${fx.url}/settings/notifications`)
      expect(await page.getByText('No channels yet.').count()).toBe(1)
      await page.getByLabel('Webhook: a signed JSON POST to a URL').check()
      await page.getByLabel('Webhook URL').fill(hook.url)
      await page.getByLabel('Name (optional)').fill('ops hook')
      await page.getByLabel('created', { exact: true }).check()
      await page.getByRole('button', { name: 'Add channel' }).click()
      const secret = await page.getByRole('textbox', { name: 'Signing secret', exact: true }).inputValue()
      expect(secret).toMatch(/^whsec_/)
      hook.secret = secret
      await expectNoSidewaysScroll(page)

      const approval = await createViaApi(fx.url, fx.keys.request, { action: 'deploy production' })
      await waitUntil(() => hook.received.length >= 2, { what: 'two refused attempts' })
      expect(hook.received.every((r) => r.verified && r.json.approval.id === approval.id)).toBe(true)
      await page.goto(`${fx.url}/settings/notifications`)
      const row = page.locator('tr', { hasText: 'ops hook' })
      expect(await row.locator('.badge').innerText()).toBe('Failing')
      expect(await row.innerText()).toContain('HTTP 503')
      expect(await page.content()).not.toContain(secret)
      await expectNoSidewaysScroll(page)

      await row.getByRole('link', { name: 'Delivery log' }).click()
      const logRow = page.locator('tr[data-delivery]')
      // Waiting for its next try, or (caught mid-attempt) being sent again.
      expect(await logRow.innerText()).toMatch(/created[\s\S]*(pending|sending)[\s\S]*503[\s\S]*HTTP 503/)
      await expectNoSidewaysScroll(page)

      hook.answer = () => 200
      const channel = (await fx.store.listChannels(fx.project.id))[0]
      await waitUntil(async () => (await fx.store.listDeliveries(fx.project.id, channel.id))[0].status === 'delivered', { what: 'delivered once the receiver answers' })
      await page.reload()
      expect(await logRow.innerText()).toMatch(/delivered[\s\S]*200/)
      const count = hook.received.length
      await logRow.getByRole('button', { name: /Redeliver/ }).click()
      await page.waitForURL(/notice=redelivery_queued/)
      expect(await page.getByText('Queued to be sent again.').count()).toBe(1)
      await waitUntil(() => hook.received.length > count, { what: 'the redelivered webhook' })

      await page.goto(`${fx.url}/settings/notifications`)
      await page.getByRole('link', { name: 'Remove channel ops hook' }).click()
      await page.getByRole('button', { name: 'Remove ops hook' }).click()
      await page.waitForURL(`${fx.url}/settings/notifications?notice=channel_removed`)
      expect(await page.getByText('No channels yet.').count()).toBe(1)
      expect(await fx.store.listChannels(fx.project.id)).toEqual([])
    }, 90_000)
  }
})
