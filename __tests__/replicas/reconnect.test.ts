/**
 * The PostgreSQL notifier's connections under failure, against a real throwaway cluster:
 * the LISTEN connection killed by the server (`pg_terminate_backend`) is re-opened and
 * waiters still wake — also for a decision made while it was down — the sending connection
 * killed is replaced, foreign or forged payloads on the channel wake nobody early, and
 * `close()` leaves no connection behind. Skipped, with a message, without the binaries.
 */
import { afterEach, expect, it } from '@jest/globals'
import pg from 'pg'
import { EVENTS_CHANNEL } from '../../src/server/approvals/postgres-notifier.js'
import type { RunningServer } from '../../src/server/server.js'
import { call, type CallResult } from '../server/helpers.js'
import { describeWithPostgres } from '../store/temp-postgres.js'
import { pgNotifier, startReplicas, until, type Replicas } from './replicas.js'

describeWithPostgres('PostgreSQL notifier connections', (cluster) => {
  let replicas: Replicas | null = null

  afterEach(async () => {
    await replicas?.close()
    replicas = null
  })

  /** Runs SQL as the superuser in the replicas' database and returns the rows. */
  async function sql(r: Replicas, text: string, values: unknown[] = []): Promise<Array<Record<string, unknown>>> {
    const client = new pg.Client(r.database)
    await client.connect()
    try {
      return (await client.query(text, values)).rows as Array<Record<string, unknown>>
    } finally {
      await client.end()
    }
  }

  /** Kills the replica's notifier connection of `role` and waits until its backend is gone. */
  async function kill(r: Replicas, server: RunningServer, role: 'listen' | 'notify'): Promise<void> {
    const rows = await sql(r, 'SELECT pg_terminate_backend(pid, 5000) AS gone FROM pg_stat_activity WHERE application_name = $1', [`approval-gate ${role} ${pgNotifier(server).replicaId}`])
    expect(rows).toEqual([{ gone: true }])
  }

  const listenName = (server: RunningServer) => `approval-gate listen ${pgNotifier(server).replicaId}`

  async function pendingWithWaiterOnB(r: Replicas): Promise<{ id: string; answer: Promise<CallResult> }> {
    const created = await call(r.a.url, 'POST', '/v1/approvals', { key: r.keys.request, json: { action: 'deploy' } })
    const id = created.body.id as string
    const answer = call(r.b.url, 'GET', `/v1/approvals/${id}?wait=20`, { key: r.keys.request })
    await until('B holds the long-poll', () => pgNotifier(r.b).listenerCount() === 1)
    return { id, answer }
  }

  const approve = (r: Replicas, id: string) => call(r.a.url, 'POST', `/v1/approvals/${id}/decision`, { key: r.keys.decide, json: { decision: 'approve' } })

  it('re-opens a killed LISTEN connection and wakes a waiter whose approval was decided while it was down', async () => {
    const r = (replicas = await startReplicas(cluster))
    const { id, answer } = await pendingWithWaiterOnB(r)
    await kill(r, r.b, 'listen')
    // B cannot hear this NOTIFY: its listening backend is gone. The re-check after reconnecting must wake it.
    expect((await approve(r, id)).status).toBe(200)
    expect((await answer).body).toMatchObject({ id, status: 'approved' })
    await until('B listens again', () => pgNotifier(r.b).listening)
  })

  it('keeps waking waiters through the re-opened connection, after more than one kill', async () => {
    const r = (replicas = await startReplicas(cluster))
    for (let round = 0; round < 2; round++) {
      await kill(r, r.b, 'listen')
      // A new backend of B's LISTEN connection: this round's decision must travel by NOTIFY, not by the re-check.
      await until('B listens again', async () => (await sql(r, 'SELECT 1 FROM pg_stat_activity WHERE application_name = $1 AND query = $2', [listenName(r.b), `LISTEN ${EVENTS_CHANNEL}`])).length === 1)
      const { id, answer } = await pendingWithWaiterOnB(r)
      expect((await approve(r, id)).status).toBe(200)
      expect((await answer).body).toMatchObject({ id, status: 'approved' })
    }
  })

  it('replaces a killed sending connection, so the next decision still reaches the other replica', async () => {
    const r = (replicas = await startReplicas(cluster))
    // The sending connection opens on the first event; make one, then kill it.
    const first = await pendingWithWaiterOnB(r)
    expect((await approve(r, first.id)).status).toBe(200)
    expect((await first.answer).body).toMatchObject({ status: 'approved' })
    await kill(r, r.a, 'notify')
    const second = await pendingWithWaiterOnB(r)
    expect((await approve(r, second.id)).status).toBe(200)
    expect((await second.answer).body).toMatchObject({ id: second.id, status: 'approved' })
  })

  it('wakes nobody early on garbage or forged payloads: the record is re-read and still pending', async () => {
    const r = (replicas = await startReplicas(cluster))
    const { id, answer } = await pendingWithWaiterOnB(r)
    const forged = [
      'not json',
      JSON.stringify({ type: 'approved', project_id: r.project.id, approval_id: id, origin: 'rep_forger' }),
      JSON.stringify({ type: 'approved', project_id: 'prj_other', approval_id: id, origin: 'rep_forger' }),
      JSON.stringify({ type: 'drop', project_id: r.project.id, approval_id: id, origin: 'rep_forger' }),
      JSON.stringify({ type: 'approved', project_id: r.project.id, approval_id: 'x'.repeat(5000), origin: 'rep_forger' }),
    ]
    for (const payload of forged) await sql(r, 'SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, payload])
    // A marker through the same channel: once B re-read it, the forged ones (sent before) were handled.
    const seen: string[] = []
    const stop = r.b.notifier.onProject(r.project.id, (event) => seen.push(event.type))
    await sql(r, 'SELECT pg_notify($1, $2)', [EVENTS_CHANNEL, JSON.stringify({ type: 'created', project_id: r.project.id, approval_id: id, origin: 'rep_marker' })])
    await until('B handled the marker', () => seen.length > 0)
    stop()
    expect(pgNotifier(r.b).listenerCount()).toBe(1) // the long-poll still holds
    expect((await approve(r, id)).status).toBe(200)
    expect((await answer).body).toMatchObject({ id, status: 'approved' })
  })

  it('leaves no notifier connection open after close()', async () => {
    const r = (replicas = await startReplicas(cluster))
    const { id, answer } = await pendingWithWaiterOnB(r)
    expect((await approve(r, id)).status).toBe(200)
    await answer
    await r.close()
    replicas = null
    const left = await sql(r, "SELECT application_name FROM pg_stat_activity WHERE application_name LIKE 'approval-gate %'")
    expect(left).toEqual([])
  })
})
