/**
 * Votes across two server replicas on one real PostgreSQL database: a vote on A reaches B's
 * live listeners as `voted` (the record with the vote) while B's long-poll keeps waiting, and
 * votes cast on both replicas at once are each counted once, exactly one settling the request.
 * Skipped, with a message, without the PostgreSQL binaries.
 */
import { afterEach, expect, it } from '@jest/globals'
import type { ApprovalEvent } from '../../src/server/approvals/contracts.js'
import { call, createKey } from '../server/helpers.js'
import { setPolicy } from '../server/votes-helpers.js'
import { describeWithPostgres } from '../store/temp-postgres.js'
import { pgNotifier, startReplicas, until, type Replicas } from './replicas.js'

describeWithPostgres('votes on replicas', (cluster) => {
  let replicas: Replicas | null = null

  afterEach(async () => {
    await replicas?.close()
    replicas = null
  })

  it("tells B's live pages about a vote on A, keeps B's long-poll waiting, and wakes it when B's vote settles the request", async () => {
    const r = (replicas = await startReplicas(cluster))
    await setPolicy(r.a.store, r.project.id, 'default:\n  approvers: { required: 2 }\n')
    const [first, second] = [await createKey(r.a.store, r.project.id, ['decide'], 'first'), await createKey(r.a.store, r.project.id, ['decide'], 'second')]
    const seenOnB: ApprovalEvent[] = []
    const stop = r.b.notifier.onProject(r.project.id, (event) => seenOnB.push(event))
    try {
      const created = await call(r.a.url, 'POST', '/v1/approvals', { key: r.keys.request, json: { action: 'deploy' } })
      const id = created.body.id as string
      const waiting = call(r.b.url, 'GET', `/v1/approvals/${id}?wait=20`, { key: r.keys.request })
      // One listener is this test's own (onProject above), the other the held long-poll.
      await until('B holds the long-poll', () => pgNotifier(r.b).listenerCount() === 2)
      expect((await call(r.a.url, 'POST', `/v1/approvals/${id}/decision`, { key: first, json: { decision: 'approve' } })).body).toMatchObject({ status: 'pending' })
      await until('B hears the vote', () => seenOnB.some((event) => event.type === 'voted'))
      expect(seenOnB.find((event) => event.type === 'voted')?.approval).toMatchObject({ id, status: 'pending', votes: [{ by: 'key:first' }] })
      expect(pgNotifier(r.b).listenerCount()).toBe(2)
      expect((await call(r.b.url, 'POST', `/v1/approvals/${id}/decision`, { key: second, json: { decision: 'approve' } })).body).toMatchObject({ status: 'approved' })
      expect((await waiting).body).toMatchObject({ id, status: 'approved', votes: [{ by: 'key:first' }, { by: 'key:second' }] })
    } finally {
      stop()
    }
  })

  it('counts votes cast on both replicas at once each once; exactly one settles the request', async () => {
    const r = (replicas = await startReplicas(cluster))
    await setPolicy(r.a.store, r.project.id, 'default:\n  approvers: { required: 4 }\n')
    const keys = await Promise.all(Array.from({ length: 8 }, (_, i) => createKey(r.a.store, r.project.id, ['decide'], `voter-${i}`)))
    const created = await call(r.a.url, 'POST', '/v1/approvals', { key: r.keys.request, json: { action: 'deploy' } })
    const id = created.body.id as string
    const answers = await Promise.all(keys.map((key, i) => call(i % 2 ? r.a.url : r.b.url, 'POST', `/v1/approvals/${id}/decision`, { key, json: { decision: 'approve' } })))
    const counted = answers.filter((answer) => answer.status === 200)
    expect(counted).toHaveLength(4)
    expect(counted.filter((answer) => answer.body.status === 'approved')).toHaveLength(1)
    expect(answers.filter((answer) => answer.status !== 200).map((answer) => [answer.status, answer.body.error.code])).toEqual(Array.from({ length: 4 }, () => [409, 'conflict']))
    const final = await call(r.b.url, 'GET', `/v1/approvals/${id}`, { key: r.keys.request })
    expect(final.body.votes).toHaveLength(4)
    const events = (await r.a.store.listAudit(r.project.id, { limit: 100 })).items.filter((event) => event.approval_id === id).map((event) => event.type)
    expect(events.filter((type) => type === 'vote_approve')).toHaveLength(3)
    expect(events.filter((type) => type === 'approved')).toHaveLength(1)
    expect(await r.b.store.verifyAudit(r.project.id, { full: true })).toMatchObject({ ok: true })
  })
})
