/**
 * Keyless requests from workflows: bearer JWTs verified against a real local OIDC issuer
 * (discovery document + JWKS on loopback) and matched against trust rules, through the real
 * server. Every refusal is a 401 with its code, and creates nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ApprovalsClient } from '../../src/client/index.js'
import { startServer, type RunningServer } from '../../src/server/server.js'
import type { Project, Store } from '../../src/server/store/types.js'
import { approvalCard } from '../../src/server/dashboard/views/approval-card.js'
import { ADMIN, FormClient, startDashboard } from '../dashboard/fixture.js'
import { TestIssuer } from '../helpers/oidc-issuer.js'
import { call, createKey } from './helpers.js'

const AUDIENCE = 'https://gate.example.test'

describe('workflow identities (OIDC bearer tokens)', () => {
  let dataDir: string
  let server: RunningServer
  let store: Store
  let project: Project
  let issuer: TestIssuer
  let unnamed: TestIssuer
  let decideKey: string

  beforeAll(async () => {
    dataDir = await mkdtemp(join(tmpdir(), 'approval-gate-oidc-'))
    // cooldown 0: a rotated key is fetched at once; a short fetch timeout keeps the "hang" case quick.
    server = await startServer({ dataDir, port: 0, publicUrl: 'https://gate.example.test/', oidc: { cooldownMs: 0, timeoutMs: 1_000 } })
    store = server.store
    project = await store.createProject('main')
    decideKey = await createKey(store, project.id, ['decide'], 'decider')
    issuer = await TestIssuer.start()
    unnamed = await TestIssuer.start()
    await store.createTrustRule({ project_id: project.id, issuer: issuer.url, audience: AUDIENCE, repository: 'acme/web', ref: 'refs/heads/main' })
    await store.createTrustRule({ project_id: project.id, issuer: issuer.url, audience: AUDIENCE, repository: 'acme/api', environment: 'production' })
  })

  afterAll(async () => {
    await server?.close()
    await issuer?.close()
    await unnamed?.close()
    await rm(dataDir, { recursive: true, force: true })
  })

  async function create(token: string, action = 'deploy production') {
    return call(server.url, 'POST', '/v1/approvals', { key: token, json: { action, context: { github: { actor: 'someone-else' } } } })
  }

  async function count(): Promise<number> {
    return (await store.listApprovals(project.id, { limit: 200 })).items.length
  }

  async function expectRefused(token: string, code: 'oidc_invalid' | 'oidc_untrusted', message: RegExp) {
    const before = await count()
    const response = await create(token)
    expect(response.status).toBe(401)
    expect(response.body.error.code).toBe(code)
    expect(response.body.error.message).toMatch(message)
    expect(await count()).toBe(before)
  }

  it('creates an approval for a trusted workflow, recording its verified claims apart from the context', async () => {
    const token = await issuer.mint({ actor: 'octocat', triggering_actor: 'hubot' })
    const response = await create(token)
    expect(response.status).toBe(201)
    expect(response.body.requester).toEqual({
      issuer: issuer.url,
      repository: 'acme/web',
      ref: 'refs/heads/main',
      sha: 'a'.repeat(40),
      workflow_ref: 'acme/web/.github/workflows/deploy.yml@refs/heads/main',
      run_id: '4242',
      run_attempt: '1',
      actor: 'octocat',
      triggering_actor: 'hubot',
      environment: null,
      event_name: 'push',
    })
    expect(response.body.context).toEqual({ github: { actor: 'someone-else' } })
    const stored = await store.getApproval(project.id, response.body.id)
    expect(stored?.requested_by).toBe('oidc:acme/web@refs/heads/main')
    expect(stored?.requested_by_key_id).toBeNull()
    const audit = await store.listAudit(project.id)
    expect(audit.items[0]).toMatchObject({ type: 'created', approval_id: response.body.id, actor: 'oidc:acme/web@refs/heads/main' })

    // The core takes the token where it takes a key, and reads the verified requester.
    const client = new ApprovalsClient({ apiUrl: server.url, apiKey: token })
    expect((await client.get(response.body.id)).requester).toMatchObject({ repository: 'acme/web', actor: 'octocat', environment: null })

    // The same token reads it, but has the request scope only: it cannot decide.
    expect((await call(server.url, 'GET', `/v1/approvals/${response.body.id}`, { key: token })).body.requester.actor).toBe('octocat')
    const decide = await call(server.url, 'POST', `/v1/approvals/${response.body.id}/decision`, { key: token, json: { decision: 'approve' } })
    expect(decide.status).toBe(403)
    expect(decide.body.error.code).toBe('forbidden')
    expect((await store.getApproval(project.id, response.body.id))?.status).toBe('pending')
  })

  it('takes a fresh token from the core\'s bearer provider before each request', async () => {
    let asked = 0
    const client = new ApprovalsClient({
      apiUrl: server.url,
      apiKey: await issuer.mint(),
      bearer: async () => {
        asked++
        return issuer.mint({ run_id: '99' })
      },
    })
    const created = await client.create({ action: 'fresh tokens' })
    expect((await client.get(created.id)).requester?.run_id).toBe('99')
    expect(asked).toBe(2)
  })

  it('lets a workflow withdraw the requests of its own run only', async () => {
    const mine = await create(await issuer.mint({ run_id: '7' }), 'withdraw me')
    const otherRun = await issuer.mint({ run_id: '8' })
    const refused = await call(server.url, 'POST', `/v1/approvals/${mine.body.id}/cancel`, { key: otherRun, json: {} })
    expect(refused.status).toBe(403)
    expect(refused.body.error.code).toBe('forbidden')
    const byKey = await create(await issuer.mint({ run_id: '7' }), 'keyed')
    expect(byKey.status).toBe(201)
    const own = await call(server.url, 'POST', `/v1/approvals/${mine.body.id}/cancel`, { key: await issuer.mint({ run_id: '7' }), json: {} })
    expect(own.status).toBe(200)
    expect(own.body.status).toBe('cancelled')
  })

  it('refuses a forged signature', async () => {
    await expectRefused(await issuer.mint({}, { privateKey: await TestIssuer.foreignKey() }), 'oidc_invalid', /signature/)
  })

  it('re-reads the keys on an unknown kid: a rotated key works, a never-published kid does not', async () => {
    expect((await create(await issuer.mint())).status).toBe(201)
    const jwksReads = issuer.requests.filter((path) => path === '/.well-known/jwks').length
    await issuer.rotate()
    expect((await create(await issuer.mint())).status).toBe(201)
    expect(issuer.requests.filter((path) => path === '/.well-known/jwks').length).toBeGreaterThan(jwksReads)
    await expectRefused(await issuer.mint({}, { kid: 'never-published' }), 'oidc_invalid', /kid/)
  })

  it('refuses a wrong audience, an expired token and one issued in the future', async () => {
    await expectRefused(await issuer.mint({}, { audience: 'https://elsewhere.example.com' }), 'oidc_invalid', /audience/)
    await expectRefused(await issuer.mint({}, { expiresIn: -120 }), 'oidc_invalid', /expired/)
    await expectRefused(await issuer.mint({}, { issuedAt: 600, expiresIn: 900 }), 'oidc_invalid', /future|not valid yet/)
  })

  it('refuses alg none and HS256 signed with the public key', async () => {
    await expectRefused(issuer.unsigned(), 'oidc_invalid', /algorithm "none"/)
    await expectRefused(issuer.hmacWithPublicKey(), 'oidc_invalid', /algorithm "HS256"/)
  })

  it('refuses untrusted repositories, refs and environments, naming the claim', async () => {
    await expectRefused(await issuer.mint({ repository: 'acme/other' }), 'oidc_untrusted', /repository "acme\/other"/)
    await expectRefused(await issuer.mint({ ref: 'refs/heads/feature' }), 'oidc_untrusted', /requires ref "refs\/heads\/main"; the token's ref is "refs\/heads\/feature"/)
    await expectRefused(await issuer.mint({ repository: 'acme/api', environment: 'staging' }), 'oidc_untrusted', /requires environment "production"; the token's environment is "staging"/)
    await expectRefused(await issuer.mint({ repository: 'acme/api' }), 'oidc_untrusted', /environment is missing/)
    expect((await create(await issuer.mint({ repository: 'ACME/api', environment: 'production' }))).status).toBe(201)
  })

  it('reads GitLab-shaped tokens (project_path, bare ref) in GitHub terms', async () => {
    const gitlab = await TestIssuer.start()
    try {
      await store.createTrustRule({ project_id: project.id, issuer: gitlab.url, audience: AUDIENCE, repository: 'group/app', ref: 'refs/heads/main' })
      const claims = { repository: undefined, project_path: 'group/app', ref: 'main', ref_type: 'branch', pipeline_id: '77', user_login: 'gitlab-dev', pipeline_source: 'push', ci_config_ref_uri: 'gitlab.example.com/group/app//.gitlab-ci.yml@refs/heads/main' }
      const created = await create(await gitlab.mint(claims))
      expect(created.status).toBe(201)
      expect(created.body.requester).toMatchObject({ repository: 'group/app', ref: 'refs/heads/main', run_id: '77', actor: 'gitlab-dev', event_name: 'push' })
      await expectRefused(await gitlab.mint({ ...claims, ref: 'feature' }), 'oidc_untrusted', /requires ref "refs\/heads\/main"; the token's ref is "refs\/heads\/feature"/)
    } finally {
      await gitlab.close()
    }
  })

  it('never contacts an issuer no trust rule names', async () => {
    await expectRefused(await unnamed.mint(), 'oidc_untrusted', /no trust rule names the issuer/)
    // A token naming the trusted issuer's URL but signed by the unnamed one fails its signature check.
    await expectRefused(await unnamed.mint({}, { issuer: issuer.url, kid: issuer.kid }), 'oidc_invalid', /signature/)
    expect(unnamed.requests).toEqual([])
  })

  it('answers oidc_invalid, bounded in time, when the issuer is down or never answers', async () => {
    const down = await TestIssuer.start()
    const hanging = await TestIssuer.start()
    try {
      await store.createTrustRule({ project_id: project.id, issuer: down.url, audience: AUDIENCE, repository: 'acme/web' })
      await store.createTrustRule({ project_id: project.id, issuer: hanging.url, audience: AUDIENCE, repository: 'acme/web' })
      down.mode = 'down'
      await expectRefused(await down.mint(), 'oidc_invalid', /unreachable/)
      hanging.mode = 'hang'
      hanging.failing = 'discovery'
      await expectRefused(await hanging.mint(), 'oidc_invalid', /unreachable.*no answer within 1000 ms/)
      // Once the issuer is back, the next token works (failures are not cached).
      down.mode = 'ok'
      expect((await create(await down.mint())).status).toBe(201)
    } finally {
      await down.close()
      await hanging.close()
    }
  })

  it('keeps API keys working beside workflow identities', async () => {
    const requestKey = await createKey(store, project.id, ['request'], 'ci')
    const response = await create(requestKey)
    expect(response.status).toBe(201)
    expect(response.body.requester).toBeNull()
    expect((await call(server.url, 'GET', `/v1/approvals/${response.body.id}`, { key: decideKey })).status).toBe(200)
  })
})

describe('verified requester on the dashboard', () => {
  it('refuses, on verified claims, the member whose GitHub login ran the workflow, whatever the context says', async () => {
    const fx = await startDashboard()
    const issuer = await TestIssuer.start()
    try {
      await fx.store.updateProjectSettings(fx.project.id, { blockSelfApproval: true })
      await fx.store.createTrustRule({ project_id: fx.project.id, issuer: issuer.url, audience: AUDIENCE, repository: 'acme/web' })
      const client = new FormClient(fx.url)
      await client.login(ADMIN.email, ADMIN.password)
      const csrf = await client.csrf()
      const approve = (id: string) => client.request('POST', `/approvals/${id}/decision`, { form: { _csrf: csrf, decision: 'approve' }, headers: { accept: 'application/json' } })

      // The verified triggering actor is the member; the context claims someone else.
      const ran = await call(fx.url, 'POST', '/v1/approvals', {
        key: await issuer.mint({ actor: 'someone-else', triggering_actor: ADMIN.github.toUpperCase() }),
        json: { action: 'deploy', context: { github: { actor: 'someone-else', triggering_actor: 'someone-else' } } },
      })
      expect(ran.status).toBe(201)
      const refused = await approve(ran.body.id)
      expect(refused.status).toBe(403)
      expect(JSON.parse(refused.text)).toMatchObject({ result: 'refused', message: expect.stringContaining(ADMIN.github) })
      expect((await fx.store.getApproval(fx.project.id, ran.body.id))?.status).toBe('pending')

      // The page shows the verified claims with their mark.
      const page = await client.request('GET', `/approvals/${ran.body.id}`)
      expect(page.text).toContain('Verified requester')
      expect(page.text).toContain(`✓ verified by ${new URL(issuer.url).host}`)
      expect(page.text.replaceAll('<wbr>', '')).toContain('acme/web/.github/workflows/deploy.yml@refs/heads/main')

      // A context naming the member does not block when the verified actors are others.
      const other = await call(fx.url, 'POST', '/v1/approvals', {
        key: await issuer.mint({ actor: 'someone-else', triggering_actor: 'someone-else' }),
        json: { action: 'deploy', context: { github: { actor: ADMIN.github } } },
      })
      expect((await approve(other.body.id)).status).toBe(200)
      expect((await fx.store.getApproval(fx.project.id, other.body.id))?.status).toBe('approved')
    } finally {
      await fx.close()
      await issuer.close()
    }
  })

  it('marks claims from GitHub "verified by GitHub"', () => {
    const card = approvalCard(
      {
        id: 'apr_x',
        project_id: 'prj_x',
        action: 'deploy',
        context: {},
        agent: null,
        status: 'approved',
        reason: null,
        decided_by: 'alice@example.com',
        decided_at: '2030-01-01T00:00:00.000Z',
        created_at: '2030-01-01T00:00:00.000Z',
        expires_at: '2030-01-01T01:00:00.000Z',
        idempotency_key: null,
        requested_by: 'oidc:acme/web@refs/heads/main',
        requested_by_key_id: null,
        requester_claims: { ...TestIssuer.claims(), issuer: 'https://token.actions.githubusercontent.com', environment: 'production' },
      },
      { csrfToken: 't' },
    ).value
    expect(card).toContain('✓ verified by GitHub')
    expect(card).toContain('production')
  })
})
