/**
 * The outbox on PostgreSQL with two replicas (separate pools on one database) working at the
 * same moment: every audit event becomes exactly one delivery per channel, and no delivery is
 * claimed by both, however the claims interleave.
 */
import { expect, it } from '@jest/globals'
import { testAuditKey } from '../helpers/audit-key.js'
import { openPostgresStore } from '../../src/server/store/postgres/index.js'
import { describeWithPostgres } from './temp-postgres.js'

describeWithPostgres('PostgreSQL outbox with two replicas', (cluster) => {
  it('materialises each event once and never hands one delivery to both replicas', async () => {
    const config = await cluster.createDatabase()
    const [a, b] = await Promise.all([openPostgresStore(config, { auditKey: testAuditKey() }), openPostgresStore(config, { auditKey: testAuditKey() })])
    try {
      const project = await a.createProject('web')
      const channels = await Promise.all(
        ['one', 'two', 'three'].map((name) =>
          a.createChannel({ project_id: project.id, kind: 'webhook', name, config: { url: 'https://example.com/' }, events: ['approval.created'], remind_after_ms: null, escalate_after_ms: null, escalate_to: null, secret: 's' }),
        ),
      )
      const expires_at = new Date(Date.now() + 3_600_000).toISOString()
      for (let i = 0; i < 40; i++) await a.createApproval({ project_id: project.id, action: `deploy ${i}`, context: {}, agent: null, expires_at, idempotency_key: null, requested_by: 'key:ci' })
      const now = new Date().toISOString()
      const made = await Promise.all([a.materializeDeliveries(now, 7), b.materializeDeliveries(now, 7), a.materializeDeliveries(now), b.materializeDeliveries(now)])
      const rest = (await a.materializeDeliveries(now)) + (await b.materializeDeliveries(now))
      expect(made.reduce((x, y) => x + y, 0) + rest).toBe(120)
      const lease = new Date(Date.now() + 60_000).toISOString()
      const claimedIds: string[] = []
      for (;;) {
        const batches = await Promise.all([a.claimDeliveries(now, 9, lease), b.claimDeliveries(now, 9, lease), a.claimDeliveries(now, 9, lease), b.claimDeliveries(now, 9, lease)])
        const ids = batches.flat().map((d) => d.id)
        if (ids.length === 0) break
        claimedIds.push(...ids)
      }
      expect(claimedIds).toHaveLength(120)
      expect(new Set(claimedIds).size).toBe(120)
      for (const channel of channels) expect(await a.listDeliveries(project.id, channel.id, 200)).toHaveLength(40)
    } finally {
      await Promise.all([a.close(), b.close()])
    }
  })
})

describeWithPostgres('PostgreSQL: two delivery workers (replicas) on one database', (cluster) => {
  it('deliver every event exactly once between them, in order per approval', async () => {
    const { DeliveryWorker } = await import('../../src/server/notifications/delivery-worker.js')
    const { SenderRegistry } = await import('../../src/server/notifications/sender-registry.js')
    const config = await cluster.createDatabase()
    const [a, b] = await Promise.all([openPostgresStore(config, { auditKey: testAuditKey() }), openPostgresStore(config, { auditKey: testAuditKey() })])
    const received: Array<{ worker: string; id: string; type: string; approval: string }> = []
    const workers = ['a', 'b'].map(
      (name, i) =>
        new DeliveryWorker([a, b][i], {
          senders: new SenderRegistry([
            {
              kind: 'webhook',
              async deliver(_channel, _secret, event) {
                received.push({ worker: name, id: event.delivery_id, type: event.type, approval: event.approval.id })
                return { ok: true, status_code: 200, error: null, retryable: false, remote_ref: null }
              },
            },
          ]),
          publicUrl: 'https://gate.example.test',
          pollMs: 20,
          concurrency: 4,
        }),
    )
    try {
      const project = await a.createProject('web')
      await a.createChannel({ project_id: project.id, kind: 'webhook', name: 'hook', config: { url: 'https://example.com/' }, events: ['approval.created', 'approval.decided'], remind_after_ms: null, escalate_after_ms: null, escalate_to: null, secret: 's' })
      for (const worker of workers) worker.start()
      const expires_at = new Date(Date.now() + 3_600_000).toISOString()
      const ids: string[] = []
      for (let i = 0; i < 30; i++) {
        const store = i % 2 === 0 ? a : b
        const { approval } = await store.createApproval({ project_id: project.id, action: `deploy ${i}`, context: {}, agent: null, expires_at, idempotency_key: null, requested_by: 'key:ci' })
        await store.decideApproval(project.id, approval.id, { decision: 'approve', reason: null, decided_by: 'ana@example.com' })
        ids.push(approval.id)
      }
      const { waitUntil } = await import('../helpers/wait-until.js')
      await waitUntil(() => received.length >= 60, { what: '60 deliveries', timeoutMs: 60_000 })
      expect(new Set(received.map((r) => r.id)).size).toBe(60)
      expect(received).toHaveLength(60)
      for (const id of ids) expect(received.filter((r) => r.approval === id).map((r) => r.type)).toEqual(['approval.created', 'approval.decided'])
    } finally {
      for (const worker of workers) await worker.stop()
      await Promise.all([a.close(), b.close()])
    }
  })
})
