/**
 * The GitHub App end to end against GitHub stood in locally: signed deliveries to a real
 * server → a card in the project the repository is mapped to → a decision in the dashboard
 * (or API, or expiry) → the answer posted to the stand-in with the App's installation token.
 * And every way a delivery or a callback can go wrong.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { randomUUID } from 'node:crypto'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { githubAppConfig } from '../../src/server/github/config.js'
import { MAX_WEBHOOK_BYTES } from '../../src/server/github/webhook-route.js'
import { DATABASE_FILE } from '../../src/server/server.js'
import type { Project } from '../../src/server/store/types.js'
import { ADMIN, dashboardsClosedAfterEach, decideViaApi, MEMBER, signedInClient, type DashboardFixture } from '../dashboard/fixture.js'
import { APP_ID, deliver, deploymentPayload, startGithubStandIn, WEBHOOK_SECRET, type GithubStandIn } from '../helpers/github-app-stand-in.js'
import { waitUntil } from '../helpers/wait-until.js'

let github: GithubStandIn
const startDashboard = dashboardsClosedAfterEach()

beforeAll(async () => {
  github = await startGithubStandIn()
})
afterAll(async () => {
  await github.close()
})

/** Log lines the server wrote (JSON, warn and above). */
type LogLine = Record<string, unknown>

async function startApp(options: { privateKeyPem?: string } = {}): Promise<DashboardFixture & { logs: LogLine[] }> {
  github.callbackMode = 'ok'
  const logs: LogLine[] = []
  const fx = await startDashboard({
    github: {
      config: githubAppConfig({ appId: APP_ID, privateKeyPem: options.privateKeyPem ?? github.privateKeyPem, webhookSecret: WEBHOOK_SECRET, apiUrl: github.apiUrl }),
      // Quick retries, so a recovery is seen within the test.
      worker: { retryBaseMs: 50, retryMaxMs: 200, intervalMs: 1000 },
    },
    logger: { level: 'warn', stream: { write: (line: string) => void logs.push(JSON.parse(line) as LogLine) } },
  })
  return Object.assign(fx, { logs })
}

/** A repository name no other test uses (the stand-in's records are shared by the file). */
function newRepository(): string {
  return `acme/web-${randomUUID().slice(0, 8)}`
}

async function mapRepository(fx: DashboardFixture, repository: string, extra: { environment?: string; installation_id?: string; project?: Project } = {}): Promise<void> {
  await fx.store.createGithubMapping({ project_id: (extra.project ?? fx.project).id, repository, environment: extra.environment ?? null, installation_id: extra.installation_id ?? null })
}

async function reviewsOf(repository: string, count = 1) {
  return waitUntil(() => {
    const reviews = github.reviews.filter((review) => review.repository === repository)
    return reviews.length >= count ? reviews : undefined
  }, { what: `${count} answer(s) to GitHub for ${repository}`, timeoutMs: 20_000, intervalMs: 20 })
}

describe('a deployment waiting on a protected environment', () => {
  it('becomes a card in the mapped project; approving it in the dashboard answers GitHub "approved" with who, why and the link', async () => {
    const fx = await startApp()
    const repository = newRepository()
    await mapRepository(fx, repository)
    const delivery = await deliver(fx.url, 'deployment_protection_rule', deploymentPayload({ repository, runId: 31337, sender: 'octocat' }))
    expect(delivery.status).toBe(201)
    const approvalId = delivery.body.approval_id as string

    const approval = await fx.store.getApproval(fx.project.id, approvalId)
    expect(approval).toMatchObject({ status: 'pending', action: 'deploy:production', agent: 'github-app', requested_by: `github:${repository}` })
    expect(approval?.requester_claims).toMatchObject({ issuer: 'github-app', repository, environment: 'production', ref: 'refs/heads/main', run_id: '31337', actor: 'octocat', event_name: 'push' })
    expect(approval?.context).toMatchObject({
      github: { repository, environment: 'production', deployment_id: '5150', run_url: `https://github.com/${repository}/actions/runs/31337` },
      pull_requests: [{ number: 12, title: 'Ship the new checkout', url: `https://github.com/${repository}/pull/12` }],
    })

    const client = await signedInClient(fx, MEMBER)
    const home = await client.request('GET', '/')
    expect(home.text).toContain(`id="card-${approvalId}"`)
    expect(home.text).toContain('✓ verified by GitHub')
    const csrf = await client.csrf()
    const decided = await client.request('POST', `/approvals/${approvalId}/decision`, { form: { decision: 'approve', _csrf: csrf, reason: 'release notes checked' }, headers: { origin: fx.url } })
    expect(decided.status).toBe(303)

    const [review] = await reviewsOf(repository)
    expect(review).toMatchObject({ run_id: '31337', environment_name: 'production', state: 'approved', status: 204 })
    expect(review.comment).toContain(`Approved by ${MEMBER.email}`)
    expect(review.comment).toContain('release notes checked')
    expect(review.comment).toContain(`${fx.url}/approvals/${approvalId}`)
    await waitUntil(async () => (await fx.store.getGithubGateByDelivery(delivery.deliveryId))?.callback === 'done', { what: 'the gate marked done', timeoutMs: 10_000 })
  })

  it('answers "rejected" with the reason when rejected through the API, and once only', async () => {
    const fx = await startApp()
    const repository = newRepository()
    await mapRepository(fx, repository)
    const delivery = await deliver(fx.url, 'deployment_protection_rule', deploymentPayload({ repository }))
    expect(await decideViaApi(fx.url, fx.keys.decide, delivery.body.approval_id as string, 'reject', 'freeze until Monday')).toBe(200)
    const [review] = await reviewsOf(repository)
    expect(review).toMatchObject({ state: 'rejected', status: 204 })
    expect(review.comment).toMatch(/^Rejected by key:deployer in approval-gate: freeze until Monday\n/)
    // Recorded done: the worker sends only gates whose callback is pending, so this was the one answer.
    await waitUntil(async () => (await fx.store.getGithubGateByDelivery(delivery.deliveryId))?.callback === 'done', { what: 'the gate marked done', timeoutMs: 10_000 })
    expect(github.reviews.filter((r) => r.repository === repository)).toHaveLength(1)
  })

  it('answers "rejected" when the request expires without a decision', async () => {
    const fx = await startApp()
    const project = await fx.store.createProject(`expiring-${randomUUID().slice(0, 6)}`, { defaultTimeoutMs: 1000 })
    const repository = newRepository()
    await mapRepository(fx, repository, { project })
    const delivery = await deliver(fx.url, 'deployment_protection_rule', deploymentPayload({ repository }))
    expect(delivery.status).toBe(201)
    const [review] = await reviewsOf(repository)
    expect(review.state).toBe('rejected')
    expect(review.comment).toMatch(/^Rejected: no decision in approval-gate before the request expired/)
    expect((await fx.store.getApproval(project.id, delivery.body.approval_id as string))?.status).toBe('expired')
  })

  it('keeps retrying while GitHub answers 5xx, and answers once it recovers', async () => {
    const fx = await startApp()
    const repository = newRepository()
    await mapRepository(fx, repository)
    const delivery = await deliver(fx.url, 'deployment_protection_rule', deploymentPayload({ repository }))
    github.callbackMode = 'fail'
    expect(await decideViaApi(fx.url, fx.keys.decide, delivery.body.approval_id as string, 'approve')).toBe(200)
    await reviewsOf(repository, 3)
    const gate = await fx.store.getGithubGateByDelivery(delivery.deliveryId)
    expect(gate).toMatchObject({ callback: 'pending', last_error: expect.stringContaining('HTTP 502') })
    expect(fx.logs.some((line) => line.msg === 'GitHub deployment protection rule answer failed; will retry')).toBe(true)

    github.callbackMode = 'ok'
    const reviews = await waitUntil(() => {
      const all = github.reviews.filter((r) => r.repository === repository)
      return all.some((r) => r.status === 204) ? all : undefined
    }, { what: 'a successful answer', timeoutMs: 20_000, intervalMs: 20 })
    expect(reviews.filter((r) => r.status === 204)).toHaveLength(1)
    expect(reviews.every((r) => r.state === 'approved')).toBe(true)
  })

  it('asks GitHub for one installation token and reuses it until it nears expiry', async () => {
    const fx = await startApp()
    const repository = newRepository()
    await mapRepository(fx, repository)
    const before = github.tokensIssued
    for (const runId of [1, 2]) {
      const delivery = await deliver(fx.url, 'deployment_protection_rule', deploymentPayload({ repository, runId }))
      expect(await decideViaApi(fx.url, fx.keys.decide, delivery.body.approval_id as string, 'approve')).toBe(200)
      await reviewsOf(repository, runId)
    }
    expect(github.tokensIssued - before).toBe(1)
  })

  it('cannot answer with a private key GitHub does not know: the JWT is refused and the gate stays open with the error', async () => {
    const fx = await startApp({ privateKeyPem: github.otherPrivateKeyPem })
    const repository = newRepository()
    await mapRepository(fx, repository)
    const refusedBefore = github.refusedTokens.length
    const delivery = await deliver(fx.url, 'deployment_protection_rule', deploymentPayload({ repository }))
    expect(await decideViaApi(fx.url, fx.keys.decide, delivery.body.approval_id as string, 'approve')).toBe(200)
    await waitUntil(() => github.refusedTokens.length > refusedBefore, { what: 'the stand-in refusing the JWT', timeoutMs: 20_000 })
    expect(github.refusedTokens.at(-1)).toMatch(/signature/)
    const gate = await waitUntil(async () => {
      const found = await fx.store.getGithubGateByDelivery(delivery.deliveryId)
      return found && found.attempts > 0 ? found : undefined
    }, { what: 'a failed attempt recorded', timeoutMs: 20_000 })
    expect(gate).toMatchObject({ callback: 'pending', last_error: expect.stringContaining('HTTP 401') })
    expect(github.reviews.filter((r) => r.repository === repository)).toHaveLength(0)
  })
})

describe('a decision edited into the database', () => {
  it('is never reported to GitHub: the gate fails with the integrity problem and the error is logged', async () => {
    const fx = await startApp()
    const repository = newRepository()
    await mapRepository(fx, repository)
    const delivery = await deliver(fx.url, 'deployment_protection_rule', deploymentPayload({ repository }))
    const db = new DatabaseSync(join(fx.dataDir, DATABASE_FILE))
    try {
      db.prepare("UPDATE approvals SET status = 'approved', decided_by = 'mallory@example.com', decided_at = ? WHERE id = ?").run(new Date().toISOString(), delivery.body.approval_id as string)
    } finally {
      db.close()
    }
    const gate = await waitUntil(async () => {
      const found = await fx.store.getGithubGateByDelivery(delivery.deliveryId)
      return found?.callback === 'failed' ? found : undefined
    }, { what: 'the gate failed by the integrity check', timeoutMs: 20_000 })
    expect(gate.last_error).toMatch(/^integrity: /)
    expect(fx.logs.some((line) => line.approval_id === delivery.body.approval_id && String(line.msg).includes('not proven by its audit event'))).toBe(true)
    expect(github.reviews.filter((r) => r.repository === repository)).toHaveLength(0)
  })
})

describe('the project\'s rules apply to GitHub requests', () => {
  it('blocks the deployment\'s sender from approving it when the project blocks self-approval', async () => {
    const fx = await startApp()
    await fx.store.updateProjectSettings(fx.project.id, { blockSelfApproval: true })
    const repository = newRepository()
    await mapRepository(fx, repository)
    // The fixture's admin has the GitHub login alice-gh in this project.
    const delivery = await deliver(fx.url, 'deployment_protection_rule', deploymentPayload({ repository, sender: 'Alice-GH' }))
    const client = await signedInClient(fx, ADMIN)
    const csrf = await client.csrf()
    const refused = await client.request('POST', `/approvals/${delivery.body.approval_id as string}/decision`, { form: { decision: 'approve', _csrf: csrf }, headers: { origin: fx.url } })
    expect(refused.status).toBe(403)
    expect((await fx.store.getApproval(fx.project.id, delivery.body.approval_id as string))?.status).toBe('pending')
    expect(github.reviews.filter((r) => r.repository === repository)).toHaveLength(0)
    await fx.store.cancelApproval(fx.project.id, delivery.body.approval_id as string, { reason: null, by: 'test' })
  })
})

describe('deliveries that create nothing', () => {
  it('refuses a forged or missing signature (401) and a body signed with another secret', async () => {
    const fx = await startApp()
    const repository = newRepository()
    await mapRepository(fx, repository)
    const payload = deploymentPayload({ repository })
    expect((await deliver(fx.url, 'deployment_protection_rule', payload, { secret: 'another secret of enough length' })).status).toBe(401)
    expect((await deliver(fx.url, 'deployment_protection_rule', payload, { signature: 'sha256=' + '0'.repeat(64) })).status).toBe(401)
    expect((await deliver(fx.url, 'deployment_protection_rule', payload, { signature: '' })).status).toBe(401)
    // A valid signature of other bytes: the body was altered in transit.
    const signedOther = await deliver(fx.url, 'deployment_protection_rule', payload, {
      signature: (await import('../../src/server/github/webhook-signature.js')).signWebhookBody(WEBHOOK_SECRET, JSON.stringify({ ...payload, environment: 'staging' })),
    })
    expect(signedOther.status).toBe(401)
    expect(signedOther.body).toMatchObject({ error: { code: 'unauthorized' } })
    expect((await fx.store.listApprovals(fx.project.id)).items).toHaveLength(0)
  })

  it('creates one approval for a replayed delivery id, however many copies arrive at once (the id is stored with the gate)', async () => {
    const fx = await startApp()
    const repository = newRepository()
    await mapRepository(fx, repository)
    const deliveryId = randomUUID()
    const payload = deploymentPayload({ repository })
    const first = await deliver(fx.url, 'deployment_protection_rule', payload, { deliveryId })
    const replays = await Promise.all([1, 2, 3].map(() => deliver(fx.url, 'deployment_protection_rule', payload, { deliveryId })))
    expect(first.status).toBe(201)
    for (const replay of replays) {
      expect([200, 201]).toContain(replay.status)
      expect(replay.body.approval_id).toBe(first.body.approval_id)
    }
    expect((await fx.store.listApprovals(fx.project.id)).items).toHaveLength(1)
    // Durable: the delivery id is stored with the gate, not remembered in memory.
    expect(await fx.store.getGithubGateByDelivery(deliveryId)).toMatchObject({ approval_id: first.body.approval_id })
  })

  it('ignores other events (202) and answers ping', async () => {
    const fx = await startApp()
    expect(await deliver(fx.url, 'ping', { zen: 'Keep it logically awesome.' })).toMatchObject({ status: 200, body: { status: 'pong' } })
    const push = await deliver(fx.url, 'push', { ref: 'refs/heads/main' })
    expect(push).toMatchObject({ status: 202, body: { status: 'ignored' } })
    const otherAction = await deliver(fx.url, 'deployment_protection_rule', { ...deploymentPayload(), action: 'completed' })
    expect(otherAction.status).toBe(202)
    expect((await fx.store.listApprovals(fx.project.id)).items).toHaveLength(0)
  })

  it('answers an unmapped repository, environment or installation 202, logs it clearly and creates nothing', async () => {
    const fx = await startApp()
    const repository = newRepository()
    await mapRepository(fx, repository, { environment: 'production', installation_id: '77' })
    const cases = [
      deploymentPayload({ repository: newRepository() }),
      deploymentPayload({ repository, environment: 'staging' }),
      deploymentPayload({ repository, installation: 78 }),
    ]
    for (const payload of cases) {
      const answer = await deliver(fx.url, 'deployment_protection_rule', payload)
      expect(answer.status).toBe(202)
      expect(answer.body).toMatchObject({ status: 'unmapped', message: expect.stringContaining('approval-gate github map') })
    }
    const unmapped = fx.logs.filter((line) => line.msg === 'GitHub deployment request for an unmapped repository: nothing created')
    expect(unmapped).toHaveLength(3)
    expect(unmapped[1]).toMatchObject({ repository, environment: 'staging', installation: '77' })
    expect((await fx.store.listApprovals(fx.project.id)).items).toHaveLength(0)
    // The mapping is case-insensitive, as GitHub's names are.
    expect((await deliver(fx.url, 'deployment_protection_rule', deploymentPayload({ repository: repository.toUpperCase(), environment: 'PRODUCTION' }))).status).toBe(201)
  })

  it('does not create in another project: each repository goes to the project it is mapped to', async () => {
    const fx = await startApp()
    const other = await fx.newProject('other team')
    const ours = newRepository()
    const theirs = newRepository()
    await mapRepository(fx, ours)
    await mapRepository(fx, theirs, { project: other.project })
    const delivery = await deliver(fx.url, 'deployment_protection_rule', deploymentPayload({ repository: theirs }))
    expect(await fx.store.getApproval(other.project.id, delivery.body.approval_id as string)).not.toBeNull()
    expect(await fx.store.getApproval(fx.project.id, delivery.body.approval_id as string)).toBeNull()
    await other.cleanup()
  })

  it('refuses an oversized body (413), a malformed one (400 naming the field) and a bad delivery id', async () => {
    const fx = await startApp()
    const repository = newRepository()
    await mapRepository(fx, repository)
    const huge = Buffer.from(JSON.stringify({ ...deploymentPayload({ repository }), padding: 'x'.repeat(MAX_WEBHOOK_BYTES) }))
    expect((await deliver(fx.url, 'deployment_protection_rule', null, { rawBody: huge })).status).toBe(413)
    const noRun = await deliver(fx.url, 'deployment_protection_rule', { ...deploymentPayload({ repository }), deployment_callback_url: 'https://evil.example/steal' })
    expect(noRun.status).toBe(400)
    expect(noRun.body).toMatchObject({ error: { code: 'invalid_request', message: expect.stringContaining('deployment_callback_url') } })
    const noInstallation = await deliver(fx.url, 'deployment_protection_rule', { ...deploymentPayload({ repository }), installation: null })
    expect(noInstallation.body).toMatchObject({ error: { message: expect.stringContaining('installation') } })
    expect((await deliver(fx.url, 'deployment_protection_rule', null, { rawBody: Buffer.from('{not json') })).status).toBe(400)
    expect((await deliver(fx.url, 'deployment_protection_rule', deploymentPayload({ repository }), { deliveryId: 'bad id with spaces' })).status).toBe(400)
    expect((await fx.store.listApprovals(fx.project.id)).items).toHaveLength(0)
  })
})
