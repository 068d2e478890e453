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

  it('refuses a decision that lands after expires_at even before the sweep ran', async () => {
    const service = createApprovalService(store, notifier)
    const late = (await service.create(project, { action: 'late', context: {}, agent: null, timeout_ms: 1_000, requested_by: 'key:ci' })).approval
    await new Promise((resolve) => setTimeout(resolve, 1_100))
    const result = await service.decide(project, late.id, { decision: 'approve', reason: null, actor: { label: 'x' } })
    expect(result).toMatchObject({ changed: false, approval: { status: 'expired' } })
    expect(events.map((e) => e.type)).toContain('expired')
  })
})
