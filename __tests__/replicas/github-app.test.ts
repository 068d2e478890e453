/**
 * The GitHub App on two replicas sharing PostgreSQL: a delivery received by one, the decision
 * made on the other, both replicas' callback workers sweeping — GitHub (stood in locally) is
 * answered once, within moments, and a replay to the other replica creates nothing.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { githubAppConfig } from '../../src/server/github/config.js'
import { startServer, type RunningServer } from '../../src/server/server.js'
import { testAuditKey } from '../helpers/audit-key.js'
import { APP_ID, deliver, deploymentPayload, startGithubStandIn, WEBHOOK_SECRET, type GithubStandIn } from '../helpers/github-app-stand-in.js'
import { waitUntil } from '../helpers/wait-until.js'
import { call, createKey } from '../server/helpers.js'
import { describeWithPostgres } from '../store/temp-postgres.js'
import { databaseUrl } from './replicas.js'

describeWithPostgres('the GitHub App on replicas', (cluster) => {
  let github: GithubStandIn
  const servers: RunningServer[] = []

  beforeAll(async () => {
    github = await startGithubStandIn()
  })
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.close()))
    await github.close()
  })

  it('answers GitHub once when the delivery reaches one replica and the decision the other', async () => {
    const url = databaseUrl(await cluster.createDatabase())
    const options = {
      dataDir: join(tmpdir(), 'approval-gate-unused'),
      port: 0,
      database: { kind: 'postgres' as const, url },
      auditKey: testAuditKey(),
      // Both replicas sweep often, so both try to send the same answer: the lease lets one.
      github: { config: githubAppConfig({ appId: APP_ID, privateKeyPem: github.privateKeyPem, webhookSecret: WEBHOOK_SECRET, apiUrl: github.apiUrl }), worker: { intervalMs: 100 } },
    }
    const a = await startServer(options)
    servers.push(a)
    const b = await startServer(options)
    servers.push(b)
    const project = await a.store.createProject('main')
    const decideKey = await createKey(a.store, project.id, ['decide'], 'deployer')
    await a.store.createGithubMapping({ project_id: project.id, repository: 'acme/replicas' })

    const delivery = await deliver(a.url, 'deployment_protection_rule', deploymentPayload({ repository: 'acme/replicas', runId: 808 }))
    expect(delivery.status).toBe(201)
    const replay = await deliver(b.url, 'deployment_protection_rule', deploymentPayload({ repository: 'acme/replicas', runId: 808 }), { deliveryId: delivery.deliveryId })
    expect(replay).toMatchObject({ status: 200, body: { status: 'duplicate', approval_id: delivery.body.approval_id } })

    const decided = await call(b.url, 'POST', `/v1/approvals/${delivery.body.approval_id as string}/decision`, { key: decideKey, json: { decision: 'approve', reason: 'from replica b' } })
    expect(decided.status).toBe(200)
    await waitUntil(async () => (await a.store.getGithubGateByDelivery(delivery.deliveryId))?.callback === 'done', { what: 'the gate answered', timeoutMs: 20_000 })
    const reviews = github.reviews.filter((review) => review.repository === 'acme/replicas')
    expect(reviews).toHaveLength(1)
    expect(reviews[0]).toMatchObject({ run_id: '808', state: 'approved', status: 204 })
  })
})
