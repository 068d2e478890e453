/**
 * The approval card under a policy, in real Chromium against a real server: progress
 * ("1 of 2"), who has voted, Approve/Reject only for people who may vote and the reason for the
 * others, and the live stream re-rendering each viewer's card on every vote.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { cardOf, chromiumPagesClosedAfterEach, waitForStream, type Credentials } from '../helpers/dashboard-page.js'
import { voteAs, votersUnderPolicy } from '../server/votes-helpers.js'
import { createViaApi, startDashboard, type DashboardFixture } from './fixture.js'

let fx: DashboardFixture
const pages = chromiumPagesClosedAfterEach()

beforeAll(async () => {
  fx = await startDashboard()
})

afterAll(async () => {
  await fx?.close()
})

/** A page signed in as `who` whose live event stream is connected. */
async function signedInPage(who: Credentials) {
  const page = await pages.signedIn(fx.url, who)
  await waitForStream(page)
  return page
}

describe('the approval card under a two-SRE rule', () => {
  it('shows progress and votes, buttons only to those who may vote, the reason to the others, and updates live on each vote', async () => {
    const { voters, email, keys } = await votersUnderPolicy(
      fx,
      'card',
      ['ana', 'ben', 'dev'],
      (email) => `groups:\n  sre: [${email('ana')}, ${email('ben')}]\nrules:\n  - name: production deploys\n    match: { action: "deploy-prod*" }\n    approvers: { all_of: [{ group: sre, required: 2 }] }\n`,
    )
    const [ana, dev] = [await signedInPage(voters.ana), await signedInPage(voters.dev)]

    const { id } = await createViaApi(fx.url, keys.request, { action: 'deploy-prod-eu' })
    const anaCard = cardOf(ana, id)
    const devCard = cardOf(dev, id)
    await anaCard.getByRole('button', { name: 'Approve' }).waitFor()
    await devCard.locator('[data-progress]', { hasText: '0 of 2 — sre waiting' }).waitFor()
    await devCard.getByText('You cannot vote: only sre may approve.').waitFor()
    expect(await devCard.getByRole('button').count()).toBe(0)

    await anaCard.getByRole('button', { name: 'Approve' }).click()
    await anaCard.locator('[data-progress]', { hasText: '1 of 2 — sre 1 of 2' }).waitFor()
    await anaCard.getByText('You cannot vote: you already voted on this request.').waitFor()
    expect(await anaCard.getByRole('button').count()).toBe(0)
    // The other viewer's card follows live, still without buttons.
    await devCard.locator('[data-progress]', { hasText: '1 of 2' }).waitFor()
    await devCard.locator('.votes', { hasText: email('ana') }).waitFor()
    await devCard.locator('[data-may-still]', { hasText: `May still approve: ${email('ben')}` }).waitFor()
    expect(await devCard.getByRole('button').count()).toBe(0)

    expect((await voteAs(voters.ben, id, 'approve')).body.status).toBe('approved')
    await anaCard.locator('.outcome', { hasText: `Approved by ${email('ben')}` }).waitFor()
    await devCard.locator('.outcome', { hasText: `Approved by ${email('ben')}` }).waitFor()
  })
})
