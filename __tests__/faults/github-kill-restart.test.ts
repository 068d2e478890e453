/**
 * The GitHub App's callback survives `kill -9`: a real `approval-gate serve` process (the built
 * CLI, with its GitHub App flags) is killed after a decision while GitHub (stood in locally)
 * answers 502; restarted on the same data directory, it sends the answer — once — and still
 * refuses the delivery it already turned into an approval.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openDataDir } from '../../src/server/server.js'
import { runCli, startCli, stop, type CliProcess } from '../cli/helpers.js'
import { APP_ID, deliver, deploymentPayload, startGithubStandIn, WEBHOOK_SECRET, type GithubStandIn } from '../helpers/github-app-stand-in.js'
import { waitUntil } from '../helpers/wait-until.js'

let github: GithubStandIn
let dataDir: string
let serve: CliProcess | null = null

beforeAll(async () => {
  github = await startGithubStandIn()
  dataDir = await mkdtemp(join(tmpdir(), 'approval-gate-github-kill-'))
})
afterAll(async () => {
  if (serve) await stop(serve)
  await github.close()
  await rm(dataDir, { recursive: true, force: true })
})

async function admin(args: string[]): Promise<string> {
  const result = await runCli([...args, '--data', dataDir])
  if (result.code !== 0) throw new Error(`approval-gate ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
  return result.stdout
}

async function startServe(port: number): Promise<{ proc: CliProcess; url: string }> {
  const proc = startCli([
    'serve',
    '--port', String(port),
    '--data', dataDir,
    '--quiet',
    '--github-app-id', APP_ID,
    '--github-app-key-file', join(dataDir, 'github-app.pem'),
    '--github-webhook-secret-file', join(dataDir, 'github-webhook-secret'),
    '--github-api-url', github.apiUrl,
  ])
  const match = await proc.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 20_000)
  return { proc, url: match[1] }
}

it('answers GitHub after a kill -9 between the decision and a successful callback, exactly once', async () => {
  await writeFile(join(dataDir, 'github-app.pem'), github.privateKeyPem, { mode: 0o600 })
  await writeFile(join(dataDir, 'github-webhook-secret'), `${WEBHOOK_SECRET}\n`, { mode: 0o600 })
  await admin(['project', 'create', 'deploys'])
  const decideKey = (JSON.parse(await admin(['keys', 'create', '--project', 'deploys', '--scope', 'decide', '--name', 'deployer', '--json'])) as { api_key: string }).api_key
  await admin(['github', 'map', '--project', 'deploys', '--repository', 'acme/kill', '--environment', 'production'])

  const first = await startServe(0)
  serve = first.proc
  const port = Number(new URL(first.url).port)
  const payload = deploymentPayload({ repository: 'acme/kill', runId: 777 })
  const delivery = await deliver(first.url, 'deployment_protection_rule', payload)
  expect(delivery.status).toBe(201)
  const approvalId = delivery.body.approval_id as string

  github.callbackMode = 'fail'
  const decided = await fetch(`${first.url}/v1/approvals/${approvalId}/decision`, {
    method: 'POST',
    headers: { authorization: `Bearer ${decideKey}`, 'content-type': 'application/json' },
    body: JSON.stringify({ decision: 'approve', reason: 'ship it' }),
  })
  expect(decided.status).toBe(200)
  await waitUntil(() => github.reviews.some((review) => review.repository === 'acme/kill'), { what: 'a first (failing) callback attempt', timeoutMs: 20_000 })
  // Kill once the failure is recorded (a kill during an attempt leaves the row leased for 30 s
  // before the restarted server may try it: also answered, only later).
  const reader = await openDataDir(dataDir)
  try {
    await waitUntil(async () => ((await reader.getGithubGateByDelivery(delivery.deliveryId))?.attempts ?? 0) >= 1, { what: 'the failed attempt recorded', timeoutMs: 20_000 })
  } finally {
    await reader.close()
  }

  serve.child.kill('SIGKILL')
  await serve.done
  serve = null
  github.callbackMode = 'ok'
  const failedAttempts = github.reviews.filter((review) => review.repository === 'acme/kill').length

  const second = await startServe(port)
  serve = second.proc
  const answered = await waitUntil(() => github.reviews.find((review) => review.repository === 'acme/kill' && review.status === 204), {
    what: 'the callback after the restart',
    timeoutMs: 40_000,
    intervalMs: 50,
  })
  expect(answered).toMatchObject({ run_id: '777', environment_name: 'production', state: 'approved' })
  expect(answered.comment).toContain('ship it')
  expect(failedAttempts).toBeGreaterThanOrEqual(1)

  // The redelivery of the same id after the restart creates nothing new.
  const replay = await deliver(second.url, 'deployment_protection_rule', payload, { deliveryId: delivery.deliveryId })
  expect(replay).toMatchObject({ status: 200, body: { status: 'duplicate', approval_id: approvalId } })
  // Once: the gate is recorded done, and the worker sends only gates whose callback is pending.
  const store = await openDataDir(dataDir)
  try {
    const gate = await waitUntil(async () => {
      const found = await store.getGithubGateByDelivery(delivery.deliveryId)
      return found?.callback === 'done' ? found : undefined
    }, { what: 'the gate recorded done', timeoutMs: 20_000 })
    expect(gate.last_error).toBeNull()
    expect(gate.attempts).toBeGreaterThanOrEqual(2)
  } finally {
    await store.close()
  }
  expect(github.reviews.filter((review) => review.repository === 'acme/kill' && review.status === 204)).toHaveLength(1)
})
