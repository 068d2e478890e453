/**
 * The expiry timer on PostgreSQL when a due request is locked by someone else (another
 * replica's sweep, or a decision in flight): `expireDue` skips the locked row, so the timer
 * must look again shortly instead of spinning on it, and expire it once the lock is gone.
 * Skipped, with a message, without the PostgreSQL binaries.
 */
import { expect, it } from '@jest/globals'
import pg from 'pg'
import { createApprovalService } from '../../src/server/approvals/approval-service.js'
import { InMemoryNotifier } from '../../src/server/approvals/notifier.js'
import { ExpiryTimer } from '../../src/server/approvals/expiry-timer.js'
import { openPostgresStore } from '../../src/server/store/postgres/index.js'
import { testAuditKey } from '../helpers/audit-key.js'
import type { Store } from '../../src/server/store/types.js'
import { approvalFor } from '../store/approval-input.js'
import { describeWithPostgres } from '../store/temp-postgres.js'
import { until } from './replicas.js'

describeWithPostgres('expiry timer on PostgreSQL', (cluster) => {
  it('backs off while a due row is locked elsewhere, then expires it once', async () => {
    const config = await cluster.createDatabase()
    const store = await openPostgresStore(config, { auditKey: testAuditKey() })
    const locker = new pg.Client(config)
    await locker.connect()
    const notifier = new InMemoryNotifier()
    let sweeps = 0
    const counting: Store = Object.assign(Object.create(store) as Store, {
      expireDue: (now: string, limit?: number) => {
        sweeps++
        return store.expireDue(now, limit)
      },
    })
    const timer = new ExpiryTimer(createApprovalService(counting, notifier))
    try {
      const project = await store.createProject('main')
      const { approval } = await store.createApproval(approvalFor(project, { expires_at: new Date(Date.now() - 1_000).toISOString() }))
      // Hold the row as another replica's sweep would, for a second.
      await locker.query('BEGIN')
      await locker.query('SELECT 1 FROM approvals WHERE id = $1 FOR UPDATE', [approval.id])
      const expired: string[] = []
      notifier.onApproval(approval.id, (event) => expired.push(event.type))
      await timer.start()
      await new Promise((resolve) => setTimeout(resolve, 1_000))
      // Without a pause the timer would re-sweep at once, hundreds of times a second.
      expect(sweeps).toBeLessThan(30)
      expect(expired).toEqual([])
      await locker.query('ROLLBACK')
      await until('the row expires', () => expired.length > 0)
      expect(expired).toEqual(['expired'])
      expect((await store.listAudit(project.id, { outcome: 'timed_out' })).items).toHaveLength(1)
    } finally {
      await timer.stop()
      await locker.end()
      await store.close()
    }
  })
})
