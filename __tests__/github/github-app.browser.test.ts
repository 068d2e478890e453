/**
 * The GitHub App seen by an approver in real Chromium: a deployment delivered while the
 * dashboard is open appears as a live card (verified by GitHub, with its pull request), and
 * clicking Approve answers GitHub (stood in locally) "approved" with the reason.
 */
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import type { Browser } from 'playwright-core'
import { githubAppConfig } from '../../src/server/github/config.js'
import { dashboardsClosedAfterEach, MEMBER } from '../dashboard/fixture.js'
import { launchBrowser } from '../helpers/browser.js'
import { cardOf, decideOnCard, signIn, waitForStream } from '../helpers/dashboard-page.js'
import { APP_ID, deliver, deploymentPayload, startGithubStandIn, WEBHOOK_SECRET, type GithubStandIn } from '../helpers/github-app-stand-in.js'
import { waitUntil } from '../helpers/wait-until.js'

let github: GithubStandIn
let browser: Browser
const startDashboard = dashboardsClosedAfterEach()

beforeAll(async () => {
  ;[github, browser] = await Promise.all([startGithubStandIn(), launchBrowser()])
})
afterAll(async () => {
  await browser?.close()
  await github?.close()
})

it('shows a delivered deployment as a live card, and Approve answers GitHub "approved"', async () => {
  const fx = await startDashboard({ github: { config: githubAppConfig({ appId: APP_ID, privateKeyPem: github.privateKeyPem, webhookSecret: WEBHOOK_SECRET, apiUrl: github.apiUrl }) } })
  await fx.store.createGithubMapping({ project_id: fx.project.id, repository: 'acme/browser', environment: 'production' })
  const { context, page } = await signIn(browser, fx.url, MEMBER)
  try {
    await waitForStream(page)
    const delivery = await deliver(fx.url, 'deployment_protection_rule', deploymentPayload({ repository: 'acme/browser', runId: 4711, pullRequests: [{ number: 99, title: 'Faster checkout' }] }))
    expect(delivery.status).toBe(201)
    const card = cardOf(page, delivery.body.approval_id as string)
    await card.waitFor()
    expect(await card.textContent()).toContain('verified by GitHub')
    expect(await card.textContent()).toContain('Faster checkout')

    await decideOnCard(card, 'Approve', 'looks good in staging')
    const review = await waitUntil(() => github.reviews.find((r) => r.repository === 'acme/browser'), { what: 'the answer to GitHub', timeoutMs: 20_000, intervalMs: 20 })
    expect(review).toMatchObject({ run_id: '4711', state: 'approved', environment_name: 'production' })
    expect(review.comment).toContain(`Approved by ${MEMBER.email} in approval-gate: looks good in staging`)
  } finally {
    await context.close()
  }
})
