/** `trust add|list|remove` against a data dir while `serve` runs: a rule works at once, and its removal refuses at once. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { TestIssuer } from '../helpers/oidc-issuer.js'
import { writeFile } from 'node:fs/promises'
import { runCli, startCli, startServe, stop, type CliProcess } from './helpers.js'

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

  it('request --oidc-token-file and APPROVAL_GATE_OIDC_TOKEN gate as the CI job, without a key', async () => {
    const added = await runCli(['trust', 'add', '--project', 'default', '--issuer', issuer.url, '--audience', url, '--repository', 'acme/web', '--data', data, '--json'])
    expect(added.code).toBe(0)
    const decider = JSON.parse((await runCli(['keys', 'create', '--project', 'default', '--scope', 'decide', '--name', 'cli-approver', '--data', data, '--json'])).stdout).api_key as string
    const tokenFile = join(dir, 'id_token')
    await writeFile(tokenFile, `${await issuer.mint({ actor: 'gitlab-user' }, { audience: url })}\n`)

    for (const auth of [['--oidc-token-file', tokenFile], []]) {
      const env = auth.length === 0 ? { APPROVAL_GATE_OIDC_TOKEN: await issuer.mint({}, { audience: url }) } : undefined
      const gate = startCli(['request', 'keyless-cli', '--api-url', url, '--timeout', '2m', ...auth], { env })
      await gate.waitFor(/approvals\/(apr_[A-Za-z0-9_-]+)/)
      const id = /approvals\/(apr_[A-Za-z0-9_-]+)/.exec(gate.stdout() + gate.stderr())![1]
      const decided = await fetch(`${url}/v1/approvals/${id}/decision`, {
        method: 'POST',
        headers: { authorization: `Bearer ${decider}`, 'content-type': 'application/json' },
        body: JSON.stringify({ decision: 'approve' }),
      })
      expect(decided.status).toBe(200)
      const result = await gate.done
      expect(result.code).toBe(0)
      expect(result.stdout.trim()).toBe(id)
    }

    const missingUrl = await runCli(['request', 'x', '--oidc-token-file', tokenFile])
    expect(missingUrl.code).toBe(64)
    expect(missingUrl.stderr).toMatch(/--api-url .* is required with an OIDC token/)
    const both = await runCli(['request', 'x', '--api-url', url, '--api-key', 'agk_x', '--oidc-token-file', tokenFile])
    expect(both.code).toBe(64)
  })
})
