/**
 * Webhooks end to end on a real server (in this process) and real loopback receivers:
 * signed deliveries of each approval event, a receiver failing then recovering, a receiver
 * that hangs while gates are decided and long-polls wake, and the connect-time refusal of a
 * private address when the server does not allow them.
 */
import { afterEach, describe, expect, it } from '@jest/globals'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { startServer, type NotificationOptions, type RunningServer } from '../../src/server/server.js'
import type { Project } from '../../src/server/store/types.js'
import { startWebhookReceiver, verifyWebhook, type WebhookReceiver } from '../helpers/webhook-receiver.js'
import { waitUntil } from '../helpers/wait-until.js'
import { call, createKey } from '../server/helpers.js'

const FAST_RETRY = { baseDelayMs: 50, maxDelayMs: 200, giveUpAfterMs: 60_000 }

interface Setup {
  server: RunningServer
  project: Project
  requestKey: string
  decideKey: string
  logs: string[]
}

describe('webhooks on a real server', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  async function setup(notifications: NotificationOptions = { allowPrivateWebhooks: true }): Promise<Setup> {
    const dataDir = await mkdtemp(join(tmpdir(), 'ag-webhooks-'))
    const logs: string[] = []
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        logs.push(chunk.toString('utf8'))
        done()
      },
    })
    const server = await startServer({
      dataDir,
      port: 0,
      publicUrl: 'https://gate.example.test',
      logger: { level: 'info', stream },
      notifications: { worker: { retry: FAST_RETRY, pollMs: 100 }, ...notifications },
    })
    cleanups.push(async () => {
      await server.close()
      await rm(dataDir, { recursive: true, force: true })
    })
    const project = await server.store.createProject('web')
    return { server, project, logs, requestKey: await createKey(server.store, project.id, ['request'], 'ci'), decideKey: await createKey(server.store, project.id, ['decide'], 'bot') }
  }

  async function receiver(): Promise<WebhookReceiver> {
    const started = await startWebhookReceiver()
    cleanups.push(() => started.close())
    return started
  }

  async function create(s: Setup, action = 'deploy production'): Promise<{ id: string }> {
    const created = await call(s.server.url, 'POST', '/v1/approvals', { key: s.requestKey, json: { action, context: { sha: 'abc123' } } })
    expect(created.status).toBe(201)
    return created.body as { id: string }
  }

  it('delivers created and decided events, signed with the secret shown once, with delivery ids and a link', async () => {
    const s = await setup()
    const hook = await receiver()
    const { secret } = await s.server.notifications.channels.addWebhook(s.project, 'cli', hook.url, { events: ['approval.created', 'approval.decided'] })
    hook.secret = secret
    const approval = await create(s)
    await waitUntil(() => hook.received.length >= 1, { what: 'the created webhook' })
    const decided = await call(s.server.url, 'POST', `/v1/approvals/${approval.id}/decision`, { key: s.decideKey, json: { decision: 'approve', reason: 'ship it' } })
    expect(decided.status).toBe(200)
    await waitUntil(() => hook.received.length >= 2, { what: 'the decided webhook' })
    expect(hook.received.map((r) => [r.json.type, r.json.approval.id, r.verified])).toEqual([
      ['approval.created', approval.id, true],
      ['approval.decided', approval.id, true],
    ])
    const [first, second] = hook.received
    expect(first.headers['x-approval-gate-delivery']).toBe(first.json.id)
    expect(first.json.id).toMatch(/^dlv_/)
    expect(second.json.id).not.toBe(first.json.id)
    expect(first.headers['x-approval-gate-event']).toBe('approval.created')
    expect(first.json.project).toEqual({ id: s.project.id, name: 'web' })
    expect(first.json.approval.url).toBe(`https://gate.example.test/approvals/${approval.id}`)
    // A receiver with another secret cannot verify it: the signature covers the body.
    expect(verifyWebhook('whsec_wrong', first.headers, first.body)).toBe(false)
    expect(verifyWebhook(secret as string, first.headers, first.body.replace('deploy production', 'deploy staging'))).toBe(false)
    // The secret appears in no log line and no listing.
    expect(s.logs.join('')).not.toContain(secret as string)
    expect(JSON.stringify(await s.server.notifications.channels.list(s.project))).not.toContain(secret as string)
  })

  it('retries a receiver answering 500 until it recovers, delivering each event once it does, in order', async () => {
    const s = await setup()
    const hook = await receiver()
    hook.answer = (_request, index) => (index < 3 ? 500 : 200)
    const { channel, secret } = await s.server.notifications.channels.addWebhook(s.project, 'cli', hook.url)
    hook.secret = secret
    const approval = await create(s)
    await call(s.server.url, 'POST', `/v1/approvals/${approval.id}/cancel`, { key: s.requestKey, json: { reason: 'not today' } })
    await waitUntil(async () => (await s.server.store.listDeliveries(s.project.id, channel.id)).filter((d) => d.status === 'delivered').length === 2, { what: 'both delivered' })
    expect(hook.received.map((r) => r.json.type)).toEqual(['approval.created', 'approval.created', 'approval.created', 'approval.created', 'approval.cancelled'])
    // Every retry carries the same delivery id, so the receiver can de-duplicate.
    expect(new Set(hook.received.slice(0, 4).map((r) => r.headers['x-approval-gate-delivery'])).size).toBe(1)
    const log = await s.server.store.listDeliveries(s.project.id, channel.id)
    expect(log[1]).toMatchObject({ event_type: 'approval.created', attempts: 4, response_code: 200, last_error: 'HTTP 500' })
  })

  it('decides 100 gates and wakes their long-polls while a receiver hangs on every delivery', async () => {
    const s = await setup()
    const hook = await receiver()
    hook.answer = () => 'hang'
    await s.server.notifications.channels.addWebhook(s.project, 'cli', hook.url)
    const approvals = []
    for (let i = 0; i < 100; i++) approvals.push(await create(s, `deploy ${i}`))
    await waitUntil(() => hook.hanging >= 1, { what: 'the receiver to hold a delivery' })
    // Long-polls wait on every gate; decisions land while the receiver still holds its requests.
    const waits = approvals.map((a) => call(s.server.url, 'GET', `/v1/approvals/${a.id}?wait=30`, { key: s.requestKey }))
    await waitUntil(async () => (await (await fetch(`${s.server.url}/healthz`)).json()).waiting === 100, { what: '100 long-polls waiting', timeoutMs: 60_000 })
    for (const a of approvals) {
      const decided = await call(s.server.url, 'POST', `/v1/approvals/${a.id}/decision`, { key: s.decideKey, json: { decision: 'approve' } })
      expect(decided.status).toBe(200)
    }
    const answers = await Promise.all(waits)
    expect(answers.map((a) => [a.status, a.body.status])).toEqual(approvals.map(() => [200, 'approved']))
    expect(hook.hanging).toBeGreaterThan(0)
  }, 180_000)

  it('refuses, at connect time, a webhook whose host is private when the server does not allow it', async () => {
    const s = await setup({ allowPrivateWebhooks: false })
    const hook = await receiver()
    // Added behind the admin service's back (as if DNS had changed since): the sender checks again.
    const channel = await s.server.store.createChannel({ project_id: s.project.id, kind: 'webhook', name: 'sneaky', config: { url: hook.url.replace('127.0.0.1', 'localhost') }, events: ['approval.created'], remind_after_ms: null, escalate_after_ms: null, escalate_to: null, secret: 'whsec_x' })
    const literal = await s.server.store.createChannel({ project_id: s.project.id, kind: 'webhook', name: 'literal', config: { url: hook.url }, events: ['approval.created'], remind_after_ms: null, escalate_after_ms: null, escalate_to: null, secret: 'whsec_x' })
    await create(s)
    for (const c of [channel, literal]) {
      const [delivery] = await waitUntil(async () => {
        const deliveries = await s.server.store.listDeliveries(s.project.id, c.id)
        return deliveries.length === 1 && deliveries[0].status === 'failed' ? deliveries : null
      }, { what: `the ${c.name} delivery refused` })
      expect(delivery.last_error).toMatch(/loopback, private or link-local address; refused/)
    }
    expect(hook.received).toEqual([])
    // And the admin service refuses to add it in the first place.
    await expect(s.server.notifications.channels.addWebhook(s.project, 'cli', hook.url)).rejects.toThrow(/must use https/)
    await expect(s.server.notifications.channels.addWebhook(s.project, 'cli', 'https://127.0.0.1:9/hook')).rejects.toThrow(/private/)
  })
})
