/**
 * Settings → Notifications over HTTP: admins add a webhook (its secret answered once) or an
 * email channel, see failures on the channel's row and in its delivery log, redeliver, and
 * remove a channel after a confirmation page. Members, forged forms (no or a wrong CSRF token,
 * another site) and other projects' ids change nothing; bad input is refused, naming what is
 * wrong, with what was typed kept.
 */
import { describe, expect, it } from '@jest/globals'
import { hashPassword } from '../../src/server/auth/secrets.js'
import { startWebhookReceiver } from '../helpers/webhook-receiver.js'
import { waitUntil } from '../helpers/wait-until.js'
import { ADMIN, MEMBER, createViaApi, dashboardsClosedAfterEach, signedInClient, type DashboardFixture } from './fixture.js'

const dashboard = dashboardsClosedAfterEach()
const FAST = { allowPrivateWebhooks: true, worker: { retry: { baseDelayMs: 50, maxDelayMs: 100, giveUpAfterMs: 60_000 }, pollMs: 100 } }

function notices(text: string): string[] {
  return [...text.matchAll(/<div class="notice notice-\w+" role="(?:alert|status)">([^<]*)</g)].map((m) => m[1])
}

async function otherProjectChannel(fx: DashboardFixture) {
  const project = await fx.store.createProject('other')
  const owner = await fx.store.createUser({ email: 'olga@example.com', password_hash: await hashPassword('olga password 12') })
  await fx.store.setMembership(project.id, owner.id, 'admin')
  const { channel } = await fx.server.notifications.channels.addEmail(project, 'cli', ['olga@example.com'], { name: 'olga-mail' })
  return { project, channel }
}

describe('notification settings pages', () => {
  it('adds a webhook with its secret shown once, shows its failures on the row and in the log, redelivers and removes it', async () => {
    const fx = await dashboard({ notifications: FAST })
    const hook = await startWebhookReceiver()
    try {
      hook.answer = () => 500
      const admin = await signedInClient(fx, ADMIN)
      const csrf = await admin.csrf('/settings/notifications')
      const added = await admin.request('POST', '/settings/notifications', { form: { _csrf: csrf, kind: 'webhook', url: hook.url, name: 'ops hook', 'event:approval.created': 'on' } })
      expect(added.status).toBe(201)
      const secret = /id="new-secret" type="text" readonly value="(whsec_[^"]+)"/.exec(added.text)?.[1]
      expect(secret).toBeDefined()
      expect(added.headers.get('cache-control')).toMatch(/no-store/)
      const channel = (await fx.store.listChannels(fx.project.id))[0]
      expect(channel).toMatchObject({ name: 'ops hook', events: ['approval.created'], config: { url: hook.url } })
      // The secret is never on a page again.
      const list = await admin.request('GET', '/settings/notifications')
      expect(list.text).not.toContain(secret)

      const approval = await createViaApi(fx.url, fx.keys.request, { action: 'deploy' })
      await waitUntil(async () => (await fx.store.channelHealth(fx.project.id))[0].retrying === 1, { what: 'a failing delivery' })
      const failing = await admin.request('GET', '/settings/notifications')
      expect(failing.text).toMatch(new RegExp(`<tr data-channel="${channel.id}">[\\s\\S]*?badge-rejected">Failing</span>[\\s\\S]*?1 retrying[\\s\\S]*?Last error [\\s\\S]*?: HTTP 500`))
      const log = await admin.request('GET', `/settings/notifications/${channel.id}`)
      expect(log.status).toBe(200)
      expect(log.text).toContain(`<a href="/approvals/${approval.id}">`)
      expect(log.text).toMatch(/badge-pending">(pending|sending)<\/span>/) // waiting for its next try, or caught mid-attempt
      expect(log.text).toContain('HTTP 500')

      hook.answer = () => 200
      await waitUntil(async () => (await fx.store.listDeliveries(fx.project.id, channel.id))[0].status === 'delivered', { what: 'the delivery once the receiver recovers' })
      const delivered = (await fx.store.listDeliveries(fx.project.id, channel.id))[0]
      const received = hook.received.length
      // Through another channel's URL the delivery is not found, and nothing is sent or recorded.
      const sibling = await fx.store.createChannel({
        project_id: fx.project.id,
        kind: 'webhook',
        name: 'sibling hook',
        config: { url: 'https://hooks.example.com/sibling' },
        events: ['approval.decided'],
        remind_after_ms: null,
        escalate_after_ms: null,
        escalate_to: null,
        secret: 'whsec_sibling',
      })
      const crossChannel = await admin.request('POST', `/settings/notifications/${sibling.id}/deliveries/${delivered.id}/redeliver`, { form: { _csrf: csrf } })
      expect(crossChannel.headers.get('location')).toBe(`/settings/notifications/${sibling.id}?notice=no_such_delivery`)
      expect((await fx.store.listAudit(fx.project.id)).items.filter((e) => e.type === 'delivery_resent')).toEqual([])
      await fx.store.removeChannel(fx.project.id, sibling.id)
      const redeliver = await admin.request('POST', `/settings/notifications/${channel.id}/deliveries/${delivered.id}/redeliver`, { form: { _csrf: csrf } })
      expect(redeliver.status).toBe(303)
      expect(redeliver.headers.get('location')).toBe(`/settings/notifications/${channel.id}?notice=redelivery_queued`)
      await waitUntil(() => hook.received.length > received, { what: 'the redelivery' })
      expect(hook.received.at(-1)!.json.id).toBe(delivered.id)
      // The resend is an admin change: one event, by the admin who clicked, naming channel and delivery.
      const resent = (await fx.store.listAudit(fx.project.id)).items.filter((e) => e.type === 'delivery_resent')
      expect(resent.map((e) => [e.actor, e.action])).toEqual([[ADMIN.email, `channel:ops hook/${delivered.id}`]])
      expect(await fx.store.verifyAudit(fx.project.id)).toMatchObject({ ok: true })

      const confirm = await admin.request('GET', `/settings/notifications/${channel.id}/remove`)
      expect(confirm.text).toContain('Remove the webhook channel “ops hook”?')
      const removed = await admin.request('POST', `/settings/notifications/${channel.id}/remove`, { form: { _csrf: csrf } })
      expect(removed.headers.get('location')).toBe('/settings/notifications?notice=channel_removed')
      expect(await fx.store.listChannels(fx.project.id)).toEqual([])
      const audit = (await fx.store.listAudit(fx.project.id)).items.map((e) => [e.type, e.actor])
      expect(audit.slice(0, 3)).toEqual([
        ['channel_removed', ADMIN.email],
        ['delivery_resent', ADMIN.email],
        ['created', 'key:ci'],
      ])
      expect(audit).toContainEqual(['channel_added', ADMIN.email])
    } finally {
      await hook.close()
    }
  })

  it('adds an email channel, and refuses bad input naming it, keeping what was typed', async () => {
    const fx = await dashboard()
    const admin = await signedInClient(fx, ADMIN)
    const csrf = await admin.csrf('/settings/notifications')
    const email = await admin.request('POST', '/settings/notifications', { form: { _csrf: csrf, kind: 'email', to: 'ops@example.com', remind_after: '30m' } })
    expect(email.status).toBe(201)
    expect(notices(email.text)).toEqual(['Email channel “email” added.'])
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ kind: 'webhook', url: 'http://127.0.0.1:9/x' }, /must use https:\/\/ \(plain http is allowed only with serve --allow-private-webhooks\)/],
      [{ kind: 'webhook', url: 'https://127.0.0.1/x' }, /loopback, private or link-local/],
      [{ kind: 'webhook', url: 'https://169.254.169.254/latest/meta-data' }, /loopback, private or link-local/],
      [{ kind: 'email', to: 'not-an-address', name: 'bad' }, /&quot;not-an-address&quot; is not an email address/],
      [{ kind: 'email', name: 'x', remind_after: 'soon' }, /Remind every: /],
      [{ kind: 'email', name: 'email' }, /already has a channel named &quot;email&quot;/],
      [{ kind: 'email', name: 'y', escalate_after: '1h', escalate_to: 'chn_not_here' }, /has no channel &quot;chn_not_here&quot;/],
    ]
    for (const [form, message] of cases) {
      const refused = await admin.request('POST', '/settings/notifications', { form: { _csrf: csrf, ...form } })
      expect({ form, status: refused.status }).toEqual({ form, status: 400 })
      expect(notices(refused.text).join(' ')).toMatch(message)
      if (form.url) expect(refused.text).toContain(`value="${form.url}"`)
    }
    expect((await fx.store.listChannels(fx.project.id)).map((c) => c.name)).toEqual(['email'])
  })

  it('refuses members, forged forms and other projects’ channels and deliveries, changing nothing', async () => {
    const fx = await dashboard()
    const other = await otherProjectChannel(fx)
    const { channel } = await fx.server.notifications.channels.addEmail(fx.project, 'cli', ['ops@example.com'], { name: 'mine' })
    await createViaApi(fx.url, fx.keys.request, { action: 'deploy' })
    const delivery = await waitUntil(async () => (await fx.store.listDeliveries(fx.project.id, channel.id))[0], { what: 'a delivery row' })

    const member = await signedInClient(fx, MEMBER)
    const memberCsrf = await member.csrf('/')
    for (const path of ['/settings/notifications', `/settings/notifications/${channel.id}`, `/settings/notifications/${channel.id}/remove`]) {
      const page = await member.request('GET', path)
      expect({ path, status: page.status }).toEqual({ path, status: 403 })
      expect(page.text).not.toContain('ops@example.com')
    }
    const memberAdd = await member.request('POST', '/settings/notifications', { form: { _csrf: memberCsrf, kind: 'email', name: 'sneaky' } })
    expect(memberAdd.status).toBe(403)

    const admin = await signedInClient(fx, ADMIN)
    const csrf = await admin.csrf('/settings/notifications')
    const forged = [
      await admin.request('POST', '/settings/notifications', { form: { kind: 'email', name: 'no-token' } }),
      await admin.request('POST', '/settings/notifications', { form: { _csrf: 'wrong', kind: 'email', name: 'bad-token' } }),
      await admin.request('POST', '/settings/notifications', { form: { _csrf: csrf, kind: 'email', name: 'cross-site' }, headers: { 'sec-fetch-site': 'cross-site' } }),
      await admin.request('POST', `/settings/notifications/${channel.id}/remove`, { form: {} }),
      await admin.request('POST', `/settings/notifications/${channel.id}/deliveries/${delivery.id}/redeliver`, { form: { _csrf: 'wrong' } }),
    ]
    expect(forged.map((r) => r.status)).toEqual([403, 403, 403, 403, 403])

    // Another project's channel and delivery ids are not found from this project.
    const otherLog = await admin.request('GET', `/settings/notifications/${other.channel.id}`)
    expect(otherLog.headers.get('location')).toBe('/settings/notifications?notice=no_such_channel')
    const otherRemove = await admin.request('POST', `/settings/notifications/${other.channel.id}/remove`, { form: { _csrf: csrf } })
    expect(otherRemove.headers.get('location')).toBe('/settings/notifications?notice=no_such_channel')
    const otherDelivery = await fx.store.createApproval({ project_id: other.project.id, action: 'x', context: {}, agent: null, expires_at: new Date(Date.now() + 60_000).toISOString(), idempotency_key: null, requested_by: 'key:x' })
    const theirs = await waitUntil(async () => (await fx.store.listDeliveries(other.project.id, other.channel.id))[0], { what: 'the other project’s delivery' })
    const crossRedeliver = await admin.request('POST', `/settings/notifications/${channel.id}/deliveries/${theirs.id}/redeliver`, { form: { _csrf: csrf } })
    expect(crossRedeliver.headers.get('location')).toBe(`/settings/notifications/${channel.id}?notice=no_such_delivery`)
    // Neither the forged nor the cross-project resend recorded anything (the service test shows nothing is queued either).
    for (const project of [fx.project, other.project]) expect((await fx.store.listAudit(project.id)).items.filter((e) => e.type === 'delivery_resent')).toEqual([])
    await fx.store.cancelApproval(other.project.id, otherDelivery.approval.id, { reason: null, by: 'test' })

    expect((await fx.store.listChannels(fx.project.id)).map((c) => c.name)).toEqual(['mine'])
    expect((await fx.store.listChannels(other.project.id)).map((c) => c.name)).toEqual(['olga-mail'])
    // An oversized form is refused before it is read.
    const huge = await admin.request('POST', '/settings/notifications', { form: { _csrf: csrf, kind: 'webhook', url: `https://example.com/${'a'.repeat(200_000)}` } })
    expect(huge.status).toBe(413)
  })
})
