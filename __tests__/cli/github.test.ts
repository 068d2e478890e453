/**
 * `github map|list|unmap` on a data dir (each change in the project's audit trail, bad input
 * refused with what is wrong and nothing changed), and `serve`'s GitHub App flags refusing an
 * incomplete or unusable configuration before it starts.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { generateKeyPairSync } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDataDir } from '../../src/server/server.js'
import { runCli } from './helpers.js'

let dir: string
let data: string

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-cli-github-'))
  data = join(dir, 'data')
  for (const name of ['web', 'ops']) expect((await runCli(['project', 'create', name, '--data', data])).code).toBe(0)
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('github map, list and unmap', () => {
  it('maps, lists and unmaps, each change recorded in the audit trail', async () => {
    const mapped = await runCli(['github', 'map', '--project', 'web', '--repository', 'acme/web', '--environment', 'production', '--installation', '77', '--data', data, '--json'])
    expect(mapped.code).toBe(0)
    const mapping = JSON.parse(mapped.stdout)
    expect(mapping).toMatchObject({ id: expect.stringMatching(/^ghm_/), repository: 'acme/web', environment: 'production', installation_id: '77' })

    const listed = await runCli(['github', 'list', '--project', 'web', '--data', data])
    expect(listed.stdout).toContain(`${mapping.id}  repository acme/web, environment production, installation 77`)
    expect((await runCli(['github', 'list', '--project', 'ops', '--data', data])).stdout).toContain('Project ops gates no GitHub repositories.')

    const unmapped = await runCli(['github', 'unmap', '--project', 'web', mapping.id, '--data', data])
    expect(unmapped.code).toBe(0)
    expect(unmapped.stdout).toContain(`Unmapped repository acme/web, environment production, installation 77 (${mapping.id}).`)
    expect(JSON.parse((await runCli(['github', 'list', '--project', 'web', '--data', data, '--json'])).stdout)).toEqual([])

    const store = await openDataDir(data)
    try {
      const project = await store.getProjectByName('web')
      const events = (await store.listAudit(project!.id)).items.filter((event) => event.type.startsWith('github_'))
      expect(events.map((event) => [event.type, event.action, event.actor])).toEqual([
        ['github_unmapped', 'github:acme/web', 'cli'],
        ['github_mapped', 'github:acme/web', 'cli'],
      ])
      expect((await store.verifyAudit(project!.id)).ok).toBe(true)
    } finally {
      await store.close()
    }
  })

  it('refuses bad input, a repository another project already gates, and unknown ids, changing nothing', async () => {
    expect((await runCli(['github', 'map', '--project', 'web', '--repository', 'acme/shared', '--data', data])).code).toBe(0)
    const taken = await runCli(['github', 'map', '--project', 'ops', '--repository', 'ACME/shared', '--data', data])
    expect(taken.code).not.toBe(0)
    expect(taken.stderr).toContain('repository ACME/shared, every environment, any installation is already mapped')

    const missing = await runCli(['github', 'map', '--project', 'ops', '--data', data])
    expect(missing.stderr).toContain('--repository is required')
    const bad = await runCli(['github', 'map', '--project', 'ops', '--repository', 'not a repo', '--data', data])
    expect(bad.stderr).toContain('repository must be owner/repo')
    const badInstallation = await runCli(['github', 'map', '--project', 'ops', '--repository', 'acme/ops', '--installation', 'abc', '--data', data])
    expect(badInstallation.stderr).toContain('installation must be a GitHub App installation id')
    expect(JSON.parse((await runCli(['github', 'list', '--project', 'ops', '--data', data, '--json'])).stdout)).toEqual([])

    const unknown = await runCli(['github', 'unmap', '--project', 'ops', 'ghm_nope', '--data', data])
    expect(unknown.code).not.toBe(0)
    expect(unknown.stderr).toContain('project ops has no GitHub mapping "ghm_nope"')
  })
})

describe('github list and the answers to GitHub', () => {
  it('shows the newest gated deployments and whether GitHub was answered, on one line each, of this project only', async () => {
    expect((await runCli(['project', 'create', 'deploys', '--data', data])).code).toBe(0)
    const store = await openDataDir(data)
    const ids: Record<string, string> = {}
    try {
      const project = (await store.getProjectByName('deploys'))!
      const at = (minute: number) => `2026-03-01T10:${String(minute).padStart(2, '0')}:00.000Z`
      for (const [index, name] of ['waiting', 'answered', 'retrying', 'failed'].entries()) {
        const { approval } = await store.createApproval({ project_id: project.id, action: 'deploy:production', context: {}, agent: null, expires_at: new Date(Date.now() + 3_600_000).toISOString(), idempotency_key: null, requested_by: 'github-app' })
        ids[name] = approval.id
        await store.createGithubGate({ approval_id: approval.id, project_id: project.id, delivery_id: `d-${name}`, installation_id: '77', repository: 'acme/deploys', environment: name === 'failed' ? 'staging' : 'production', run_id: String(500 + index), at: at(index) })
        if (name !== 'waiting') await store.decideApproval(project.id, approval.id, { decision: 'approve', reason: null, decided_by: 'ana@example.com' })
      }
      await store.recordGithubCallbackAttempt(ids.answered, { callback: 'done', at: at(10), error: null })
      // GitHub's text is untrusted: a line break and an escape sequence must not reach the terminal as such.
      await store.recordGithubCallbackAttempt(ids.retrying, { callback: 'pending', at: at(11), next_attempt_at: at(12), error: 'HTTP 502: down\n\u001b[31mforged line' })
      await store.recordGithubCallbackAttempt(ids.failed, { callback: 'failed', at: at(13), error: 'HTTP 422: not waiting' })
    } finally {
      await store.close()
    }

    const listed = await runCli(['github', 'list', '--project', 'deploys', '--data', data])
    expect(listed.code).toBe(0)
    const lines = listed.stdout.split('\n')
    const recent = lines.slice(lines.indexOf('Recent deployments (newest first):') + 1).filter(Boolean)
    expect(recent).toEqual([
      `${ids.failed}  acme/deploys  environment staging  run 503  GitHub could not be answered: HTTP 422: not waiting`,
      `${ids.retrying}  acme/deploys  environment production  run 502  answering GitHub: attempt 1 failed: HTTP 502: down [31mforged line, retrying at 2026-03-01T10:12:00.000Z`,
      `${ids.answered}  acme/deploys  environment production  run 501  GitHub answered at 2026-03-01T10:10:00.000Z`,
      `${ids.waiting}  acme/deploys  environment production  run 500  GitHub waits for this decision`,
    ])
    expect(listed.stdout).not.toContain('\u001b')
    // Another project lists none of them; --json keeps its shape (the mappings only).
    expect((await runCli(['github', 'list', '--project', 'ops', '--data', data])).stdout).not.toContain('acme/deploys')
    expect(JSON.parse((await runCli(['github', 'list', '--project', 'deploys', '--data', data, '--json'])).stdout)).toEqual([])
  })
})

describe('serve with the GitHub App flags', () => {
  it('names what is missing or unusable and does not start', async () => {
    const serveData = join(dir, 'serve-data')
    const partial = await runCli(['serve', '--port', '0', '--data', serveData, '--github-app-id', '12'])
    expect(partial.code).not.toBe(0)
    expect(partial.stderr).toContain('the GitHub App also needs --github-app-key-file and --github-webhook-secret-file')

    const secretFile = join(dir, 'secret')
    const keyFile = join(dir, 'key.pem')
    await writeFile(secretFile, 'short')
    await writeFile(keyFile, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }) as string)
    const flags = ['serve', '--port', '0', '--data', serveData, '--github-app-id', '12', '--github-app-key-file', keyFile, '--github-webhook-secret-file', secretFile]
    const shortSecret = await runCli(flags)
    expect(shortSecret.stderr).toContain('webhook secret must be at least 16 characters')

    await writeFile(secretFile, 'a long enough webhook secret')
    const badUrl = await runCli([...flags, '--github-api-url', 'ftp://ghe.example.com'])
    expect(badUrl.stderr).toContain('the GitHub API URL must start with https://')
    const notAKey = await runCli([...flags.slice(0, -3), join(dir, 'secret'), '--github-webhook-secret-file', secretFile])
    expect(notAKey.stderr).toContain('the GitHub App private key is not a PEM private key')
    const unreadable = await runCli([...flags.slice(0, -3), join(dir, 'missing.pem'), '--github-webhook-secret-file', secretFile])
    expect(unreadable.stderr).toContain(`cannot read the GitHub App private key file ${join(dir, 'missing.pem')}`)
  })
})
