/**
 * The admin commands on PostgreSQL (`--database-url`, or `APPROVAL_GATE_DATABASE_URL`) as
 * real processes (the built CLI), while a server on the same database runs: the project and
 * keys they create work on the server at once, a revoked key fails at once, the user they add
 * can sign in with the piped password, and the audit trail they verify and export is the
 * server's. Bad and unreachable URLs never echo the password. Skipped, with a message,
 * without the PostgreSQL binaries.
 */
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { verifyPassword } from '../../src/server/auth/secrets.js'
import { startServer, type RunningServer } from '../../src/server/server.js'
import { runCli } from '../cli/helpers.js'
import { call } from '../server/helpers.js'
import { describeWithPostgres } from '../store/temp-postgres.js'
import { databaseUrl } from './replicas.js'
import { TEST_AUDIT_KEY, testAuditKey } from '../helpers/audit-key.js'

describeWithPostgres('admin commands with --database-url', (cluster) => {
  let server: RunningServer | null = null
  let url: string

  beforeAll(async () => {
    url = databaseUrl(await cluster.createDatabase())
    // `dataDir` is required by the options but not used with `database`: nothing is created there.
    server = await startServer({ dataDir: join(tmpdir(), 'approval-gate-unused'), port: 0, database: { kind: 'postgres', url }, auditKey: testAuditKey() })
  }, 60_000)
  afterAll(async () => {
    await server?.close()
  }, 30_000)

  it('create a project, keys and a user that the running server accepts, and verify its audit trail', async () => {
    const running = server!
    const created = await runCli(['project', 'create', 'payments', '--database-url', url, '--json'], { env: { APPROVAL_GATE_AUDIT_KEY: TEST_AUDIT_KEY } })
    expect(created).toMatchObject({ code: 0, stderr: '' })
    const { project, api_key: requestKey } = JSON.parse(created.stdout) as { project: { id: string; name: string }; api_key: string }
    expect(project).toMatchObject({ id: expect.stringMatching(/^prj_/), name: 'payments' })

    // The environment variable works like the flag.
    const env = { APPROVAL_GATE_DATABASE_URL: url, APPROVAL_GATE_AUDIT_KEY: TEST_AUDIT_KEY }
    const decideKey = await runCli(['keys', 'create', '--project', 'payments', '--scope', 'decide', '--name', 'approver', '--json'], { env })
    expect(decideKey.code).toBe(0)
    const decide = JSON.parse(decideKey.stdout) as { api_key: string; scopes: string[] }
    expect(decide.scopes).toEqual(['decide'])

    const password = 'a long enough password'
    const added = await runCli(['user', 'add', 'ana@example.com', '--project', 'payments', '--admin', '--password-stdin', '--database-url', url], { input: `${password}\n`, env: { APPROVAL_GATE_AUDIT_KEY: TEST_AUDIT_KEY } })
    expect(added).toMatchObject({ code: 0, stdout: 'Added ana@example.com as admin of payments.\n' })
    const user = await running.store.getUserByEmail('ana@example.com')
    expect(user).not.toBeNull()
    expect(await verifyPassword(password, user!.password_hash)).toBe(true)
    expect(await running.store.getMembership(project.id, user!.id)).toBe('admin')

    // Keys made by the CLI work at once, without restarting the server.
    const approval = await call(running.url, 'POST', '/v1/approvals', { key: requestKey, json: { action: 'refund' } })
    expect(approval.status).toBe(201)
    const decided = await call(running.url, 'POST', `/v1/approvals/${approval.body.id}/decision`, { key: decide.api_key, json: { decision: 'approve' } })
    expect(decided.status).toBe(200)
    expect(decided.body).toMatchObject({ status: 'approved', decided_by: 'key:approver' })

    const verified = await runCli(['audit', 'verify', '--project', 'payments', '--json'], { env })
    expect(verified.code).toBe(0)
    expect(JSON.parse(verified.stdout)).toMatchObject({ ok: true, events: 5 }) // the CLI's admin changes (two keys, one member), then the request and its decision
    const exported = await runCli(['audit', 'export', '--project', 'payments'], { env })
    expect(exported.code).toBe(0)
    const events = exported.stdout.trim().split('\n').map((text) => JSON.parse(text) as { type: string; approval_id: string })
    expect(events.map((event) => [event.type, event.approval_id])).toEqual([
      ['key_created', ''],
      ['key_created', ''],
      ['member_added', ''],
      ['created', approval.body.id],
      ['approved', approval.body.id],
    ])

    const listed = await runCli(['keys', 'list', '--project', 'payments', '--json'], { env })
    expect(listed.code).toBe(0)
    const keys = JSON.parse(listed.stdout) as Array<{ id: string; name: string }>
    expect(keys.map((key) => key.name).sort()).toEqual(['approver', 'first-key'])
    const firstKey = keys.find((key) => key.name === 'first-key')!
    const revoked = await runCli(['keys', 'revoke', '--project', 'payments', firstKey.id], { env })
    expect(revoked).toMatchObject({ code: 0, stdout: `Revoked ${firstKey.id}.\n` })
    expect((await call(running.url, 'GET', `/v1/approvals/${approval.body.id}`, { key: requestKey })).status).toBe(401)
  }, 60_000)

  it('names a missing project', async () => {
    const result = await runCli(['keys', 'list', '--project', 'nope', '--database-url', url], { env: { APPROVAL_GATE_AUDIT_KEY: TEST_AUDIT_KEY } })
    expect(result.code).toBe(3)
    expect(result.stderr).toContain('no project named "nope"')
  })

  it('refuses a URL that is not PostgreSQL, without echoing it', async () => {
    const result = await runCli(['audit', 'verify', '--project', 'payments', '--database-url', 'mysql://root:hunter2@db/app'])
    expect(result.code).toBe(64)
    expect(result.stderr).toContain('--database-url must be a PostgreSQL URL')
    expect(result.stderr).not.toContain('hunter2')
  })

  it('names the server, not the password, when PostgreSQL cannot be reached', async () => {
    const result = await runCli(['keys', 'list', '--project', 'payments'], { env: { APPROVAL_GATE_DATABASE_URL: 'postgres://gate:hunter2@127.0.0.1:1/none', APPROVAL_GATE_AUDIT_KEY: TEST_AUDIT_KEY } })
    expect(result.code).toBe(3)
    expect(result.stderr).toContain('could not open the PostgreSQL store at postgres://***@127.0.0.1:1/none')
    expect(result.stderr).not.toContain('hunter2')
  })
})
