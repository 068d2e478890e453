/**
 * The channel admin service on a real SQLite store: the rules of each kind, the secret shown
 * once and sealed in the database, private webhook addresses refused (at add time; the sender
 * checks again at connect time), and an audit event for each change that names no secret.
 */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { mkdtempSync, readFileSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { AdminError } from '../../src/server/admin/admin-service.js'
import { ChannelService, type HostResolver } from '../../src/server/admin/channel-service.js'
import { openSqliteStore } from '../../src/server/store/sqlite/index.js'
import type { Project, Store } from '../../src/server/store/types.js'

const PUBLIC: HostResolver = async () => ['93.184.216.34']

async function refusal(promise: Promise<unknown>): Promise<AdminError> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(AdminError)
  return error as AdminError
}

describe('ChannelService', () => {
  let dir: string
  let store: Store
  let project: Project

  beforeEach(async () => {
    dir = mkdtempSync(join(tmpdir(), 'ag-channels-'))
    store = await openSqliteStore(join(dir, 'db.sqlite'))
    project = await store.createProject('web')
  })
  afterEach(async () => {
    await store.close()
    rmSync(dir, { recursive: true, force: true })
  })

  it('adds a webhook with a generated secret shown once, sealed in the file, and records it without the secret or the URL path', async () => {
    const service = new ChannelService(store, { resolveHost: PUBLIC })
    const { channel, secret } = await service.addWebhook(project, 'cli', 'https://hooks.example.com/T0KEN-in-path?sig=abc', { events: ['approval.created'], remindAfterMs: 30 * 60_000 })
    expect(secret).toMatch(/^whsec_[A-Za-z0-9_-]{40,}$/)
    expect(channel).toMatchObject({ kind: 'webhook', name: 'webhook hooks.example.com', config: { url: 'https://hooks.example.com/T0KEN-in-path?sig=abc' }, events: ['approval.created'], remind_after_ms: 1_800_000 })
    expect(await store.getChannelSecret(project.id, channel.id)).toBe(secret)
    const listed = await service.list(project)
    expect(JSON.stringify(listed)).not.toContain(secret as string)
    expect(listed[0].health).toEqual({ channel_id: channel.id, retrying: 0, failed: 0, delivered: 0, last_error: null, last_error_at: null })
    // The database file holds the sealed secret only.
    await store.close()
    for (const file of ['db.sqlite', 'db.sqlite-wal']) {
      let bytes = ''
      try {
        bytes = readFileSync(join(dir, file)).toString('latin1')
      } catch {
        continue
      }
      expect(bytes).not.toContain((secret as string).slice(6))
    }
    store = await openSqliteStore(join(dir, 'db.sqlite'))
    const [event] = (await store.listAudit(project.id)).items
    expect(event).toMatchObject({ type: 'channel_added', action: 'channel:webhook hooks.example.com', actor: 'cli' })
    expect(event.reason).toContain('webhook to https://hooks.example.com')
    expect(event.reason).not.toContain('T0KEN')
    expect(event.reason).not.toContain(secret as string)
  })

  it.each([
    ['not a URL', 'not a URL', /not a URL/],
    ['another scheme', 'ftp://example.com/x', /https/],
    ['plain http', 'http://hooks.example.com/x', /must use https/],
    ['credentials', 'https://user:pw@hooks.example.com/x', /user name or password/],
    ['an oversized URL', `https://hooks.example.com/${'a'.repeat(2_000)}`, /at most 2000/],
  ])('refuses a webhook URL with %s, adding nothing', async (_what, url, message) => {
    const service = new ChannelService(store, { resolveHost: PUBLIC })
    expect((await refusal(service.addWebhook(project, 'cli', url))).message).toMatch(message)
    expect(await store.listChannels(project.id)).toEqual([])
    expect((await store.listAudit(project.id)).items).toEqual([])
  })

  it.each([['127.0.0.1'], ['10.1.2.3'], ['169.254.169.254'], ['::1'], ['fd00::5']])('refuses a host resolving to %s unless private webhooks are allowed', async (address) => {
    const resolveHost: HostResolver = async () => ['93.184.216.34', address]
    const strict = new ChannelService(store, { resolveHost })
    expect((await refusal(strict.addWebhook(project, 'cli', 'https://sneaky.example.com/'))).message).toMatch(/loopback, private or link-local.*--allow-private-webhooks/)
    expect((await refusal(strict.addWebhook(project, 'cli', 'https://[::1]/'))).message).toMatch(/private/)
    expect((await refusal(new ChannelService(store, { resolveHost: PUBLIC }).addWebhook(project, 'cli', 'https://127.0.0.1/'))).message).toMatch(/private/)
    const lenient = new ChannelService(store, { allowPrivateWebhooks: true, resolveHost })
    await lenient.addWebhook(project, 'cli', 'http://127.0.0.1:9/hook', { name: 'local' })
    expect((await store.listChannels(project.id)).map((c) => c.name)).toEqual(['local'])
  })

  it('refuses a host that does not resolve', async () => {
    const service = new ChannelService(store, { resolveHost: async () => Promise.reject(new Error('ENOTFOUND')) })
    expect((await refusal(service.addWebhook(project, 'cli', 'https://nowhere.invalid/'))).message).toMatch(/does not resolve/)
  })

  it('adds email channels to given addresses or to the deciders, and checks addresses', async () => {
    const service = new ChannelService(store)
    const deciders = await service.addEmail(project, 'admin@example.com', [])
    expect(deciders).toMatchObject({ secret: null, channel: { kind: 'email', name: 'email', config: {} } })
    const listed = await service.addEmail(project, 'cli', ['ops@example.com', ' dev@example.com ', 'ops@example.com'], { name: 'ops mail' })
    expect(listed.channel.config).toEqual({ to: 'ops@example.com,dev@example.com' })
    expect((await refusal(service.addEmail(project, 'cli', ['not-an-address'], { name: 'x' }))).message).toMatch(/not an email address/)
    expect((await refusal(service.addEmail(project, 'cli', ['a@example.com, b@example.com'], { name: 'y' }))).message).toMatch(/not an email address/)
    expect((await refusal(service.addEmail(project, 'cli', []))).code).toBe('conflict')
  })

  it('checks names, events, reminder delays and the escalation target (same project only)', async () => {
    const service = new ChannelService(store, { resolveHost: PUBLIC })
    const other = await store.createProject('other')
    const foreign = await service.addEmail(other, 'cli', [], { name: 'oncall' })
    expect((await refusal(service.addEmail(project, 'cli', [], { name: '' }))).message).toMatch(/channel name/)
    expect((await refusal(service.addEmail(project, 'cli', [], { events: ['approval.created', 'approval.nope'] }))).message).toMatch(/unknown event "approval.nope"/)
    expect((await refusal(service.addEmail(project, 'cli', [], { remindAfterMs: 1_000 }))).message).toMatch(/remind-after must be between 1m/)
    expect((await refusal(service.addEmail(project, 'cli', [], { escalateAfterMs: 3_600_000 }))).message).toMatch(/go together/)
    const crossProject = await refusal(service.addEmail(project, 'cli', [], { escalateAfterMs: 3_600_000, escalateTo: foreign.channel.id }))
    expect(crossProject.code).toBe('not_found')
    const oncall = await service.addEmail(project, 'cli', ['oncall@example.com'], { name: 'oncall' })
    const hook = await service.addWebhook(project, 'cli', 'https://hooks.example.com/', { escalateAfterMs: 7_200_000, escalateTo: 'oncall' })
    expect(hook.channel).toMatchObject({ escalate_after_ms: 7_200_000, escalate_to: oncall.channel.id })
    expect(await store.listChannels(project.id)).toHaveLength(2)
  })

  it('removes a channel by id or name in its project only, and records it', async () => {
    const service = new ChannelService(store)
    const { channel } = await service.addEmail(project, 'cli', [])
    const other = await store.createProject('other')
    expect((await refusal(service.remove(other, 'cli', channel.id))).code).toBe('not_found')
    await service.remove(project, 'admin@example.com', 'email')
    expect(await store.listChannels(project.id)).toEqual([])
    expect((await store.listAudit(project.id)).items[0]).toMatchObject({ type: 'channel_removed', action: 'channel:email', actor: 'admin@example.com', reason: channel.id })
    expect((await refusal(service.remove(project, 'cli', channel.id))).code).toBe('not_found')
  })

  it('redelivers a delivery of its project only, recording who did it once per resend, on a chain that verifies', async () => {
    const service = new ChannelService(store)
    const { channel } = await service.addEmail(project, 'cli', ['ops@example.com'], { name: 'ops mail' })
    await store.createApproval({ project_id: project.id, action: 'deploy', context: {}, agent: null, expires_at: new Date(Date.now() + 3_600_000).toISOString(), idempotency_key: null, requested_by: 'key:ci' })
    expect(await store.materializeDeliveries(new Date().toISOString())).toBe(1)
    const [delivery] = await store.listDeliveries(project.id, channel.id)
    const other = await store.createProject('other')
    const eventsOf = async (p: Project) => (await store.listAudit(p.id)).items.filter((event) => event.type === 'delivery_resent')

    const resent = await service.redeliver(project, 'admin@example.com', ` ${delivery.id} `)
    expect(resent).toMatchObject({ id: delivery.id, status: 'pending' })
    const [event, ...more] = await eventsOf(project)
    expect(more).toEqual([])
    expect(event).toMatchObject({ approval_id: '', action: `channel:ops mail/${delivery.id}`, actor: 'admin@example.com' })
    expect(event.reason).toBe(`${channel.id}; approval.created of ${delivery.approval_id}; 0 attempts before`)

    // From another project the id is unknown: refused, nothing queued or recorded anywhere.
    const before = (await store.listDeliveries(project.id, channel.id))[0]
    const refused = await refusal(service.redeliver(other, 'cli', delivery.id))
    expect(refused.code).toBe('not_found')
    expect(refused.message).toContain(`project other has no delivery "${delivery.id}"`)
    expect((await refusal(service.redeliver(project, 'cli', 'dlv_missing'))).code).toBe('not_found')
    expect((await store.listDeliveries(project.id, channel.id))[0]).toEqual(before)
    expect(await eventsOf(project)).toHaveLength(1)
    expect((await store.listAudit(other.id)).items).toEqual([])

    await service.redeliver(project, 'cli', delivery.id)
    expect((await eventsOf(project)).map((e) => e.actor)).toEqual(['cli', 'admin@example.com'])
    expect(await store.verifyAudit(project.id)).toMatchObject({ ok: true })
  })
})
