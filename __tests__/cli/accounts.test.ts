/**
 * Accounts from the command line (issue #10 items 2, 8, 13, 16): the data directory's
 * permissions, `serve` binding before it creates the first admin, key warnings, and
 * `user add` on an existing account (same rules as the dashboard; sessions ended).
 */
import { chmodSync, statSync } from 'node:fs'
import { mkdir, mkdtemp, rm } from 'node:fs/promises'
import { createServer, type Server } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { seedFirstRun } from '../../src/server/admin/bootstrap.js'
import { hashToken } from '../../src/server/auth/secrets.js'
import { openDataDir } from '../../src/server/server.js'
import { runCli, startCli, startServe, stop } from './helpers.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-accounts-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const mode = (path: string) => statSync(path).mode & 0o777

describe('data directory permissions (item 13)', () => {
  it('creates the directory 0700 and the database, -wal and -shm 0600, whatever the umask', async () => {
    const data = join(dir, 'fresh')
    const created = await runCli(['project', 'create', 'web', '--data', data])
    expect(created.code).toBe(0)
    expect(mode(data)).toBe(0o700)
    expect(mode(join(data, 'approval-gate.db'))).toBe(0o600)
    // -wal and -shm exist while a connection is open: look while serve runs.
    const { process: serve } = await startServe(data)
    try {
      for (const file of ['approval-gate.db', 'approval-gate.db-wal', 'approval-gate.db-shm']) expect(mode(join(data, file))).toBe(0o600)
      expect(serve.stderr()).not.toContain('readable by others')
    } finally {
      await stop(serve)
    }
  }, 60_000)

  it('warns when an existing directory or database is readable by others', async () => {
    const data = join(dir, 'wide')
    await mkdir(data, { mode: 0o755 })
    chmodSync(data, 0o755)
    expect((await runCli(['project', 'create', 'web', '--data', data])).stderr).toContain(`${data} is readable by others (mode 0755)`)
    chmodSync(data, 0o700)
    chmodSync(join(data, 'approval-gate.db'), 0o644)
    const listed = await runCli(['keys', 'list', '--project', 'web', '--data', data])
    expect(listed.code).toBe(0)
    expect(listed.stderr).toContain('approval-gate.db is readable by others (mode 0644)')
    expect(listed.stderr).toContain('chmod 600')
  }, 60_000)
})

describe('serve: first start (item 16)', () => {
  let blocker: Server
  let port: number
  beforeAll(async () => {
    blocker = createServer()
    await new Promise<void>((resolve) => blocker.listen(0, '127.0.0.1', resolve))
    port = (blocker.address() as { port: number }).port
  })
  afterAll(async () => {
    await new Promise((resolve) => blocker.close(resolve))
  })

  it('creates nothing when the port is taken, so the next start still prints the credentials', async () => {
    const data = join(dir, 'taken')
    const failed = await runCli(['serve', '--port', String(port), '--data', data, '--quiet'])
    expect(failed.code).toBe(3)
    expect(failed.stderr).toContain(`port ${port} on 127.0.0.1 is already in use`)
    expect(failed.stdout).not.toContain('Password')

    const { process: serve, url } = await startServe(data)
    try {
      await serve.waitFor(/─+\n$/m)
      const out = serve.stdout()
      const password = out.match(/Password\s+(\S+)/)![1]
      expect(out).toMatch(/API key\s+agk_\S+/)
      // The printed password signs in.
      const form = await fetch(`${url}/login`)
      const csrf = /name="_csrf" value="([^"]+)"/.exec(await form.text())![1]
      const cookie = form.headers.getSetCookie()[0].split(';')[0]
      const signIn = await fetch(`${url}/login`, {
        method: 'POST',
        headers: { 'content-type': 'application/x-www-form-urlencoded', cookie },
        body: new URLSearchParams({ _csrf: csrf, email: 'admin@localhost', password }).toString(),
        redirect: 'manual',
      })
      expect(signIn.status).toBe(303)
    } finally {
      await stop(serve)
    }
  }, 60_000)

  it('says how to set a password when the first admin never saw one', async () => {
    const data = join(dir, 'unseen')
    // A first start that died after seeding and before its banner: the admin holds no usable password.
    const store = await openDataDir(data)
    const first = await seedFirstRun(store)
    expect(first).not.toBeNull()
    await store.close()
    const { process: serve } = await startServe(data)
    try {
      await serve.waitFor(/has no password yet/)
      expect(serve.stderr()).toContain("approval-gate user add admin@localhost --project default --admin --password-stdin")
      expect(serve.stdout()).not.toContain(first!.password)
    } finally {
      await stop(serve)
    }
    const set = await runCli(['user', 'add', 'admin@localhost', '--project', 'default', '--admin', '--password-stdin', '--data', data], { input: 'the admin password\n' })
    expect(set.code).toBe(0)
    const again = startCli(['serve', '--port', '0', '--data', data, '--quiet'])
    try {
      await again.waitFor(/listening on/)
      expect(again.stderr()).not.toContain('has no password yet')
    } finally {
      await stop(again)
    }
  }, 60_000)
})

describe('keys create warns about keys that can decide their own requests (item 2)', () => {
  it('warns on request+decide and on admin, not on request or decide alone', async () => {
    const data = join(dir, 'keys')
    expect((await runCli(['project', 'create', 'web', '--data', data])).code).toBe(0)
    const create = (scope: string) => runCli(['keys', 'create', '--project', 'web', '--scope', scope, '--data', data, '--json'])
    for (const scope of ['request,decide', 'admin']) {
      const made = await create(scope)
      expect(made.code).toBe(0)
      expect(made.stderr).toContain('warning: This key can both ask for approvals and decide them')
      expect(JSON.parse(made.stdout).api_key).toMatch(/^agk_/)
    }
    for (const scope of ['request', 'decide']) {
      const made = await create(scope)
      expect(made.code).toBe(0)
      expect(made.stderr).not.toContain('warning')
    }
  }, 60_000)
})

describe('user add on an existing account (items 8, #11)', () => {
  it('resets the password, ends the sessions, keeps other projects’ GitHub logins, and uses the dashboard’s rules', async () => {
    const data = join(dir, 'users')
    expect((await runCli(['project', 'create', 'web', '--data', data])).code).toBe(0)
    expect((await runCli(['project', 'create', 'api', '--data', data])).code).toBe(0)
    const add = (project: string, args: string[], password: string) =>
      runCli(['user', 'add', 'ana@example.com', '--project', project, '--password-stdin', '--data', data, ...args], { input: `${password}\n` })
    expect((await add('web', ['--github', 'ana-web'], 'first password 1')).code).toBe(0)
    const store = await openDataDir(data)
    try {
      const ana = (await store.getUserByEmail('ana@example.com'))!
      await store.createSession({ token_hash: hashToken('s'), user_id: ana.id, csrf_token: 'c', created_at: new Date().toISOString(), expires_at: new Date(Date.now() + 3_600_000).toISOString() })
    } finally {
      await store.close()
    }
    const again = await add('api', ['--github', 'ana-api', '--admin'], 'second password 2')
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('Updated ana@example.com as admin of api (GitHub in api: ana-api): password reset, 1 signed-in session ended.')
    const reopened = await openDataDir(data)
    try {
      const ana = (await reopened.getUserByEmail('ana@example.com'))!
      expect(await reopened.getSession(hashToken('s'), new Date().toISOString())).toBeNull()
      expect((await reopened.listProjectsForUser(ana.id)).map((p) => [p.name, p.role, p.github_login])).toEqual([
        ['api', 'admin', 'ana-api'],
        ['web', 'member', 'ana-web'],
      ])
      const events = (await reopened.listAudit((await reopened.getProjectByName('api'))!.id)).items
      expect(events.map((e) => [e.type, e.action, e.actor])).toEqual([
        ['member_added', 'member:ana@example.com', 'cli'],
        ['key_created', 'key:first-key', 'cli'],
      ])
    } finally {
      await reopened.close()
    }
    const short = await add('web', [], 'elevenchars')
    expect(short.code).toBe(3)
    expect(short.stderr).toContain('at least 12 characters')
  }, 60_000)
})
