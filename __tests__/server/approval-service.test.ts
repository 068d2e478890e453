/** The approval service, notifier and expiry timer over a real SQLite store. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { createApprovalService } from '../../src/server/approvals/approval-service.js'
import type { ApprovalEvent } from '../../src/server/approvals/contracts.js'
import { ExpiryTimer } from '../../src/server/approvals/expiry-timer.js'
import { InMemoryNotifier } from '../../src/server/approvals/notifier.js'
import { openDataDir } from '../../src/server/server.js'
import type { Project, Store } from '../../src/server/store/types.js'

let dir: string
let store: Store
let notifier: InMemoryNotifier
let events: ApprovalEvent[]
let project: Project

beforeEach(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-service-'))
  store = await openDataDir(join(dir, 'nested', 'data'))
  notifier = new InMemoryNotifier()
  project = await store.createProject('svc', { blockSelfApproval: true })
  events = []
  notifier.onProject(project.id, (event) => events.push(event))
})
afterEach(async () => {
  await notifier.close()
  await store.close()
  await rm(dir, { recursive: true, force: true })
})

const requester = { label: 'key:ci' }
const githubContext = (actor: unknown) => ({ github: { actor, repository: 'acme/api' } })

describe('self-approval rule', () => {
  it('refuses the member who triggered the run (case-insensitive) and writes nothing', async () => {
    const service = createApprovalService(store, notifier)
    const { approval } = await service.create(project, { action: 'deploy', context: githubContext('Octocat'), agent: null, requested_by: requester.label })
    const refused = await service.decide(project, approval.id, { decision: 'approve', reason: null, actor: { label: 'octo@example.com', githubLogin: 'octocat' } })
    expect(refused).toMatchObject({ changed: false, refused: 'self_approval', approval: { status: 'pending' } })
    expect((await store.getApproval(project.id, approval.id))?.status).toBe('pending')
    const other = await service.decide(project, approval.id, { decision: 'approve', reason: null, actor: { label: 'lead@example.com', githubLogin: 'lead' } })
    expect(other).toMatchObject({ changed: true, approval: { status: 'approved', decided_by: 'lead@example.com' } })
  })

  it('does not apply without a linked login, with a hostile context, or when the rule is off', async () => {
    const service = createApprovalService(store, notifier)
    for (const context of [githubContext('octocat'), githubContext(42), { github: 'octocat' }, { github: null }, {}]) {
      const { approval } = await service.create(project, { action: 'deploy', context, agent: null, requested_by: requester.label })
      const result = await service.decide(project, approval.id, { decision: 'reject', reason: null, actor: { label: 'key:decider', githubLogin: null } })
      expect(result?.changed).toBe(true)
    }
    const relaxed = await store.updateProjectSettings(project.id, { blockSelfApproval: false })
    const { approval } = await service.create(relaxed, { action: 'deploy', context: githubContext('octocat'), agent: null, requested_by: requester.label })
    expect((await service.decide(relaxed, approval.id, { decision: 'approve', reason: null, actor: { label: 'o', githubLogin: 'octocat' } }))?.changed).toBe(true)
  })
})

describe('rules every writer meets (one writer)', () => {
  it('reads context.github.triggering_actor too, case-insensitively, and names the matched login', async () => {
    const service = createApprovalService(store, notifier)
    const member = { label: 'octo@example.com', githubLogin: 'octocat' }
    for (const github of [{ actor: 'lead', triggering_actor: 'OctoCat' }, { actor: ' octocat ', triggering_actor: 'lead' }]) {
      const { approval } = await service.create(project, { action: 'deploy', context: { github }, agent: null, requested_by: 'key:ci' })
      expect(await service.decide(project, approval.id, { decision: 'approve', reason: null, actor: member })).toMatchObject({
        changed: false,
        refused: 'self_approval',
        rule: 'run_actor',
        login: 'octocat',
      })
    }
    for (const github of [{ actor: 'lead', triggering_actor: 42 }, { actor: 'lead', triggering_actor: '' }, { actor: 'lead', triggering_actor: ['octocat'] }]) {
      const { approval } = await service.create(project, { action: 'deploy', context: { github }, agent: null, requested_by: 'key:ci' })
      expect((await service.decide(project, approval.id, { decision: 'approve', reason: null, actor: member }))?.changed).toBe(true)
    }
  })

  it('refuses the API key that created a request, whatever the project settings', async () => {
    const relaxed = await store.updateProjectSettings(project.id, { blockSelfApproval: false })
    const service = createApprovalService(store, notifier)
    const { approval } = await service.create(relaxed, { action: 'deploy', context: {}, agent: null, requested_by: 'key:both', requested_by_key_id: 'key_1' })
    expect(await service.decide(relaxed, approval.id, { decision: 'approve', reason: null, actor: { label: 'key:both', keyId: 'key_1' } })).toMatchObject({ refused: 'self_approval', rule: 'requesting_key' })
    // A key renamed to the same label is still another key.
    expect((await service.decide(relaxed, approval.id, { decision: 'approve', reason: null, actor: { label: 'key:both', keyId: 'key_2' } }))?.changed).toBe(true)
  })

  it('enforces the text rules of names and reasons for every caller, writing nothing', async () => {
    const service = createApprovalService(store, notifier)
    await expect(service.create(project, { action: '\u3164', context: {}, agent: null, requested_by: 'key:ci' })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('action') })
    await expect(service.create(project, { action: 'ok', context: {}, agent: '\u2800', requested_by: 'key:ci' })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('agent') })
    const { approval } = await service.create(project, { action: 'deploy', context: {}, agent: null, requested_by: 'key:ci' })
    for (const reason of ['evil\u202Etxt', 'x'.repeat(2001), 'nul\u0000']) {
      await expect(service.decide(project, approval.id, { decision: 'approve', reason, actor: { label: 'x' } })).rejects.toMatchObject({ code: 'invalid_request', message: expect.stringContaining('reason') })
      await expect(service.cancel(project, approval.id, { reason, actor: { label: 'key:ci' } })).rejects.toMatchObject({ code: 'invalid_request' })
    }
    expect((await store.getApproval(project.id, approval.id))?.status).toBe('pending')
    expect((await service.decide(project, approval.id, { decision: 'approve', reason: 'line one\n\tline two', actor: { label: 'x' } }))?.changed).toBe(true)
  })

  it('binds an idempotency key to the canonical request and refuses another request under it', async () => {
    const service = createApprovalService(store, notifier)
    const input = { action: 'deploy', context: { b: 1, a: { y: 2, x: [1, 'z'] } }, agent: 'bot', timeout_ms: 60_000, idempotency_key: 'k', requested_by: 'key:ci' }
    const first = await service.create(project, input)
    expect((await service.create(project, { ...input, context: { a: { x: [1, 'z'], y: 2 }, b: 1 } })).approval.id).toBe(first.approval.id)
    for (const changed of [{ action: 'drop' }, { context: { b: 1, a: { y: 2, x: ['z', 1] } } }, { agent: null }, { timeout_ms: 60_001 }, { timeout_ms: undefined }]) {
      await expect(service.create(project, { ...input, ...changed })).rejects.toMatchObject({ code: 'idempotency_key_reused' })
    }
    expect(events.filter((e) => e.type === 'created')).toHaveLength(1)
  })
})

describe('notifications', () => {
  it('publishes created, approved, rejected and cancelled; unknown ids give null', async () => {
    const service = createApprovalService(store, notifier)
    const a = (await service.create(project, { action: 'a', context: {}, agent: null, requested_by: 'key:ci' })).approval
    const b = (await service.create(project, { action: 'b', context: {}, agent: null, requested_by: 'key:ci' })).approval
    const c = (await service.create(project, { action: 'c', context: {}, agent: null, requested_by: 'key:ci' })).approval
    await service.decide(project, a.id, { decision: 'approve', reason: null, actor: { label: 'x' } })
    await service.decide(project, b.id, { decision: 'reject', reason: 'no', actor: { label: 'x' } })
    await service.cancel(project, c.id, { reason: null, actor: { label: 'key:ci' } })
    await service.decide(project, a.id, { decision: 'reject', reason: null, actor: { label: 'x' } }) // conflict: no event
    expect(events.map((e) => `${e.type}:${e.approval.action}`)).toEqual(['created:a', 'created:b', 'created:c', 'approved:a', 'rejected:b', 'cancelled:c'])
    expect(await service.decide(project, 'apr_nope', { decision: 'approve', reason: null, actor: { label: 'x' } })).toBeNull()
    expect(await service.cancel(project, 'apr_nope', { reason: null, actor: { label: 'x' } })).toBeNull()
  })

  it('unsubscribes in O(1) and drops empty entries', () => {
    const off = Array.from({ length: 1000 }, (_, i) => notifier.onApproval(`apr_${i % 10}`, () => {}))
    expect(notifier.listenerCount()).toBe(1001) // + the project listener
    for (const unsubscribe of off) unsubscribe()
    expect(notifier.listenerCount()).toBe(1)
  })
})

describe('expiry', () => {
  it('expires at expires_at with one timer, re-armed on create, and records timed_out', async () => {
    let timer: ExpiryTimer | null = null
    const service = createApprovalService(store, notifier, { onCreated: (approval) => timer?.consider(approval.expires_at) })
    timer = new ExpiryTimer(service)
    await timer.start()
    const slow = (await service.create(project, { action: 'slow', context: {}, agent: null, timeout_ms: 60_000, requested_by: 'key:ci' })).approval
    const fast = (await service.create(project, { action: 'fast', context: {}, agent: null, timeout_ms: 1_000, requested_by: 'key:ci' })).approval
    const expired = await new Promise<ApprovalEvent>((resolve) => notifier.onApproval(fast.id, resolve))
    expect(expired.type).toBe('expired')
    expect(expired.approval.status).toBe('expired')
    expect((await store.getApproval(project.id, slow.id))?.status).toBe('pending')
    const audit = await store.listAudit(project.id, { outcome: 'timed_out' })
    expect(audit.items.map((e) => e.approval_id)).toEqual([fast.id])
    await timer.stop()
  })

  it('expires what became due while the server was down, on start', async () => {
    const service = createApprovalService(store, notifier)
    const stale = (await service.create(project, { action: 'stale', context: {}, agent: null, timeout_ms: 1_000, requested_by: 'key:ci' })).approval
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    const timer = new ExpiryTimer(service)
    await timer.start()
    expect((await store.getApproval(project.id, stale.id))?.status).toBe('expired')
    await timer.stop()
  })

  it('expires through the service in batches, publishing each, and prunes through it too', async () => {
    const service = createApprovalService(store, notifier, { expiryBatch: 3 })
    const past = new Date(Date.now() - 1_000).toISOString()
    for (let i = 0; i < 7; i++) await store.createApproval({ project_id: project.id, action: `due-${i}`, context: {}, agent: null, expires_at: past, idempotency_key: null, requested_by: 'key:ci' })
    const batchSizes: number[] = []
    const counting = Object.assign(Object.create(store) as Store, {
      expireDue: async (now: string, limit?: number) => {
        const expired = await store.expireDue(now, limit)
        batchSizes.push(expired.length)
        return expired
      },
    })
    const batched = createApprovalService(counting, notifier, { expiryBatch: 3 })
    expect(await batched.expireDue()).toBe(7)
    expect(batchSizes).toEqual([3, 3, 1])
    expect(events.filter((e) => e.type === 'expired')).toHaveLength(7)
    expect(await service.pruneExpired(new Date(Date.now() + 25 * 3_600_000))).toBe(0)
  })

  it('refuses a decision that lands after expires_at even before the sweep ran', async () => {
    const service = createApprovalService(store, notifier)
    const late = (await service.create(project, { action: 'late', context: {}, agent: null, timeout_ms: 1_000, requested_by: 'key:ci' })).approval
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    const result = await service.decide(project, late.id, { decision: 'approve', reason: null, actor: { label: 'x' } })
    expect(result).toMatchObject({ changed: false, approval: { status: 'expired' } })
    expect(events.map((e) => e.type)).toContain('expired')
  })
})
