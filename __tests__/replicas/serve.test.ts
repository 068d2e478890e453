/**
 * `approval-gate serve --database-url` as real processes (the built CLI): two replicas started
 * together on one empty PostgreSQL database seed it once, the printed key works on both, and a
 * long-poll on one wakes when the other decides. Skipped, with a message, without the binaries.
 */
import { afterAll, expect, it } from '@jest/globals'
import { openStore } from '../../src/server/store/index.js'
import { call, createKey } from '../server/helpers.js'
import { runCli, startCli, stop, type CliProcess } from '../cli/helpers.js'
import { describeWithPostgres } from '../store/temp-postgres.js'
import { databaseUrl } from './replicas.js'
import { TEST_AUDIT_KEY, testAuditKey } from '../helpers/audit-key.js'

/** `serve` prints this once it listens, with or without the first-run banner. */
const LISTENING = /(?:listening on |curl -s -X POST )(http:\/\/127\.0\.0\.1:\d+)/

describeWithPostgres('serve --database-url', (cluster) => {
  const running = new Set<CliProcess>()

  afterAll(async () => {
    for (const proc of running) await stop(proc)
  }, 30_000)

  function serve(args: string[], env: Record<string, string> = {}): CliProcess {
    const proc = startCli(['serve', '--port', '0', '--quiet', ...args], { env: { APPROVAL_GATE_AUDIT_KEY: TEST_AUDIT_KEY, ...env } })
    running.add(proc)
    return proc
  }

  it('runs two replicas on one database: seeded once, one key for both, decisions wake the other', async () => {
    const url = databaseUrl(await cluster.createDatabase())
    // One by flag, one by environment variable, started at the same moment on the empty database.
    const first = serve(['--database-url', url])
    const second = serve([], { APPROVAL_GATE_DATABASE_URL: url })
    const [urlA, urlB] = (await Promise.all([first.waitFor(LISTENING), second.waitFor(LISTENING)])).map((match) => match[1])
    const banners = [first, second].filter((proc) => proc.stdout().includes('admin@localhost'))
    expect(banners).toHaveLength(1)
    const key = banners[0].stdout().match(/API key\s+(agk_\S+)/)![1]

    const store = await openStore({ kind: 'postgres', connection: url, auditKey: testAuditKey() })
    let decideKey: string
    try {
      const [project] = await store.listProjects()
      decideKey = await createKey(store, project.id, ['decide'], 'approver')
    } finally {
      await store.close()
    }

    const created = await call(urlA, 'POST', '/v1/approvals', { key, json: { action: 'deploy' } })
    expect(created.status).toBe(201)
    const waiting = call(urlB, 'GET', `/v1/approvals/${created.body.id}?wait=20`, { key })
    // B's long-poll may not be held yet when A decides; either way it must answer the decision.
    await new Promise((resolve) => setTimeout(resolve, 300))
    expect((await call(urlA, 'POST', `/v1/approvals/${created.body.id}/decision`, { key: decideKey, json: { decision: 'approve' } })).status).toBe(200)
    expect((await waiting).body).toMatchObject({ status: 'approved', decided_by: 'key:approver' })

    for (const proc of [first, second]) {
      const result = await stop(proc)
      running.delete(proc)
      expect(result.code).toBe(0)
    }
  }, 60_000)

  it('refuses a URL that is not PostgreSQL, without echoing it', async () => {
    const result = await runCli(['serve', '--port', '0', '--database-url', 'mysql://root:hunter2@db/app'])
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('--database-url must be a PostgreSQL URL')
    expect(result.stderr).not.toContain('hunter2')
  })

  it('names the server, not the password, when PostgreSQL cannot be reached', async () => {
    const result = await runCli(['serve', '--port', '0', '--database-url', 'postgres://gate:hunter2@127.0.0.1:1/none'], { env: { APPROVAL_GATE_AUDIT_KEY: TEST_AUDIT_KEY } })
    expect(result.code).not.toBe(0)
    expect(result.stderr).toContain('could not open the PostgreSQL store')
    expect(result.stderr).not.toContain('hunter2')
  })

  it('refuses to serve PostgreSQL without an audit key, saying how to give one', async () => {
    const url = databaseUrl(await cluster.createDatabase())
    const result = await runCli(['serve', '--port', '0', '--database-url', url])
    expect(result.code).toBe(3)
    expect(result.stderr).toContain('PostgreSQL needs an audit key')
    expect(result.stderr).toContain('APPROVAL_GATE_AUDIT_KEY')
    expect(result.stderr).toContain('--audit-key-file')
    // Nothing was created: the database still has no schema.
    const admin = await runCli(['keys', 'list', '--project', 'default', '--database-url', url])
    expect(admin.stderr).toContain('PostgreSQL needs an audit key')
  })

  it('refuses a malformed key in APPROVAL_GATE_AUDIT_KEY', async () => {
    const url = databaseUrl(await cluster.createDatabase())
    const result = await runCli(['serve', '--port', '0', '--database-url', url], { env: { APPROVAL_GATE_AUDIT_KEY: 'too-short' } })
    expect(result.code).toBe(3)
    expect(result.stderr).toContain('the audit key in APPROVAL_GATE_AUDIT_KEY is malformed or too short')
    expect(result.stderr).not.toContain('too-short')
  })
})
