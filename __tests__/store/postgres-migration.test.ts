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

  it('applies a migration missing below the highest recorded one, and names one that fails', async () => {
    const config = await cluster.createDatabase()
    await (await openPostgresStore(config, { auditKey: testAuditKey() })).close()
    const client = new pg.Client(config)
    await client.connect()
    const versions = async () => (await client.query<{ version: number }>('SELECT version FROM schema_migrations ORDER BY version')).rows.map((row) => row.version)
    try {
      // As a development build could leave it: version 11 recorded, version 10 neither run nor recorded.
      await client.query('DROP INDEX memberships_by_slack_user; ALTER TABLE memberships DROP COLUMN slack_user_id; DELETE FROM schema_migrations WHERE version = 10')
      await (await openPostgresStore(config, { auditKey: testAuditKey() })).close()
      expect(await versions()).toEqual(MIGRATIONS.map((migration) => migration.version))
      expect((await client.query("SELECT 1 FROM information_schema.columns WHERE table_name = 'memberships' AND column_name = 'slack_user_id'")).rowCount).toBe(1)

      // Unrecorded but present: re-running it fails on the existing column, and nothing changes.
      await client.query('DELETE FROM schema_migrations WHERE version = 10')
      await expect(openPostgresStore(config, { auditKey: testAuditKey() })).rejects.toThrow(/schema migration 10 \(Slack: .*\) failed, nothing was changed: .*already exists/)
      expect(await versions()).toEqual(MIGRATIONS.map((migration) => migration.version).filter((version) => version !== 10))
    } finally {
      await client.end()
    }
  })
})
