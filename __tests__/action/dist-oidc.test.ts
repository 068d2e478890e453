/**
 * Keyless gating from the committed bundle: `dist/index.js` as a real process with the
 * runner's token-request variables pointing at a local issuer's token endpoint, against a
 * real server that trusts that issuer. No API key anywhere.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServer, type RunningServer } from '../../src/server/server.js'
import type { Project } from '../../src/server/store/types.js'
import { TestIssuer } from '../helpers/oidc-issuer.js'
import { call, createKey } from '../server/helpers.js'
import { createRunnerFiles, inputEnv, readOutputs, RUNNER_ENV, runAction, startAction, until } from './run-action.js'

let dataDir: string
let server: RunningServer
let project: Project
let issuer: TestIssuer
let decideKey: string

beforeAll(async () => {
  dataDir = await mkdtemp(join(tmpdir(), 'approval-gate-dist-oidc-'))
  server = await startServer({ dataDir, port: 0 })
  project = await server.store.createProject('main')
  decideKey = await createKey(server.store, project.id, ['decide'], 'deployer')
  issuer = await TestIssuer.start()
  issuer.tokenClaims = { repository: 'octo/shop', repository_owner: 'octo', ref: 'refs/heads/main', actor: 'mona', triggering_actor: 'mona', run_id: '987654' }
  await server.store.createTrustRule({ project_id: project.id, issuer: issuer.url, audience: new URL(server.url).origin, repository: 'octo/shop', ref: 'refs/heads/main' })
}, 30_000)

afterAll(async () => {
  await server?.close()
  await issuer?.close()
  await rm(dataDir, { recursive: true, force: true })
})

describe('the action with the workflow\'s OIDC token (dist/index.js)', () => {
  it('gates with no stored secret: the token is asked for the API URL\'s origin, never logged, and the card carries the verified claims', async () => {
    const files = createRunnerFiles()
    try {
      const running = startAction(files, {
        ...RUNNER_ENV,
        ...inputEnv({ action: 'keyless-deploy', 'api-url': server.url, timeout: '2m' }),
        ACTIONS_ID_TOKEN_REQUEST_URL: issuer.tokenRequestUrl,
        ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-token',
      })
      await until(() => /\/approvals\/(apr_[A-Za-z0-9_-]+)/.test(running.stdout()), 'the approval link', 20_000)
      const id = /\/approvals\/(apr_[A-Za-z0-9_-]+)/.exec(running.stdout())![1]
      const stored = await server.store.getApproval(project.id, id)
      expect(stored?.requested_by).toBe('oidc:octo/shop@refs/heads/main')
      expect(stored?.requester_claims).toMatchObject({ issuer: issuer.url, repository: 'octo/shop', actor: 'mona' })
      const decided = await call(server.url, 'POST', `/v1/approvals/${id}/decision`, { key: decideKey, json: { decision: 'approve', reason: 'ok' } })
      expect(decided.status).toBe(200)

      const result = await running.done
      expect(result.code).toBe(0)
      expect(readOutputs(files)).toMatchObject({ 'approval-id': id, decision: 'approved' })
      expect(issuer.tokenAudiences[0]).toBe(new URL(server.url).origin)
      // The token was masked (::add-mask::) before use and never printed otherwise.
      const jwt = /eyJ[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+/
      expect(result.stdout.split('\n').filter((line) => jwt.test(line) && !line.startsWith('::add-mask::'))).toEqual([])
      expect(result.stdout).toMatch(/^::add-mask::eyJ/m)
      expect(result.stderr).not.toMatch(jwt)
    } finally {
      files.remove()
    }
  }, 60_000)

  it('without a key or a runner token, fails before any request, saying how to add permissions: id-token: write', async () => {
    const files = createRunnerFiles()
    try {
      const before = (await server.store.listApprovals(project.id)).items.length
      const result = await runAction(files, { ...RUNNER_ENV, ...inputEnv({ action: 'keyless-deploy', 'api-url': server.url }) })
      expect(result.code).not.toBe(0)
      expect(result.stdout).toMatch(/permissions: id-token: write/)
      expect((await server.store.listApprovals(project.id)).items.length).toBe(before)
    } finally {
      files.remove()
    }
  }, 30_000)
})
