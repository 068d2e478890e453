/** `trust add|list|remove` against a data dir while `serve` runs: a rule works at once, and its removal refuses at once. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { TestIssuer } from '../helpers/oidc-issuer.js'
import { runCli, startServe, stop, type CliProcess } from './helpers.js'

let dir: string
let data: string
let serve: CliProcess
let url: string
let issuer: TestIssuer

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-cli-trust-'))
  data = join(dir, 'data')
  issuer = await TestIssuer.start()
  const started = await startServe(data)
  serve = started.process
  url = started.url
})
afterAll(async () => {
  if (serve) await stop(serve)
  await issuer?.close()
  await rm(dir, { recursive: true, force: true })
})

const create = (token: string) =>
  fetch(`${url}/v1/approvals`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ action: 'deploy' }) })

describe('trust rules from the CLI', () => {
  it('trust add works at once, trust list shows it, trust remove refuses its workflows at once', async () => {
    const token = await issuer.mint({}, { audience: url })
    const before = await create(token)
    expect(before.status).toBe(401)
    expect(((await before.json()) as { error: { code: string } }).error.code).toBe('oidc_untrusted')

    const added = await runCli(['trust', 'add', '--project', 'default', '--issuer', issuer.url, '--audience', url, '--repository', 'acme/web', '--ref', 'refs/heads/main', '--data', data, '--json'])
    expect(added.code).toBe(0)
    const rule = JSON.parse(added.stdout)
    expect(rule).toMatchObject({ id: expect.stringMatching(/^trs_/), issuer: issuer.url, audience: url, repository: 'acme/web', ref: 'refs/heads/main', environment: null })
    expect((await create(token)).status).toBe(201)

    const listed = await runCli(['trust', 'list', '--project', 'default', '--data', data])
    expect(listed.code).toBe(0)
    expect(listed.stdout).toContain(`${rule.id}  repository acme/web, ref refs/heads/main (issuer ${issuer.url}, audience ${url})`)

    const removed = await runCli(['trust', 'remove', '--project', 'default', rule.id, '--data', data])
    expect(removed.code).toBe(0)
    expect((await create(token)).status).toBe(401)
    expect((await runCli(['trust', 'remove', '--project', 'default', rule.id, '--data', data])).code).not.toBe(0)
  })

  it('refuses bad flags with exit 64 and a clear message', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['trust', 'add', '--project', 'default', '--repository', 'acme/web'], /--audience is required/],
      [['trust', 'add', '--project', 'default', '--audience', 'https://x', '--repository', 'acme'], /--repository is required, as owner\/repo/],
      [['trust', 'add', '--project', 'default', '--audience', 'https://x', '--repository', 'a/b', '--issuer', 'http://issuer.example.com'], /--issuer must use https/],
    ]
    for (const [args, message] of cases) {
      const result = await runCli([...args, '--data', data])
      expect(result.code).toBe(64)
      expect(result.stderr).toMatch(message)
    }
  })
})
