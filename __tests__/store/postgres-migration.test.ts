/**
 * Upgrading a PostgreSQL database written by schema version 1 to version 2 (idempotency
 * fingerprints, requesting keys), with data in it. Skipped, with a message, without the binaries.
 */
import { expect, it } from '@jest/globals'
import pg from 'pg'
import { MIGRATIONS } from '../../src/server/store/postgres/migrations.js'
import { openPostgresStore } from '../../src/server/store/postgres/index.js'
import { testAuditKey } from '../helpers/audit-key.js'
import { approvalFor } from './approval-input.js'
import { describeWithPostgres } from './temp-postgres.js'

describeWithPostgres('PostgreSQL migration 1 → 2', (cluster) => {
  it('keeps approvals, and binds their idempotency keys to no request fingerprint', async () => {
    const config = await cluster.createDatabase()
    const client = new pg.Client(config)
    await client.connect()
    try {
      const now = new Date().toISOString()
      await client.query('CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL)')
      await client.query(MIGRATIONS[0].sql)
      await client.query("INSERT INTO schema_migrations VALUES (1, 'initial schema', $1)", [now])
      await client.query("INSERT INTO projects VALUES ('prj_v1', 'v1', '{}', $1)", [now])
      await client.query("INSERT INTO audit_heads VALUES ('prj_v1', 0, $1)", ['0'.repeat(64)])
      await client.query(
        "INSERT INTO approvals (id, project_id, action, context, status, created_at, expires_at, idempotency_key, requested_by) VALUES ('apr_v1', 'prj_v1', 'deploy', '{}', 'pending', $1, $1, 'run-1', 'key:ci')",
        [now],
      )
    } finally {
      await client.end()
    }
    const store = await openPostgresStore(config, { auditKey: testAuditKey() })
    try {
      const project = (await store.getProject('prj_v1'))!
      expect(await store.getApproval(project.id, 'apr_v1')).toMatchObject({ idempotency_key: 'run-1', requested_by_key_id: null })
      expect(await store.createApproval(approvalFor(project, { idempotency_key: 'run-1', idempotency_fingerprint: 'f' }))).toMatchObject({ key_reused: true, approval: { id: 'apr_v1' } })
      expect((await store.createApproval(approvalFor(project, { idempotency_key: 'run-2', idempotency_fingerprint: 'f' }))).created).toBe(true)
    } finally {
      await store.close()
    }
  })
})
