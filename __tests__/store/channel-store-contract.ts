/**
 * The channel and delivery (outbox) part of the store contract, registered inside
 * `describeStoreContract` so it runs against every backend.
 */
import { describe, expect, it } from '@jest/globals'
import type { NewChannel, Project, Store } from '../../src/server/store/types.js'
import { expectStoreError } from './store-errors.js'

const HOUR = 3_600_000

function webhook(project: Project, overrides: Partial<NewChannel> = {}): NewChannel {
  return {
    project_id: project.id,
    kind: 'webhook',
    name: 'ops-hook',
    config: { url: 'https://hooks.example.com/in' },
    events: ['approval.created', 'approval.decided'],
    remind_after_ms: null,
    escalate_after_ms: null,
    escalate_to: null,
    secret: 'whsec_top-secret-value',
    ...overrides,
  }
}

function iso(offsetMs = 0, from = Date.now()): string {
  return new Date(from + offsetMs).toISOString()
}

function approvalInput(project: Project, action = 'deploy production') {
  return { project_id: project.id, action, context: {}, agent: null, expires_at: iso(HOUR), idempotency_key: null, requested_by: 'key:ci' }
}

export function describeChannelStoreContract(store: () => Store): void {
  describe('notification channels and deliveries', () => {
    it('creates, lists and removes channels per project; the secret comes back only through getChannelSecret', async () => {
      const web = await store().createProject('web')
      const other = await store().createProject('other')
      const channel = await store().createChannel(webhook(web))
      expect(channel.id).toMatch(/^chn_[A-Za-z0-9_-]{20,}$/)
      expect(channel).toMatchObject({ project_id: web.id, kind: 'webhook', name: 'ops-hook', config: { url: 'https://hooks.example.com/in' }, events: ['approval.created', 'approval.decided'] })
      expect(JSON.stringify(await store().listChannels(web.id))).not.toContain('top-secret')
      expect(await store().listChannels(web.id)).toEqual([channel])
      expect(await store().getChannel(web.id, channel.id)).toEqual(channel)
      expect(await store().getChannelSecret(web.id, channel.id)).toBe('whsec_top-secret-value')
      // By id alone (the server's own use: Slack interactions name only the channel).
      expect(await store().getChannelById(channel.id)).toEqual(channel)
      expect(await store().getChannelById('chn_nope')).toBeNull()
      // Another project sees nothing of it.
      expect(await store().getChannel(other.id, channel.id)).toBeNull()
      expect(await store().getChannelSecret(other.id, channel.id)).toBeNull()
      expect(await store().listChannels(other.id)).toEqual([])
      expect(await store().removeChannel(other.id, channel.id)).toBe(false)
      await expectStoreError(store().createChannel(webhook(web)), 'conflict')
      expect(await store().removeChannel(web.id, channel.id)).toBe(true)
      expect(await store().listChannels(web.id)).toEqual([])
      expect(await store().getChannelById(channel.id)).toBeNull()
      expect(await store().removeChannel(web.id, channel.id)).toBe(false)
    })

    it('refuses bad channel input and an escalation target from another project', async () => {
      const web = await store().createProject('web')
      const other = await store().createProject('other')
      const foreign = await store().createChannel(webhook(other))
      await expectStoreError(store().createChannel(webhook(web, { events: [] })), 'invalid')
      await expectStoreError(store().createChannel(webhook(web, { events: ['approval.nope' as never] })), 'invalid')
      await expectStoreError(store().createChannel(webhook(web, { kind: 'pager' as never })), 'invalid')
      await expectStoreError(store().createChannel(webhook(web, { remind_after_ms: -5 })), 'invalid')
      await expectStoreError(store().createChannel(webhook(web, { escalate_after_ms: HOUR, escalate_to: null })), 'invalid')
      await expectStoreError(store().createChannel(webhook(web, { escalate_after_ms: HOUR, escalate_to: foreign.id })), 'not_found')
      expect(await store().listChannels(web.id)).toEqual([])
    })

    it('turns audit events after the channel was added into deliveries once each, and only those it subscribes to', async () => {
      const web = await store().createProject('web')
      const before = await store().createApproval(approvalInput(web, 'before the channel'))
      const channel = await store().createChannel(webhook(web))
      const quiet = await store().createChannel(webhook(web, { name: 'cancels-only', events: ['approval.cancelled'] }))
      const { approval } = await store().createApproval(approvalInput(web))
      await store().recordAdminEvent({ project_id: web.id, type: 'settings_changed', subject: 'settings', actor: 'cli', detail: null, at: iso() })
      await store().decideApproval(web.id, approval.id, { decision: 'approve', reason: null, decided_by: 'ana@example.com' })
      const now = iso()
      expect(await store().materializeDeliveries(now)).toBe(2)
      expect(await store().materializeDeliveries(now)).toBe(0)
      const deliveries = await store().listDeliveries(web.id, channel.id)
      expect(deliveries.map((d) => [d.event_type, d.approval_id, d.status, d.attempts])).toEqual([
        ['approval.decided', approval.id, 'pending', 0],
        ['approval.created', approval.id, 'pending', 0],
      ])
      expect(deliveries.every((d) => d.approval_id !== before.approval.id)).toBe(true)
      expect(await store().listDeliveries(web.id, quiet.id)).toEqual([])
      // Another project cannot read this channel's log.
      const other = await store().createProject('other')
      expect(await store().listDeliveries(other.id, channel.id)).toEqual([])
    })

    it('claims in order per (channel, approval), records outcomes and hands the previous remote ref on', async () => {
      const web = await store().createProject('web')
      const channel = await store().createChannel(webhook(web))
      const { approval } = await store().createApproval(approvalInput(web))
      await store().decideApproval(web.id, approval.id, { decision: 'reject', reason: 'no', decided_by: 'ana@example.com' })
      const t0 = Date.now()
      await store().materializeDeliveries(iso(0, t0))
      // Only the first event of the approval is claimable while it is unfinished.
      const first = await store().claimDeliveries(iso(0, t0), 10, iso(30_000, t0))
      expect(first.map((d) => [d.event_type, d.status, d.attempts, d.previous_remote_ref])).toEqual([['approval.created', 'sending', 1, null]])
      expect(await store().claimDeliveries(iso(0, t0), 10, iso(30_000, t0))).toEqual([])
      // A failed attempt waits for its retry time, still blocking the later event.
      expect(await store().finishDelivery(first[0].id, { status: 'pending', at: iso(0, t0), response_code: 500, error: 'HTTP 500', next_attempt_at: iso(5_000, t0) })).toBe(true)
      expect(await store().nextDeliveryDue()).toBe(iso(5_000, t0))
      expect(await store().claimDeliveries(iso(1_000, t0), 10, iso(31_000, t0))).toEqual([])
      const retry = await store().claimDeliveries(iso(5_000, t0), 10, iso(35_000, t0))
      expect(retry.map((d) => [d.id, d.attempts])).toEqual([[first[0].id, 2]])
      expect(await store().finishDelivery(retry[0].id, { status: 'delivered', at: iso(6_000, t0), response_code: 200, remote_ref: 'msg-1' })).toBe(true)
      // Finishing twice (a lost claim) changes nothing.
      expect(await store().finishDelivery(retry[0].id, { status: 'failed', at: iso(6_000, t0), response_code: null, error: 'late' })).toBe(false)
      const second = await store().claimDeliveries(iso(6_000, t0), 10, iso(36_000, t0))
      expect(second.map((d) => [d.event_type, d.previous_remote_ref])).toEqual([['approval.decided', 'msg-1']])
      expect(await store().finishDelivery(second[0].id, { status: 'failed', at: iso(7_000, t0), response_code: 410, error: 'HTTP 410' })).toBe(true)
      expect(await store().nextDeliveryDue()).toBeNull()
      const log = await store().listDeliveries(web.id, channel.id)
      expect(log.map((d) => [d.event_type, d.status, d.attempts, d.response_code, d.last_error, d.remote_ref])).toEqual([
        ['approval.decided', 'failed', 1, 410, 'HTTP 410', null],
        ['approval.created', 'delivered', 2, 200, 'HTTP 500', 'msg-1'],
      ])
      expect(await store().channelHealth(web.id)).toEqual([{ channel_id: channel.id, retrying: 0, failed: 1, delivered: 1, last_error: 'HTTP 410', last_error_at: iso(7_000, t0) }])
      // Redeliver puts it back in the queue, in this project only.
      const other = await store().createProject('other')
      expect(await store().redeliver(other.id, second[0].id, iso(8_000, t0))).toBeNull()
      // And, given a channel, of that channel only (a form's URL names one).
      const sibling = await store().createChannel(webhook(web, { name: 'sibling hook' }))
      expect(await store().redeliver(web.id, second[0].id, iso(8_000, t0), sibling.id)).toBeNull()
      expect((await store().listDeliveries(web.id, channel.id))[0]).toMatchObject({ id: second[0].id, status: 'failed' })
      expect(await store().redeliver(web.id, second[0].id, iso(8_000, t0))).toMatchObject({ status: 'pending', next_attempt_at: iso(8_000, t0) })
      expect((await store().claimDeliveries(iso(8_000, t0), 10, iso(38_000, t0))).map((d) => d.id)).toEqual([second[0].id])
    })

    it('gives a lapsed claim (a crashed worker) to the next claimer', async () => {
      const web = await store().createProject('web')
      await store().createChannel(webhook(web))
      await store().createApproval(approvalInput(web))
      const t0 = Date.now()
      await store().materializeDeliveries(iso(0, t0))
      const [claimed] = await store().claimDeliveries(iso(0, t0), 10, iso(30_000, t0))
      expect(await store().claimDeliveries(iso(29_999, t0), 10, iso(60_000, t0))).toEqual([])
      const again = await store().claimDeliveries(iso(30_000, t0), 10, iso(60_000, t0))
      expect(again.map((d) => [d.id, d.attempts])).toEqual([[claimed.id, 2]])
    })

    it('enqueues reminders every remind_after while pending, and one escalation to another channel', async () => {
      const web = await store().createProject('web')
      const oncall = await store().createChannel(webhook(web, { name: 'oncall', events: ['approval.escalated'] }))
      const channel = await store().createChannel(webhook(web, { remind_after_ms: 10 * 60_000, escalate_after_ms: HOUR, escalate_to: oncall.id }))
      const { approval } = await store().createApproval(approvalInput(web))
      const created = Date.parse(approval.created_at)
      expect(await store().enqueueReminders(iso(9 * 60_000, created))).toBe(0)
      expect(await store().enqueueReminders(iso(10 * 60_000, created))).toBe(1)
      expect(await store().enqueueReminders(iso(15 * 60_000, created))).toBe(0)
      expect(await store().enqueueReminders(iso(20 * 60_000, created))).toBe(1)
      expect(await store().enqueueReminders(iso(HOUR, created))).toBe(2) // a reminder and the escalation
      expect(await store().enqueueReminders(iso(HOUR + 60_000, created))).toBe(0)
      expect((await store().listDeliveries(web.id, channel.id)).map((d) => d.event_type)).toEqual(['approval.reminder', 'approval.reminder', 'approval.reminder'])
      expect((await store().listDeliveries(web.id, oncall.id)).map((d) => [d.event_type, d.approval_id])).toEqual([['approval.escalated', approval.id]])
      // Settled approvals are not reminded.
      await store().cancelApproval(web.id, approval.id, { reason: null, by: 'key:ci' })
      expect(await store().enqueueReminders(iso(3 * HOUR, created))).toBe(0)
      // Removing the escalation target stops escalation but keeps the channel.
      expect(await store().removeChannel(web.id, oncall.id)).toBe(true)
      expect(await store().getChannel(web.id, channel.id)).toMatchObject({ escalate_to: null })
    })
  })
}
