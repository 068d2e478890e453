/**
 * Decisions as votes under a project's policy, against a real server: people vote through the
 * dashboard (signed in, CSRF), keys through `/v1`. Every rule of the issue — N-of-M, AND of
 * groups with one person counted once, eligibility, one vote per person, reasons, reject,
 * windows on an injected clock, self-approval, max_timeout — plus the race (concurrent votes
 * each counted once, exactly one settles it), cross-project votes, and the snapshot: a policy
 * changed after a request was made does not change who decides it.
 */
import { describe, expect, it } from '@jest/globals'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { startServer } from '../../src/server/server.js'
import { ApprovalsClient } from '../../src/client/index.js'
import { createKey, call } from './helpers.js'
import { dashboardsClosedAfterEach, createViaApi } from '../dashboard/fixture.js'
import { projectWithVoters, requestAndDecideKeys, setPolicy, voteAs, votersUnderPolicy } from './votes-helpers.js'

const startDashboard = dashboardsClosedAfterEach()

/** Sunday 6 January 2030, 12:00 UTC: outside a Mon–Thu window. */
const SUNDAY_NOON = new Date('2030-01-06T12:00:00.000Z')
/** Monday 7 January 2030, 10:00 in Berlin (09:00 UTC): inside it. */
const MONDAY_TEN_BERLIN = new Date('2030-01-07T09:00:00.000Z')

async function record(url: string, key: string, id: string) {
  const answer = await call(url, 'GET', `/v1/approvals/${id}`, { key })
  expect(answer.status).toBe(200)
  return answer.body
}

describe('N of M', () => {
  it('stays pending until two of the group approve, then approves; the record, the trail and a waiting long-poll show it', async () => {
    const fx = await startDashboard()
    const { project, voters, email, keys } = await votersUnderPolicy(
      fx,
      'two-of-sre',
      ['ana', 'ben', 'cy'],
      (email) =>
        `groups:\n  sre: [${email('ana')}, ${email('ben')}, ${email('cy')}]\nrules:\n  - name: production deploys\n    match: { action: ["deploy-prod*"] }\n    approvers: { required: 2, groups: [sre] }\n`,
    )
    const created = await createViaApi(fx.url, keys.request, { action: 'deploy-prod-eu' })
    expect(await record(fx.url, keys.request, created.id)).toMatchObject({ status: 'pending', required_approvals: 2, votes: [], policy: { version: 1, rule: 'production deploys' } })
    const waiting = call(fx.url, 'GET', `/v1/approvals/${created.id}?wait=30`, { key: keys.request })

    const first = await voteAs(voters.ana, created.id, 'approve')
    expect(first).toMatchObject({ status: 200, body: { result: 'voted', status: 'pending' } })
    expect(first.body.html).toContain('1 of 2')
    const pending = await record(fx.url, keys.request, created.id)
    expect(pending).toMatchObject({ status: 'pending', decided_by: null, votes: [{ by: email('ana'), decision: 'approve', reason: null, groups: ['approvers'] }] })

    const second = await voteAs(voters.ben, created.id, 'approve', 'checked the diff')
    expect(second).toMatchObject({ status: 200, body: { result: 'decided', status: 'approved' } })
    const settled = await waiting
    expect(settled.body).toMatchObject({ status: 'approved', decided_by: email('ben'), reason: 'checked the diff' })
    expect(settled.body.votes.map((vote: { by: string }) => vote.by)).toEqual([email('ana'), email('ben')])

    const late = await voteAs(voters.cy, created.id, 'reject', 'too late')
    expect(late).toMatchObject({ status: 409, body: { result: 'lost' } })
    const trail = await fx.store.listAudit(project.id)
    expect(trail.items.filter((event) => event.approval_id === created.id).map((event) => [event.type, event.actor])).toEqual([
      ['approved', email('ben')],
      ['vote_approve', email('ana')],
      ['created', 'key:ci'],
    ])
    expect(await fx.store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true })
  })

  it('refuses a second vote by the same person with 409 already_voted, and a key decides nothing on a rule that names people', async () => {
    const fx = await startDashboard()
    const { voters, email, keys } = await votersUnderPolicy(fx, 'once', ['ana', 'ben'], (email) => `rules:\n  - name: two people\n    match: { action: deploy }\n    approvers: { required: 2, members: [${email('ana')}, ${email('ben')}] }\n`)
    const { id } = await createViaApi(fx.url, keys.request, { action: 'deploy' })
    expect((await voteAs(voters.ana, id, 'approve')).status).toBe(200)
    const again = await voteAs(voters.ana, id, 'approve')
    expect(again).toMatchObject({ status: 409, body: { result: 'refused', message: expect.stringContaining('you already voted') } })

    const byKey = await call(fx.url, 'POST', `/v1/approvals/${id}/decision`, { key: keys.decide, json: { decision: 'approve' } })
    expect(byKey.status).toBe(403)
    expect(byKey.body.error).toEqual({ code: 'not_eligible', message: expect.stringContaining('API keys cannot decide under rule "two people"') })
    expect(byKey.body.approval).toMatchObject({ id, status: 'pending', votes: [{ by: email('ana') }] })
    expect((await record(fx.url, keys.request, id)).votes).toHaveLength(1)
  })
})

describe('groups ANDed', () => {
  it('counts a person who is in both groups once: sre AND security needs two people', async () => {
    const fx = await startDashboard()
    const { voters, email, keys } = await votersUnderPolicy(
      fx,
      'and',
      ['both', 'sec', 'outsider'],
      (email) =>
        [
          'groups:',
          `  sre: [${email('both')}]`,
          `  security: [${email('both')}, ${email('sec')}]`,
          'rules:',
          '  - name: payments',
          '    match: { action: "payments-*" }',
          '    approvers:',
          '      all_of: [{ group: sre, required: 1 }, { group: security, required: 1 }]',
          '',
        ].join('\n'),
    )
    const { id } = await createViaApi(fx.url, keys.request, { action: 'payments-release' })

    const outsider = await voteAs(voters.outsider, id, 'approve')
    expect(outsider).toMatchObject({ status: 403, body: { result: 'refused', message: expect.stringContaining('only sre or security may approve') } })

    const first = await voteAs(voters.both, id, 'approve')
    expect(first.body).toMatchObject({ result: 'voted', status: 'pending' })
    expect(first.body.html).toMatch(/1 of 2 — sre ✓, security waiting|1 of 2 — sre waiting, security ✓/)
    const second = await voteAs(voters.sec, id, 'approve')
    expect(second.body).toMatchObject({ result: 'decided', status: 'approved' })
    // The matching put each person where they were needed.
    const votes = (await record(fx.url, keys.request, id)).votes as Array<{ by: string; groups: string[] }>
    expect(Object.fromEntries(votes.map((vote) => [vote.by, vote.groups]))).toEqual({ [email('both')]: ['sre'], [email('sec')]: ['security'] })
  })
})

describe('reasons and rejects', () => {
  it('asks for the reason the rule requires (400 naming it, nothing written), and one eligible reject rejects', async () => {
    const fx = await startDashboard()
    const { voters, email, keys } = await votersUnderPolicy(
      fx,
      'reasons',
      ['ana', 'ben'],
      (email) =>
        `rules:\n  - name: careful\n    match: { action: deploy }\n    approvers: { required: 2, members: [${email('ana')}, ${email('ben')}] }\n    require_reason: reject\n    reject: any\n`,
    )
    const { id } = await createViaApi(fx.url, keys.request, { action: 'deploy' })
    const bare = await voteAs(voters.ana, id, 'reject')
    expect(bare.status).toBe(400)
    expect(JSON.stringify(bare.body)).toContain('require_reason: reject')
    expect((await record(fx.url, keys.request, id)).votes).toEqual([])

    const rejected = await voteAs(voters.ana, id, 'reject', 'the migration is not reversible')
    expect(rejected.body).toMatchObject({ result: 'decided', status: 'rejected' })
    expect(await record(fx.url, keys.request, id)).toMatchObject({ status: 'rejected', decided_by: email('ana'), reason: 'the migration is not reversible' })
  })

  it('with reject: quorum one reject does not end it: the rejects must reach the count', async () => {
    const fx = await startDashboard()
    const { project, voters, keys } = await votersUnderPolicy(fx, 'quorum', ['ana', 'ben', 'cy'], (email) => `default:\n  approvers: { required: 2, members: [${email('ana')}, ${email('ben')}, ${email('cy')}] }\n  reject: quorum\n`)
    const { id } = await createViaApi(fx.url, keys.request, { action: 'deploy' })
    expect((await voteAs(voters.ana, id, 'reject', 'risky')).body).toMatchObject({ result: 'voted', status: 'pending' })
    expect((await voteAs(voters.ben, id, 'approve')).body).toMatchObject({ result: 'voted', status: 'pending' })
    expect((await voteAs(voters.cy, id, 'reject', 'agreed, risky')).body).toMatchObject({ result: 'decided', status: 'rejected' })
    const trail = (await fx.store.listAudit(project.id)).items.filter((event) => event.approval_id === id).map((event) => event.type)
    expect(trail).toEqual(['rejected', 'vote_approve', 'vote_reject', 'created'])
  })

  it('answers 400 invalid_request over /v1 when a key leaves out a required reason', async () => {
    const fx = await startDashboard()
    const { keys } = await votersUnderPolicy(fx, 'reasons-key', [], () => 'default:\n  approvers: { required: 1 }\n  require_reason: both\n')
    const { id } = await createViaApi(fx.url, keys.request, { action: 'deploy' })
    const answer = await call(fx.url, 'POST', `/v1/approvals/${id}/decision`, { key: keys.decide, json: { decision: 'approve' } })
    expect(answer.status).toBe(400)
    expect(answer.body.error).toEqual({ code: 'invalid_request', message: expect.stringContaining('reason is required') })
    const ok = await call(fx.url, 'POST', `/v1/approvals/${id}/decision`, { key: keys.decide, json: { decision: 'approve', reason: 'release notes checked' } })
    expect(ok.body).toMatchObject({ status: 'approved', required_approvals: 1, policy: { version: 1, rule: 'default' } })
  })
})

describe('windows', () => {
  it('refuses approving outside the window with the next opening, allows rejecting, and counts approvals inside it', async () => {
    let now = SUNDAY_NOON
    const fx = await startDashboard({ clock: () => now })
    const { voters, keys } = await votersUnderPolicy(
      fx,
      'windows',
      ['ana'],
      (email) =>
        `rules:\n  - name: business hours\n    match: { action: deploy }\n    approvers: { required: 1, members: [${email('ana')}] }\n    windows:\n      - { days: [mon, tue, wed, thu], from: "09:00", to: "16:00", time_zone: Europe/Berlin }\ndefault:\n  approvers: { required: 1 }\n`,
    )
    const { id } = await createViaApi(fx.url, keys.request, { action: 'deploy' })
    const page = await voters.ana.client.request('GET', `/approvals/${id}`)
    expect(page.text).toContain('You cannot vote: outside the approval window until Mon 09:00 Europe/Berlin.')
    expect(page.text).not.toContain('value="approve"')

    const closed = await voteAs(voters.ana, id, 'approve')
    expect(closed).toMatchObject({ status: 403, body: { result: 'refused', message: expect.stringContaining('until Mon 09:00') } })

    // The default rule has no window: another action is approved at once, by a key too.
    const other = await createViaApi(fx.url, keys.request, { action: 'restart' })
    expect((await call(fx.url, 'POST', `/v1/approvals/${other.id}/decision`, { key: keys.decide, json: { decision: 'approve' } })).status).toBe(200)

    now = MONDAY_TEN_BERLIN
    expect((await voteAs(voters.ana, id, 'approve')).body).toMatchObject({ result: 'decided', status: 'approved' })
  })

  it('answers 403 outside_window with opens_at over /v1, and lets a reject through', async () => {
    const fx = await startDashboard({ clock: () => SUNDAY_NOON })
    const { keys } = await votersUnderPolicy(fx, 'windows-key', [], () => 'default:\n  approvers: { required: 1 }\n  windows:\n    - { days: [mon], from: "09:00", to: "10:00", time_zone: Europe/Berlin }\n')
    const { id } = await createViaApi(fx.url, keys.request, { action: 'deploy' })
    const refused = await call(fx.url, 'POST', `/v1/approvals/${id}/decision`, { key: keys.decide, json: { decision: 'approve' } })
    expect(refused.status).toBe(403)
    expect(refused.body).toMatchObject({ error: { code: 'outside_window', message: expect.stringContaining('Mon 09:00') }, opens_at: '2030-01-07T08:00:00.000Z', approval: { status: 'pending' } })
    const rejected = await call(fx.url, 'POST', `/v1/approvals/${id}/decision`, { key: keys.decide, json: { decision: 'reject', reason: 'not on a Sunday' } })
    expect(rejected.body).toMatchObject({ status: 'rejected' })
  })
})

describe('self-approval and timeouts under the applied rule', () => {
  it("blocks the run's actor when the rule says so, whatever the project setting", async () => {
    const fx = await startDashboard()
    const { project, voters, email } = await projectWithVoters(fx, 'self', ['ana', 'ben'], { githubLogins: { ana: 'ana-gh' } })
    expect(project.settings.blockSelfApproval).toBe(false)
    await setPolicy(fx.store, project.id, `rules:\n  - name: strict\n    match: { action: deploy }\n    approvers: { required: 1, members: [${email('ana')}, ${email('ben')}] }\n    block_self_approval: true\n`)
    const keys = await requestAndDecideKeys(fx.store, project.id)
    const { id } = await createViaApi(fx.url, keys.request, { action: 'deploy', context: { github: { actor: 'ana-gh' } } })
    const page = await voters.ana.client.request('GET', `/approvals/${id}`)
    expect(page.text).toContain('You cannot vote: you requested this run.')
    expect((await voteAs(voters.ana, id, 'approve')).status).toBe(403)
    expect((await voteAs(voters.ben, id, 'approve')).body).toMatchObject({ status: 'approved' })
  })

  it("caps expires_at at the rule's max_timeout", async () => {
    const fx = await startDashboard()
    const { keys } = await votersUnderPolicy(fx, 'timeout', [], () => 'rules:\n  - name: quick\n    match: { action: deploy }\n    approvers: { required: 1 }\n    max_timeout: 10m\n')
    const capped = await call(fx.url, 'POST', '/v1/approvals', { key: keys.request, json: { action: 'deploy', timeout_ms: 3_600_000 } })
    const free = await call(fx.url, 'POST', '/v1/approvals', { key: keys.request, json: { action: 'other', timeout_ms: 3_600_000 } })
    const lifetime = (body: { created_at: string; expires_at: string }) => Date.parse(body.expires_at) - Date.parse(body.created_at)
    expect(lifetime(capped.body)).toBe(600_000)
    expect(lifetime(free.body)).toBe(3_600_000)
  })
})

describe('the snapshot and other projects', () => {
  it('decides a request under the rule it was created with, even after the policy changes', async () => {
    const fx = await startDashboard()
    const { project, voters, keys } = await votersUnderPolicy(fx, 'snapshot', ['ana', 'ben'], (email) => `rules:\n  - name: two\n    match: { action: deploy }\n    approvers: { required: 2, members: [${email('ana')}, ${email('ben')}] }\n`)
    const before = await createViaApi(fx.url, keys.request, { action: 'deploy' })
    await setPolicy(fx.store, project.id, 'default:\n  approvers: { required: 1 }\n')
    const after = await createViaApi(fx.url, keys.request, { action: 'deploy' })
    expect((await voteAs(voters.ana, before.id, 'approve')).body).toMatchObject({ result: 'voted', status: 'pending' })
    expect((await voteAs(voters.ana, after.id, 'approve')).body).toMatchObject({ result: 'decided', status: 'approved' })
    expect(await record(fx.url, keys.request, before.id)).toMatchObject({ required_approvals: 2, policy: { version: 1, rule: 'two' } })
    expect(await record(fx.url, keys.request, after.id)).toMatchObject({ required_approvals: 1, policy: { version: 2, rule: 'default' } })
  })

  it("lets nobody vote on another project's request: a member and a key of another project get 404", async () => {
    const fx = await startDashboard()
    const mine = await projectWithVoters(fx, 'mine', ['ana'])
    const theirs = await projectWithVoters(fx, 'theirs', ['eve'])
    await setPolicy(fx.store, mine.project.id, `default:\n  approvers: { required: 1, members: [${mine.email('ana')}] }\n`)
    const myKeys = await requestAndDecideKeys(fx.store, mine.project.id)
    const theirKeys = await requestAndDecideKeys(fx.store, theirs.project.id)
    const { id } = await createViaApi(fx.url, myKeys.request, { action: 'deploy' })
    expect((await voteAs(theirs.voters.eve, id, 'approve')).status).toBe(404)
    expect((await call(fx.url, 'POST', `/v1/approvals/${id}/decision`, { key: theirKeys.decide, json: { decision: 'approve' } })).status).toBe(404)
    expect((await record(fx.url, myKeys.request, id)).votes).toEqual([])
  })
})

describe('the race', () => {
  it('counts each of many concurrent votes once, and exactly one of them settles the request', async () => {
    const fx = await startDashboard()
    const names = ['p1', 'p2', 'p3', 'p4', 'p5', 'p6', 'p7', 'p8'] as const
    const { project, voters, keys } = await votersUnderPolicy(fx, 'race', names, (email) => `groups:\n  team: [${names.map(email).join(', ')}]\ndefault:\n  approvers: { required: 5, groups: [team] }\n`)
    const { id } = await createViaApi(fx.url, keys.request, { action: 'deploy' })
    const answers = await Promise.all(names.map((name) => voteAs(voters[name], id, 'approve')))
    const counted = answers.filter((answer) => answer.status === 200)
    expect(counted).toHaveLength(5)
    expect(counted.filter((answer) => answer.body.status === 'approved')).toHaveLength(1)
    expect(answers.filter((answer) => answer.status === 409).every((answer) => answer.body.result === 'lost')).toBe(true)
    const final = await record(fx.url, keys.request, id)
    expect(final.status).toBe('approved')
    expect(new Set(final.votes.map((vote: { by: string }) => vote.by)).size).toBe(5)
    const events = (await fx.store.listAudit(project.id)).items.filter((event) => event.approval_id === id)
    expect(events.filter((event) => event.type === 'vote_approve')).toHaveLength(4)
    expect(events.filter((event) => event.type === 'approved')).toHaveLength(1)
  })
})

describe('done when (issue #13)', () => {
  it('requires two distinct SREs for deploy-prod* in business hours and any one member otherwise; the gate passes only then', async () => {
    let now = MONDAY_TEN_BERLIN
    const fx = await startDashboard({ clock: () => now })
    const { voters, email, keys } = await votersUnderPolicy(
      fx,
      'done-when',
      ['sre1', 'sre2', 'dev'],
      (email) =>
        [
          'groups:',
          `  sre: [${email('sre1')}, ${email('sre2')}]`,
          'rules:',
          '  - name: production deploys',
          '    match: { action: ["deploy-prod*"] }',
          '    approvers: { required: 2, groups: [sre] }',
          '    block_self_approval: true',
          '    windows:',
          '      - { days: [mon, tue, wed, thu, fri], from: "09:00", to: "17:00", time_zone: Europe/Berlin }',
          'default:',
          '  approvers: { required: 1 }',
          '',
        ].join('\n'),
    )
    const client = new ApprovalsClient({ apiUrl: fx.url, apiKey: keys.request })

    const prod = await client.create({ action: 'deploy-prod-eu', context: { version: '2.3.1' } })
    expect(prod).toMatchObject({ status: 'pending', required_approvals: 2, policy: { version: 1, rule: 'production deploys' } })
    expect((await voteAs(voters.dev, prod.id, 'approve')).status).toBe(403)
    expect((await voteAs(voters.sre1, prod.id, 'approve')).body.status).toBe('pending')
    expect((await voteAs(voters.sre1, prod.id, 'approve')).status).toBe(409)
    expect((await client.get(prod.id)).status).toBe('pending')
    const gate = client.get(prod.id, { waitSeconds: 30 })
    expect((await voteAs(voters.sre2, prod.id, 'approve')).body.status).toBe('approved')
    expect(await gate).toMatchObject({ status: 'approved', votes: [{ by: email('sre1') }, { by: email('sre2') }] })

    // Outside business hours no SRE can approve a production deploy.
    now = SUNDAY_NOON
    const weekend = await client.create({ action: 'deploy-prod-us' })
    expect((await voteAs(voters.sre1, weekend.id, 'approve')).status).toBe(403)

    // Everything else: any one member, any time.
    const staging = await client.create({ action: 'deploy-staging' })
    expect((await voteAs(voters.dev, staging.id, 'approve')).body).toMatchObject({ result: 'decided', status: 'approved' })
    expect(await client.get(staging.id)).toMatchObject({ status: 'approved', required_approvals: 1, policy: { version: 1, rule: 'default' } })
  })
})

describe('a restart between votes', () => {
  it('keeps the first vote and the rule, and the second vote after the restart settles the request', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'approval-gate-votes-restart-'))
    try {
      let server = await startServer({ dataDir, port: 0 })
      const project = await server.store.createProject('restart')
      await setPolicy(server.store, project.id, 'default:\n  approvers: { required: 2 }\n')
      const request = await createKey(server.store, project.id, ['request'], 'ci')
      const [first, second] = [await createKey(server.store, project.id, ['decide'], 'first'), await createKey(server.store, project.id, ['decide'], 'second')]
      const created = await call(server.url, 'POST', '/v1/approvals', { key: request, json: { action: 'deploy' } })
      const voted = await call(server.url, 'POST', `/v1/approvals/${created.body.id}/decision`, { key: first, json: { decision: 'approve' } })
      expect(voted.body).toMatchObject({ status: 'pending', required_approvals: 2, votes: [{ by: 'key:first' }] })
      await server.close()

      server = await startServer({ dataDir, port: 0 })
      try {
        expect((await call(server.url, 'GET', `/v1/approvals/${created.body.id}`, { key: request })).body).toMatchObject({ status: 'pending', votes: [{ by: 'key:first' }] })
        const again = await call(server.url, 'POST', `/v1/approvals/${created.body.id}/decision`, { key: first, json: { decision: 'approve' } })
        expect([again.status, again.body.error?.code]).toEqual([409, 'already_voted'])
        const settled = await call(server.url, 'POST', `/v1/approvals/${created.body.id}/decision`, { key: second, json: { decision: 'approve', reason: 'after the restart' } })
        expect(settled.body).toMatchObject({ status: 'approved', decided_by: 'key:second', votes: [{ by: 'key:first' }, { by: 'key:second' }] })
        expect(await server.store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true })
      } finally {
        await server.close()
      }
    } finally {
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})
