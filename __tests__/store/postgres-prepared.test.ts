/**
 * The hot reads run as named prepared statements (postgres/prepared.ts): a schema change that
 * alters a prepared statement's result columns makes PostgreSQL refuse its cached plan, and the
 * read must still answer, on a fresh connection; a connection the server dropped takes its
 * statements with it. Skipped, with a message, without the binaries.
 */
import { expect, it } from '@jest/globals'
import pg from 'pg'
import { openPostgresStore } from '../../src/server/store/postgres/index.js'
import { isStalePlan, prepared, queryPrepared } from '../../src/server/store/postgres/prepared.js'
import { testAuditKey } from '../helpers/audit-key.js'
import { approvalFor } from './approval-input.js'
import { describeWithPostgres } from './temp-postgres.js'

describeWithPostgres('PostgreSQL named prepared statements', (cluster) => {
  /**
   * A store on one pooled connection named `name`, with one pending approval read once (its
   * statements prepared on that connection), an admin connection, and how to list the store's
   * backend pids; `done()` closes both.
   */
  async function oneConnectionStore(name: string) {
    const config = await cluster.createDatabase()
    const store = await openPostgresStore({ ...config, max: 1, application_name: name }, { auditKey: testAuditKey() })
    const admin = new pg.Client(config)
    await admin.connect()
    const project = await store.createProject(name)
    const { approval } = await store.createApproval(approvalFor(project))
    expect((await store.getApproval(project.id, approval.id))?.id).toBe(approval.id)
    const backend = async () => (await admin.query<{ pid: number }>('SELECT pid FROM pg_stat_activity WHERE application_name = $1', [name])).rows.map((row) => row.pid)
    const done = async () => {
      await admin.end()
      await store.close()
    }
    return { store, admin, project, approval, backend, done }
  }

  it('names a statement after its text: the same text the same name, another text another', () => {
    expect(prepared('SELECT 1').name).toBe(prepared('SELECT 1').name)
    expect(prepared('SELECT 1').name).not.toBe(prepared('SELECT 2').name)
    expect(prepared('SELECT 1').name).toMatch(/^ag_[0-9a-f]{24}$/)
  })

  it('runs a statement again on a new connection when a schema change made its plan stale', async () => {
    const config = await cluster.createDatabase()
    const admin = new pg.Client(config)
    await admin.connect()
    const pool = new pg.Pool({ ...config, max: 2 })
    pool.on('error', () => {})
    let connections = 0
    pool.on('connect', () => void connections++)
    try {
      await admin.query("CREATE TABLE things (id text PRIMARY KEY); INSERT INTO things VALUES ('a')")
      const read = prepared('SELECT * FROM things WHERE id = $1')
      expect((await queryPrepared(pool, read, ['a'])).rows).toEqual([{ id: 'a' }])

      // Run by hand on the pool's connection, the statement is refused: the hazard is real.
      await admin.query('ALTER TABLE things ADD COLUMN colour text')
      const stale = await pool.connect()
      const refused = await stale.query({ name: read.name, text: read.text, values: ['a'] }).catch((error: unknown) => error)
      stale.release()
      expect(isStalePlan(refused)).toBe(true)

      // Through queryPrepared the read answers, with the new column, from a new connection.
      expect((await queryPrepared(pool, read, ['a'])).rows).toEqual([{ id: 'a', colour: null }])
      expect(connections).toBe(2)
      // And that connection keeps it prepared: no third connection for the next read.
      expect((await queryPrepared(pool, read, ['a'])).rows).toEqual([{ id: 'a', colour: null }])
      expect(connections).toBe(2)
    } finally {
      await pool.end()
      await admin.end()
    }
  })

  it('passes other errors through unchanged, without retrying', async () => {
    const config = await cluster.createDatabase()
    const pool = new pg.Pool({ ...config, max: 1 })
    pool.on('error', () => {})
    let connections = 0
    pool.on('connect', () => void connections++)
    try {
      await expect(queryPrepared(pool, prepared('SELECT * FROM no_such_table WHERE id = $1'), ['a'])).rejects.toMatchObject({ code: '42P01' })
      expect(connections).toBe(1)
    } finally {
      await pool.end()
    }
  })

  it('prepares its reads again on the new connection after the server dropped the old one', async () => {
    const { store, admin, project, approval, backend, done } = await oneConnectionStore('prepared-reconnect')
    try {
      const before = await backend()
      await admin.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'prepared-reconnect'")

      // The pool hears of the drop from the socket; a read sent before that fails, as any would.
      let reread: Awaited<ReturnType<typeof store.getProject>> = null
      for (let tries = 0; tries < 200 && !reread; tries++) {
        reread = await store.getProject(project.id).catch(() => null)
        if (!reread) await new Promise((resolve) => setTimeout(resolve, 50))
      }
      expect(reread?.name).toBe('prepared-reconnect')
      // The new connection has none of the old one's statements: each is prepared on it anew.
      expect((await store.getApproval(project.id, approval.id))?.id).toBe(approval.id)
      expect((await store.getApproval(project.id, approval.id))?.id).toBe(approval.id)
      const after = await backend()
      expect(after).toHaveLength(1)
      expect(after).not.toEqual(before)
    } finally {
      await done()
    }
  })

  it("keeps the store's reads answering across a migration that adds columns to their tables", async () => {
    const { store, admin, project, approval, backend, done } = await oneConnectionStore('prepared')
    try {
      expect((await store.getProject(project.id))?.name).toBe('prepared')
      const before = await backend()
      expect(before).toHaveLength(1)

      // As a newer replica's migration would, while this one keeps its connection.
      await admin.query('ALTER TABLE approvals ADD COLUMN later text; ALTER TABLE projects ADD COLUMN later text')
      expect((await store.getApproval(project.id, approval.id))?.id).toBe(approval.id)
      expect((await store.getProject(project.id))?.name).toBe('prepared')
      // The stale connection was replaced (an unnamed statement would have kept it): the reads were prepared.
      const after = await backend()
      expect(after).toHaveLength(1)
      expect(after).not.toEqual(before)
    } finally {
      await done()
    }
  })
})
