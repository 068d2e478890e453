/**
 * Two server replicas on one real PostgreSQL database (a throwaway cluster started by this
 * test): a long-poll on one replica wakes when the other decides or expires the request, a
 * key made through one works on the other, the polling core pointed at one resolves on a
 * decision made on the other, and records cross replicas whole (64 KB contexts do not fit a
 * NOTIFY payload; receivers re-read the store). Skipped, with a message, without the binaries.
 */
import { afterEach, expect, it } from '@jest/globals'
import { requireApproval } from '../../src/client/index.js'
import type { ApprovalEvent } from '../../src/server/approvals/contracts.js'
import { call, createKey } from '../server/helpers.js'
import { describeWithPostgres } from '../store/temp-postgres.js'
import { pgNotifier, startReplicas, until, type Replicas } from './replicas.js'

describeWithPostgres('replicas on PostgreSQL', (cluster) => {
  let replicas: Replicas | null = null

  afterEach(async () => {
    await replicas?.close()
    replicas = null
  })

  async function create(url: string, key: string, body: Record<string, unknown>): Promise<string> {
    const created = await call(url, 'POST', '/v1/approvals', { key, json: body })
    expect(created.status).toBe(201)
    return created.body.id as string
  }

  it('wakes a long-poll on B when A decides', async () => {
    const r = (replicas = await startReplicas(cluster))
    const id = await create(r.a.url, r.keys.request, { action: 'deploy', context: { env: 'prod' } })
    const waiting = call(r.b.url, 'GET', `/v1/approvals/${id}?wait=10`, { key: r.keys.request })
    // Decide only once B's request is really held, so the answer proves the cross-replica wake.
    await until('B holds the long-poll', () => pgNotifier(r.b).listenerCount() === 1)
    const decided = await call(r.a.url, 'POST', `/v1/approvals/${id}/decision`, { key: r.keys.decide, json: { decision: 'approve', reason: 'ship it' } })
    expect(decided.status).toBe(200)
    const answer = await waiting
    // A wait of 10 s that ended any other way would answer `pending`.
    expect(answer.status).toBe(200)
    expect(answer.body).toMatchObject({ id, status: 'approved', reason: 'ship it', decided_by: 'key:decide-key' })
    expect(pgNotifier(r.b).listenerCount()).toBe(0)
  })

  it('wakes waiters on both replicas with a rejection, and a 409 for the second decision from the other replica', async () => {
    const r = (replicas = await startReplicas(cluster))
    const id = await create(r.b.url, r.keys.request, { action: 'drop table' })
    const onA = call(r.a.url, 'GET', `/v1/approvals/${id}?wait=10`, { key: r.keys.request })
    const onB = call(r.b.url, 'GET', `/v1/approvals/${id}?wait=10`, { key: r.keys.request })
    await until('both replicas hold a long-poll', () => pgNotifier(r.a).listenerCount() === 1 && pgNotifier(r.b).listenerCount() === 1)
    expect((await call(r.a.url, 'POST', `/v1/approvals/${id}/decision`, { key: r.keys.decide, json: { decision: 'reject', reason: 'no' } })).status).toBe(200)
    for (const answer of await Promise.all([onA, onB])) expect(answer.body).toMatchObject({ id, status: 'rejected', reason: 'no' })
    const late = await call(r.b.url, 'POST', `/v1/approvals/${id}/decision`, { key: r.keys.decide, json: { decision: 'approve' } })
    expect(late.status).toBe(409)
  })

  it('delivers fresh, whole records across replicas (a 60 KB context) and no echoes of its own events', async () => {
    const r = (replicas = await startReplicas(cluster))
    const seenOnA: ApprovalEvent[] = []
    const seenOnB: ApprovalEvent[] = []
    const stopA = r.a.notifier.onProject(r.project.id, (event) => seenOnA.push(event))
    const stopB = r.b.notifier.onProject(r.project.id, (event) => seenOnB.push(event))
    try {
      const context = { notes: 'x'.repeat(60_000), nested: { '<b>': '"quoted" \u2028' } }
      const id = await create(r.a.url, r.keys.request, { action: 'migrate', context })
      expect((await call(r.a.url, 'POST', `/v1/approvals/${id}/decision`, { key: r.keys.decide, json: { decision: 'approve' } })).status).toBe(200)
      await until('B hears both events', () => seenOnB.length >= 2)
      // Give a stray echo time to arrive before counting A's deliveries.
      await call(r.a.url, 'GET', `/v1/approvals/${id}`, { key: r.keys.request })
      expect(seenOnA.map((e) => e.type)).toEqual(['created', 'approved'])
      expect(seenOnB.map((e) => e.type)).toEqual(['created', 'approved'])
      const last = seenOnB[1].approval
      expect(last).toMatchObject({ id, status: 'approved', decided_by: 'key:decide-key', project_id: r.project.id })
      expect(last.context).toEqual(context)
    } finally {
      stopA()
      stopB()
    }
  })

  it('expires on one replica and wakes the waiter on the other; each request is expired and audited once', async () => {
    const r = (replicas = await startReplicas(cluster))
    // Created on both replicas so both expiry timers are armed for the same moment.
    const ids = await Promise.all(Array.from({ length: 6 }, (_, i) => create(i % 2 ? r.a.url : r.b.url, r.keys.request, { action: `job-${i}`, timeout_ms: 1_500 })))
    const answers = Promise.all(ids.map((id, i) => call(i % 2 ? r.b.url : r.a.url, 'GET', `/v1/approvals/${id}?wait=15`, { key: r.keys.request })))
    for (const answer of await answers) expect(answer.body).toMatchObject({ status: 'expired', decided_by: 'system' })
    const audit = await r.b.store.listAudit(r.project.id, { outcome: 'timed_out', limit: 100 })
    expect(audit.items.map((e) => e.approval_id).sort()).toEqual([...ids].sort())
    expect(await r.a.store.verifyAudit(r.project.id)).toMatchObject({ ok: true, events: 12 })
  })

  it('expires a request created on A while only B waits, although B never saw it created', async () => {
    const r = (replicas = await startReplicas(cluster))
    const id = await create(r.a.url, r.keys.request, { action: 'nightly', timeout_ms: 1_000 })
    // B's own timer sleeps up to a minute for deadlines it did not create; A's fires at 1 s.
    const answer = await call(r.b.url, 'GET', `/v1/approvals/${id}?wait=10`, { key: r.keys.request })
    expect(answer.body).toMatchObject({ id, status: 'expired' })
  })

  it('accepts on B a key created through A’s store while both run, and refuses it once revoked', async () => {
    const r = (replicas = await startReplicas(cluster))
    const key = await createKey(r.a.store, r.project.id, ['request'], 'late-key')
    const created = await call(r.b.url, 'POST', '/v1/approvals', { key, json: { action: 'deploy' } })
    expect(created.status).toBe(201)
    expect(created.body).toMatchObject({ status: 'pending' })
    const info = (await r.a.store.listApiKeys(r.project.id)).find((k) => k.name === 'late-key')!
    expect(await r.a.store.revokeApiKey(r.project.id, info.id)).toBe(true)
    expect((await call(r.b.url, 'GET', `/v1/approvals/${created.body.id}`, { key })).status).toBe(401)
  })

  it('resolves requireApproval pointed at B when A approves', async () => {
    const r = (replicas = await startReplicas(cluster))
    let decision: Promise<unknown> | null = null
    const id = await requireApproval('deploy to prod', {
      apiUrl: r.b.url,
      apiKey: r.keys.request,
      context: { sha: 'abc123' },
      timeoutMs: 25_000,
      // Without the wake-up the core's long-poll on B would outlast the timeout and this would throw.
      pollIntervalMs: 60_000,
      onProgress: (event) => {
        if (event.type !== 'created') return
        decision = until('the core long-polls B', () => pgNotifier(r.b).listenerCount() === 1).then(() =>
          call(r.a.url, 'POST', `/v1/approvals/${event.approvalId}/decision`, { key: r.keys.decide, json: { decision: 'approve' } }),
        )
      },
    })
    expect(await decision).toMatchObject({ status: 200 })
    expect(await r.b.store.getApproval(r.project.id, id)).toMatchObject({ status: 'approved', decided_by: 'key:decide-key' })
  })
})
