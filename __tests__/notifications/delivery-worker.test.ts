/**
 * The delivery worker on a real SQLite store with a sender that records what it is given (the
 * HTTP senders have their own tests against real receivers): events of the audit chain reach
 * the channel, in order per approval, failures are retried with backoff and given up when the
 * receiver refuses for good, a hanging sender is abandoned after the attempt timeout, and
 * concurrency stays bounded.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DeliveryWorker } from '../../src/server/notifications/delivery-worker.js'
import { SenderRegistry } from '../../src/server/notifications/sender-registry.js'
import type { ChannelSender, DeliveryResult, NotificationEvent } from '../../src/server/notifications/types.js'
import { openSqliteStore } from '../../src/server/store/sqlite/index.js'
import type { NewChannel, Project, Store } from '../../src/server/store/types.js'
import { waitUntil } from '../helpers/wait-until.js'

const OK: DeliveryResult = { ok: true, status_code: 200, error: null, retryable: false, remote_ref: null }

/** A sender answering with `answer(event, attempt)` and recording every call. */
function recordingSender(answer: (event: NotificationEvent, call: number, signal: AbortSignal) => Promise<DeliveryResult> | DeliveryResult = () => OK) {
  const calls: Array<{ event: NotificationEvent; secret: string | null; remoteRef: string | null }> = []
  let active = 0
  let maxActive = 0
  const sender: ChannelSender = {
    kind: 'webhook',
    async deliver(_channel, secret, event, remoteRef, signal) {
      calls.push({ event, secret, remoteRef })
      active++
      maxActive = Math.max(maxActive, active)
      // An attempt ends when it answers or when the worker abandons it (a hanging answer never comes).
      let ended = false
      const end = () => {
        if (!ended) active--
        ended = true
      }
      signal.addEventListener('abort', end, { once: true })
      try {
        return await answer(event, calls.length, signal)
      } finally {
        end()
      }
    },
  }
  return { sender, calls, maxActive: () => maxActive }
}

function channelInput(project: Project, overrides: Partial<NewChannel> = {}): NewChannel {
  return { project_id: project.id, kind: 'webhook', name: 'hook', config: { url: 'https://example.com/' }, events: ['approval.created', 'approval.decided'], remind_after_ms: null, escalate_after_ms: null, escalate_to: null, secret: 'whsec_s', ...overrides }
}

describe('DeliveryWorker', () => {
  let dir: string
  let store: Store
  let project: Project
  let worker: DeliveryWorker | null = null

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ag-worker-'))
    store = await openSqliteStore(join(dir, 'db.sqlite'))
    project = await store.createProject('web')
  })
  afterEach(async () => {
    await worker?.stop()
    worker = null
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  function startWorker(sender: ChannelSender, options: Partial<ConstructorParameters<typeof DeliveryWorker>[1]> = {}): DeliveryWorker {
    worker = new DeliveryWorker(store, { senders: new SenderRegistry([sender]), publicUrl: 'https://gate.example.test/', pollMs: 50, retry: { baseDelayMs: 20, maxDelayMs: 100, giveUpAfterMs: 60_000 }, ...options })
    worker.start()
    return worker
  }

  /** Exactly `count` deliveries on the channel, all delivered. */
  async function allDelivered(channelId: string, count: number): Promise<boolean> {
    const deliveries = await store.listDeliveries(project.id, channelId)
    return deliveries.length === count && deliveries.every((d) => d.status === 'delivered')
  }

  async function newApproval(action = 'deploy') {
    return (await store.createApproval({ project_id: project.id, action, context: { sha: 'abc' }, agent: null, expires_at: new Date(Date.now() + 3_600_000).toISOString(), idempotency_key: null, requested_by: 'key:ci' })).approval
  }

  it('delivers each subscribed event once, with the secret, the approval record and its link, in order', async () => {
    const channel = await store.createChannel(channelInput(project))
    const { sender, calls } = recordingSender()
    startWorker(sender)
    const approval = await newApproval()
    await store.decideApproval(project.id, approval.id, { decision: 'approve', reason: 'ok', decided_by: 'ana@example.com' })
    await waitUntil(() => calls.length >= 2, { what: 'two deliveries' })
    expect(calls.map((c) => c.event.type)).toEqual(['approval.created', 'approval.decided'])
    expect(calls[0].secret).toBe('whsec_s')
    expect(calls[0].event).toMatchObject({ project: { id: project.id, name: 'web' }, approval: { id: approval.id, url: `https://gate.example.test/approvals/${approval.id}` } })
    expect(calls[0].event.delivery_id).toMatch(/^dlv_/)
    await waitUntil(async () => allDelivered(channel.id, 2), { what: 'both recorded as delivered' })
  })

  it('retries a failing receiver with backoff until it recovers, keeping later events of the approval behind it', async () => {
    const channel = await store.createChannel(channelInput(project))
    const { sender, calls } = recordingSender((_event, call) => (call <= 3 ? { ok: false, status_code: 500, error: 'HTTP 500', retryable: true, remote_ref: null } : OK))
    startWorker(sender)
    const approval = await newApproval()
    await store.decideApproval(project.id, approval.id, { decision: 'reject', reason: null, decided_by: 'ana@example.com' })
    await waitUntil(async () => allDelivered(channel.id, 2), { what: 'both delivered' })
    expect(calls.map((c) => c.event.type)).toEqual(['approval.created', 'approval.created', 'approval.created', 'approval.created', 'approval.decided'])
    const [decided, created] = await store.listDeliveries(project.id, channel.id)
    expect(created).toMatchObject({ attempts: 4, last_error: 'HTTP 500', response_code: 200 })
    expect(decided).toMatchObject({ attempts: 1 })
  })

  it('gives up a delivery the receiver refuses for good, and goes on with the next', async () => {
    const channel = await store.createChannel(channelInput(project))
    const { sender, calls } = recordingSender((event) => (event.type === 'approval.created' ? { ok: false, status_code: 410, error: 'HTTP 410', retryable: false, remote_ref: null } : OK))
    startWorker(sender)
    const approval = await newApproval()
    await store.cancelApproval(project.id, approval.id, { reason: null, by: 'key:ci' })
    await store.createChannel(channelInput(project, { name: 'second' }))
    const other = await newApproval('other')
    await store.decideApproval(project.id, other.id, { decision: 'approve', reason: null, decided_by: 'ana@example.com' })
    await waitUntil(async () => (await store.listDeliveries(project.id, channel.id)).filter((d) => d.status !== 'pending' && d.status !== 'sending').length === 3, { what: 'three deliveries settled' })
    const statuses = (await store.listDeliveries(project.id, channel.id)).map((d) => [d.event_type, d.status, d.attempts])
    expect(statuses).toEqual([
      ['approval.decided', 'delivered', 1],
      ['approval.created', 'failed', 1],
      ['approval.created', 'failed', 1],
    ])
    expect(calls.filter((c) => c.event.approval.id === approval.id)).toHaveLength(1)
  })

  it('abandons a hanging attempt after the timeout and retries it, with at most `concurrency` in flight', async () => {
    const channel = await store.createChannel(channelInput(project, { events: ['approval.created'] }))
    let hang = true
    const { sender, calls, maxActive } = recordingSender(
      (_event, _call, signal) => (hang ? new Promise<DeliveryResult>(() => void signal) : OK), // never answers while `hang`
    )
    startWorker(sender, { concurrency: 3, attemptTimeoutMs: 200 })
    for (let i = 0; i < 6; i++) await newApproval(`deploy ${i}`)
    await waitUntil(async () => (await store.listDeliveries(project.id, channel.id)).filter((d) => d.last_error?.startsWith('no answer within 200 ms')).length >= 3, { what: 'timed-out attempts recorded' })
    hang = false
    await waitUntil(async () => allDelivered(channel.id, 6), { what: 'all six delivered once the receiver answers' })
    expect(maxActive()).toBeLessThanOrEqual(3)
    expect(calls.length).toBeGreaterThan(6)
  })

  it('sends reminders while an approval waits and escalates it once to another channel', async () => {
    const oncall = await store.createChannel(channelInput(project, { name: 'oncall', events: ['approval.escalated'] }))
    const channel = await store.createChannel(channelInput(project, { events: ['approval.created', 'approval.reminder'], remind_after_ms: 150, escalate_after_ms: 400, escalate_to: oncall.id }))
    const { sender, calls } = recordingSender()
    startWorker(sender, { reminderCheckMs: 50 })
    const approval = await newApproval()
    await waitUntil(() => calls.filter((c) => c.event.type === 'approval.reminder').length >= 2 && calls.some((c) => c.event.type === 'approval.escalated'), { what: 'two reminders and the escalation' })
    await store.decideApproval(project.id, approval.id, { decision: 'approve', reason: null, decided_by: 'ana@example.com' })
    const types = calls.map((c) => c.event.type)
    expect(types[0]).toBe('approval.created')
    expect(types.filter((t) => t === 'approval.escalated')).toHaveLength(1)
    expect(calls.every((c) => c.event.approval.id === approval.id)).toBe(true)
    const escalations = await store.listDeliveries(project.id, oncall.id)
    expect(escalations.map((d) => d.event_type)).toEqual(['approval.escalated'])
    // Once decided, nothing more is due for it, however much later one looks.
    const queued = (await store.listDeliveries(project.id, channel.id)).length
    expect(await store.enqueueReminders(new Date(Date.now() + 3_600_000).toISOString())).toBe(0)
    expect((await store.listDeliveries(project.id, channel.id)).length).toBe(queued)
  })
})
