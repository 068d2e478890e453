/**
 * Another replica's events of one approval reach this replica's live pages in the order they
 * were sent, however long each re-read of the record takes: a slow re-read of `created` must not
 * deliver after the `approved` sent behind it (a live card would fall back to pending).
 */
import { expect, it } from '@jest/globals'
import type { ApprovalEvent } from '../../src/server/approvals/contracts.js'
import { createPostgresNotifier } from '../../src/server/approvals/postgres-notifier.js'
import { openPostgresStore } from '../../src/server/store/postgres/index.js'
import type { Approval, Store } from '../../src/server/store/types.js'
import { testAuditKey } from '../helpers/audit-key.js'
import { approvalFor } from '../store/approval-input.js'
import { describeWithPostgres } from '../store/temp-postgres.js'
import { until } from './replicas.js'

describeWithPostgres('PostgreSQL notifier: order of one approval’s events', (cluster) => {
  it('delivers created then approved although the first re-read finishes last', async () => {
    const config = await cluster.createDatabase()
    const store = await openPostgresStore(config, { auditKey: testAuditKey() })
    // The receiver's first re-read is held until a later re-read has returned (or 2 s passed,
    // when re-reads of one approval run one after another, as they should).
    let reads = 0
    let laterReadDone: () => void = () => {}
    const laterRead = new Promise<void>((resolve) => (laterReadDone = resolve))
    const slowFirstRead = new Proxy(store, {
      get(target, property, receiver) {
        if (property !== 'getApproval') return Reflect.get(target, property, receiver) as unknown
        return async (projectId: string, id: string): Promise<Approval | null> => {
          const n = ++reads
          if (n === 1) {
            const record = await target.getApproval(projectId, id)
            await Promise.race([laterRead, new Promise((resolve) => setTimeout(resolve, 2_000))])
            return record
          }
          const record = await target.getApproval(projectId, id)
          laterReadDone()
          return record
        }
      },
    }) as Store
    const sender = await createPostgresNotifier({ connection: config, store })
    const receiver = await createPostgresNotifier({ connection: config, store: slowFirstRead })
    try {
      const project = await store.createProject('main')
      const heard: ApprovalEvent[] = []
      receiver.onProject(project.id, (event) => heard.push(event))
      const { approval } = await store.createApproval(approvalFor(project))
      sender.publish({ type: 'created', approval })
      await until('the first re-read starts', () => reads === 1)
      const decided = await store.decideApproval(project.id, approval.id, { decision: 'approve', reason: null, decided_by: 'ana@example.com' })
      sender.publish({ type: 'approved', approval: decided!.approval })

      await until('both events are delivered', () => heard.length === 2)
      expect(heard.map((event) => event.type)).toEqual(['created', 'approved'])
      expect(heard[1].approval).toMatchObject({ id: approval.id, status: 'approved', decided_by: 'ana@example.com' })
    } finally {
      await Promise.all([sender.close(), receiver.close()])
      await store.close()
    }
  })
})
