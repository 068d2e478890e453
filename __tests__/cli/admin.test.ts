/** Admin commands against a data dir while `serve` runs: projects, keys, users, audit; help and bad flags. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { runCli, startServe, stop, type CliProcess } from './helpers.js'

let dir: string
let data: string
let serve: CliProcess
let url: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-cli-'))
  data = join(dir, 'data')
  const started = await startServe(data)
  serve = started.process
  url = started.url
})
afterAll(async () => {
  if (serve) await stop(serve)
  await rm(dir, { recursive: true, force: true })
})

const api = (path: string, key: string, init: RequestInit = {}) =>
  fetch(`${url}${path}`, { ...init, headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json', ...(init.headers as Record<string, string>) } })

describe('help and usage errors', () => {
  it('prints help for every command with exit 0', async () => {
    const overview = await runCli(['--help'])
    expect(overview.code).toBe(0)
    const commands = ['serve', 'request', 'decide', 'project create', 'keys create', 'keys list', 'keys revoke', 'user add', 'audit export', 'audit verify']
    for (const command of commands) expect(overview.stdout).toContain(command)
    const helps = await Promise.all(commands.map((command) => runCli([...command.split(' '), '--help'])))
    helps.forEach((help, i) => {
      expect(help.code).toBe(0)
      expect(help.stdout).toContain(`approval-gate ${commands[i]}`)
    })
  })

  it('exits 64 with a clear message for unknown commands, flags and bad values', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['frobnicate'], /unknown command "frobnicate"/],
      [['keys', 'rotate'], /unknown command "keys rotate"/],
      [['keys', 'create', '--bogus'], /Unknown option '--bogus'/],
      [['keys', 'create', '--project', 'default', '--data', data], /--scope is required/],
      [['keys', 'create', '--project', 'default', '--scope', 'root', '--data', data], /unknown scope "root"/],
      [['serve', '--port', 'eighty'], /--port must be a number/],
      [['request'], /missing argument/],
      [['request', 'deploy', '--context', '[1]'], /--context must be a JSON object/],
      [['request', 'deploy', '--context', '{oops'], /--context is not valid JSON/],
      [['request', 'deploy', '--timeout', 'soon'], /--timeout: "soon" is not a duration/],
      [['decide', 'apr_x', 'maybe'], /must be "approve" or "reject"/],
      [['audit', 'export', '--project', 'default', '--format', 'xlsx', '--data', data], /--format must be ndjson or csv/],
    ]
    const results = await Promise.all(cases.map(([args]) => runCli(args)))
    results.forEach((result, i) => {
      expect({ args: cases[i][0], code: result.code }).toEqual({ args: cases[i][0], code: 64 })
      expect(result.stderr).toMatch(cases[i][1])
      expect(result.stderr).toContain('--help')
    })
  })

  it('exits 3 when the data dir has no database', async () => {
    const result = await runCli(['keys', 'list', '--project', 'default', '--data', join(dir, 'typo')])
    expect(result.code).toBe(3)
    expect(result.stderr).toContain('no approval-gate database')
  })
})

describe('projects and keys while the server runs', () => {
  it('project create --json gives a project and a working request key', async () => {
    const created = await runCli(['project', 'create', 'payments', '--data', data, '--json'])
    expect(created.code).toBe(0)
    const out = JSON.parse(created.stdout)
    expect(out.project).toMatchObject({ id: expect.stringMatching(/^prj_/), name: 'payments' })
    expect(out.api_key).toMatch(/^agk_/)
    const response = await api('/v1/approvals', out.api_key, { method: 'POST', body: JSON.stringify({ action: 'refund' }) })
    expect(response.status).toBe(201)
    const duplicate = await runCli(['project', 'create', 'payments', '--data', data])
    expect(duplicate.code).toBe(3)
    expect(duplicate.stderr).toContain('already exists')
  })

  it('keys create works at once, keys list shows it, keys revoke makes it 401 at once', async () => {
    const created = await runCli(['keys', 'create', '--project', 'default', '--scope', 'decide,request', '--scope', 'decide', '--name', 'release-bot', '--data', data, '--json'])
    expect(created.code).toBe(0)
    const out = JSON.parse(created.stdout)
    expect(out).toMatchObject({ api_key: expect.stringMatching(/^agk_/), id: expect.stringMatching(/^key_/), name: 'release-bot', scopes: ['decide', 'request'] })
    expect((await api('/v1/audit/verify', out.api_key)).status).toBe(200)

    const listed = await runCli(['keys', 'list', '--project', 'default', '--data', data, '--json'])
    const keys = JSON.parse(listed.stdout)
    expect(keys.map((k: { id: string }) => k.id)).toContain(out.id)
    expect(listed.stdout).not.toContain(out.api_key)
    const human = await runCli(['keys', 'list', '--project', 'default', '--data', data])
    expect(human.stdout).toContain('release-bot')

    const revoked = await runCli(['keys', 'revoke', '--project', 'default', out.id, '--data', data])
    expect(revoked.code).toBe(0)
    const refused = await api('/v1/audit/verify', out.api_key)
    expect(refused.status).toBe(401)
    const again = await runCli(['keys', 'revoke', '--project', 'default', out.id, '--data', data])
    expect(again.code).toBe(0)
    expect(again.stdout).toContain('already revoked')
    const unknown = await runCli(['keys', 'revoke', '--project', 'default', 'key_nope', '--data', data])
    expect(unknown.code).toBe(3)
    const wrongProject = await runCli(['keys', 'list', '--project', 'nope', '--data', data])
    expect(wrongProject.code).toBe(3)
    expect(wrongProject.stderr).toContain('no project named "nope"')
  })

  it('user add reads the password from stdin and refuses short ones', async () => {
    const added = await runCli(['user', 'add', 'ana@example.com', '--project', 'default', '--admin', '--github', 'ana-gh', '--password-stdin', '--data', data], {
      input: 'correct horse battery staple\n',
    })
    expect(added.code).toBe(0)
    expect(added.stdout).toContain('Added ana@example.com as admin of default (GitHub in default: ana-gh)')
    const db = new DatabaseSync(join(data, 'approval-gate.db'), { readOnly: true })
    try {
      const row = db.prepare('SELECT password_hash FROM users WHERE email = ?').get('ana@example.com') as { password_hash: string }
      expect(row.password_hash).toMatch(/^scrypt\$/)
      expect(row.password_hash).not.toContain('horse')
      const membership = db.prepare('SELECT memberships.github_login FROM memberships JOIN users ON users.id = memberships.user_id WHERE users.email = ?').get('ana@example.com') as { github_login: string }
      expect(membership.github_login).toBe('ana-gh')
    } finally {
      db.close()
    }
    const short = await runCli(['user', 'add', 'bo@example.com', '--project', 'default', '--password-stdin', '--data', data], { input: 'short\n' })
    expect(short.code).toBe(3)
    expect(short.stderr).toContain('at least 12 characters')
    const noFlag = await runCli(['user', 'add', 'bo@example.com', '--project', 'default', '--data', data])
    expect(noFlag.code).toBe(64)
  })
})

describe('audit', () => {
  it('exports and verifies; a tampered trail exits 1 naming the seq', async () => {
    const created = await runCli(['project', 'create', 'audited', '--data', data, '--json'])
    const { api_key } = JSON.parse(created.stdout)
    for (const action of ['=cmd|calc', 'deploy']) {
      expect((await api('/v1/approvals', api_key, { method: 'POST', body: JSON.stringify({ action }) })).status).toBe(201)
    }
    const ndjson = await runCli(['audit', 'export', '--project', 'audited', '--data', data])
    expect(ndjson.code).toBe(0)
    expect(ndjson.stdout.trim().split('\n').map((l) => JSON.parse(l).seq)).toEqual([1, 2, 3]) // key_created, then the two requests
    const csv = await runCli(['audit', 'export', '--project', 'audited', '--format', 'csv', '--data', data])
    expect(csv.stdout).toContain("'=cmd|calc")

    const ok = await runCli(['audit', 'verify', '--project', 'audited', '--data', data])
    expect(ok.code).toBe(0)
    expect(ok.stdout).toContain('intact (3 events')

    const db = new DatabaseSync(join(data, 'approval-gate.db'))
    try {
      for (const { name } of db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'").all() as Array<{ name: string }>) {
        db.exec(`DROP TRIGGER "${name}"`)
      }
      db.prepare("UPDATE audit_events SET action = 'harmless' WHERE seq = 2 AND project_id = (SELECT id FROM projects WHERE name = 'audited')").run()
    } finally {
      db.close()
    }
    const tampered = await runCli(['audit', 'verify', '--project', 'audited', '--data', data])
    expect(tampered.code).toBe(1)
    expect(tampered.stdout).toContain('TAMPERED')
    expect(tampered.stdout).toContain('seq 2')
    const json = await runCli(['audit', 'verify', '--project', 'audited', '--data', data, '--json'])
    expect(JSON.parse(json.stdout)).toMatchObject({ ok: false, seq: 2 })
  })
})
