/**
 * Whether GitHub was answered, on the approval's page in real Chromium: a deployment gated
 * through the GitHub App shows its repository, environment and run, and "GitHub waits for this
 * decision", "Answering GitHub: attempt N failed: …, retrying at …", "GitHub answered" or
 * "GitHub could not be answered: …" — each reached through the real callback worker against a
 * local GitHub stand-in. GitHub's error text is hostile and shows as text; a member of another
 * project sees nothing of it; a request that did not come from the App shows no such section.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { Page } from 'playwright-core'
import { hashPassword } from '../../src/server/auth/secrets.js'
import { githubAppConfig } from '../../src/server/github/config.js'
import type { GithubCallbackStatus } from '../../src/server/store/types.js'
import { ADMIN, MEMBER, createViaApi, dashboardsClosedAfterEach, decideViaApi, type DashboardFixture } from '../dashboard/fixture.js'
import { chromiumPagesClosedAfterEach } from '../helpers/dashboard-page.js'
import { APP_ID, deliver, deploymentPayload, startGithubStandIn, WEBHOOK_SECRET, type GithubStandIn } from '../helpers/github-app-stand-in.js'
import { waitUntil } from '../helpers/wait-until.js'

const HOSTILE = '<img src=x onerror="window.__pwned=1">'
let github: GithubStandIn
const pages = chromiumPagesClosedAfterEach()
const startDashboard = dashboardsClosedAfterEach()

beforeAll(async () => {
  github = await startGithubStandIn()
})
afterAll(async () => {
  await github?.close()
})

async function gatedDashboard(): Promise<DashboardFixture> {
  // A failed attempt is retried ten minutes later, so "retrying" holds while the page is read.
  const fx = await startDashboard({
    github: { config: githubAppConfig({ appId: APP_ID, privateKeyPem: github.privateKeyPem, webhookSecret: WEBHOOK_SECRET, apiUrl: github.apiUrl }), worker: { retryBaseMs: 600_000, retryMaxMs: 600_000 } },
  })
  await fx.store.createGithubMapping({ project_id: fx.project.id, repository: 'acme/web' })
  return fx
}

/** A deployment of `acme/web` to `environment`, delivered as GitHub would; its approval id. */
async function deployment(fx: DashboardFixture, environment: string, runId: number): Promise<string> {
  const delivered = await deliver(fx.url, 'deployment_protection_rule', deploymentPayload({ repository: 'acme/web', environment, runId }))
  expect(delivered.status).toBe(201)
  return delivered.body.approval_id as string
}

async function gateReaches(fx: DashboardFixture, approvalId: string, callback: GithubCallbackStatus, attempts: number) {
  return waitUntil(
    async () => {
      const [gate] = await fx.store.listGithubGates(fx.project.id, { approvalId })
      return gate && gate.callback === callback && gate.attempts >= attempts ? gate : null
    },
    { what: `the gate of ${approvalId} to be ${callback} after ${attempts} attempt(s)`, timeoutMs: 30_000 },
  )
}

async function answerSection(page: Page, url: string) {
  await page.goto(url)
  const section = page.getByRole('region', { name: 'Answer to GitHub' })
  await section.waitFor()
  return { section, text: (await section.textContent())!.replace(/\s+/g, ' ').trim() }
}

async function expectNotExecuted(page: Page): Promise<void> {
  expect(await page.locator('.github-answer img').count()).toBe(0)
  expect(await page.evaluate(() => (window as unknown as { __pwned?: number }).__pwned)).toBeUndefined()
}

describe('the answer to GitHub on an approval’s page', () => {
  it('shows waiting, retrying after a hostile failure, answered and given up, each with what it gates', async () => {
    const fx = await gatedDashboard()
    const page = await pages.signedIn(fx.url, MEMBER)

    github.callbackMode = 'fail'
    github.failureMessage = HOSTILE
    const retried = await deployment(fx, 'production', 4101)
    const waiting = await answerSection(page, `${fx.url}/approvals/${retried}`)
    expect(waiting.text).toContain('GitHub waits for this decision.')
    expect(waiting.text).toMatch(/Repository\s*acme\/web\s*Environment\s*production\s*Run\s*4101/)

    expect(await decideViaApi(fx.url, fx.keys.decide, retried, 'approve')).toBe(200)
    const failing = await gateReaches(fx, retried, 'pending', 1)
    const retrying = await answerSection(page, `${fx.url}/approvals/${retried}`)
    expect(retrying.text).toContain(`Answering GitHub: attempt 1 failed: POST /repos/acme/web/actions/runs/4101/deployment_protection_rule: HTTP 502: ${HOSTILE}, retrying at`)
    expect(await retrying.section.locator('time').getAttribute('datetime')).toBe(failing.next_attempt_at)
    expect(await page.locator('[data-github-answer]').getAttribute('data-github-answer')).toBe('retrying')
    await expectNotExecuted(page)

    github.callbackMode = 'refuse'
    const refused = await deployment(fx, 'staging', 4102)
    expect(await decideViaApi(fx.url, fx.keys.decide, refused, 'reject')).toBe(200)
    await gateReaches(fx, refused, 'failed', 1)
    const failed = await answerSection(page, `${fx.url}/approvals/${refused}`)
    expect(failed.text).toContain(`GitHub could not be answered: POST /repos/acme/web/actions/runs/4102/deployment_protection_rule: HTTP 422: ${HOSTILE}`)
    expect(failed.text).toMatch(/Environment\s*staging\s*Run\s*4102/)
    await expectNotExecuted(page)

    github.callbackMode = 'ok'
    const answered = await deployment(fx, 'production', 4103)
    expect(await decideViaApi(fx.url, fx.keys.decide, answered, 'approve')).toBe(200)
    const done = await gateReaches(fx, answered, 'done', 1)
    const ok = await answerSection(page, `${fx.url}/approvals/${answered}`)
    expect(ok.text).toMatch(/^GitHub deployment GitHub answered at \d{4}-\d\d-\d\d \d\d:\d\d:\d\d UTC\./)
    expect(await ok.section.locator('time').getAttribute('datetime')).toBe(done.completed_at)
    expect(ok.text).not.toContain('failed')

    // A request that did not come through the App has no such section.
    const plain = await createViaApi(fx.url, fx.keys.request, { action: 'deploy' })
    await page.goto(`${fx.url}/approvals/${plain.id}`)
    await page.locator(`#card-${plain.id}`).waitFor()
    expect(await page.locator('[data-github-answer]').count()).toBe(0)
  })

  it('shows nothing of a gate to a member of another project', async () => {
    const fx = await gatedDashboard()
    github.callbackMode = 'refuse'
    github.failureMessage = 'secret-ish failure text'
    const refused = await deployment(fx, 'production', 4201)
    expect(await decideViaApi(fx.url, fx.keys.decide, refused, 'reject')).toBe(200)
    await gateReaches(fx, refused, 'failed', 1)

    const other = await fx.store.createProject('other')
    const olga = { email: 'olga@example.com', password: 'olga password 12' }
    const user = await fx.store.createUser({ email: olga.email, password_hash: await hashPassword(olga.password) })
    await fx.store.setMembership(other.id, user.id, 'admin')
    const page = await pages.signedIn(fx.url, olga)
    const response = await page.goto(`${fx.url}/approvals/${refused}`)
    expect(response?.status()).toBe(404)
    const body = (await page.locator('body').textContent())!
    expect(body).toContain('Approval not found')
    for (const secret of ['acme/web', 'secret-ish failure text', 'Answer to GitHub']) expect(body).not.toContain(secret)
    expect(await page.locator('[data-github-answer]').count()).toBe(0)

    // The project's own admin does see it.
    const admin = await pages.signedIn(fx.url, ADMIN)
    expect((await answerSection(admin, `${fx.url}/approvals/${refused}`)).text).toContain('GitHub could not be answered: POST /repos/acme/web/actions/runs/4201/deployment_protection_rule: HTTP 422: secret-ish failure text')
  })
})
