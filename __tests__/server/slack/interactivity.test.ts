/**
 * Deciding from Slack against a real server (SQLite file, loopback HTTP) and the local Slack
 * API stand-in, with interaction payloads signed like Slack's: a valid click decides as the
 * linked member and updates the message; a wrong secret, a stale timestamp, a replay, an
 * oversized body, an unknown channel and a malformed payload change nothing; unlinked users,
 * users linked in another project, decided requests and self-approval attempts are told why,
 * only to them; Reject asks for a reason in a modal and the submission decides.
 */
import { createHash } from 'node:crypto'
import { mkdtemp, rm } from 'node:fs/promises'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { Channel } from '../../../src/server/notifications/types.js'
import { startServer, type RunningServer } from '../../../src/server/server.js'
import { createSlackSender, parseMessageRef } from '../../../src/server/slack/slack-sender.js'
import { addSlackChannel } from '../../../src/server/slack/slack-channels.js'
import type { Project } from '../../../src/server/store/types.js'
import { buttonClick, signedInteraction, SlackApiStandIn, type StoredMessage } from '../../helpers/slack-api-stand-in.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { call, createKey } from '../helpers.js'

const SIGNING_SECRET = 'a1b2c3d4e5f6a7b8c9d0a1b2c3d4e5f6'
const OTHER_SIGNING_SECRET = 'ffffeeeeddddccccbbbbaaaa99998888'

let slack: SlackApiStandIn
let server: RunningServer
let dataDir: string
let main: Project
let other: Project
let requestKey: string
let shared: Project
let sharedKey: string
let policed: Project
let policedKey: string
/** Our names for the test's channels → the stored channels. */
const channels = new Map<string, Channel>()

beforeAll(async () => {
  slack = await SlackApiStandIn.start()
  dataDir = await mkdtemp(join(tmpdir(), 'approval-gate-slack-'))
  server = await startServer({
    dataDir,
    port: 0,
    publicUrl: 'https://gate.example.test/',
    notifications: { slackApiUrl: slack.url, allowPrivateWebhooks: true },
  })
  const store = server.store
  main = await store.createProject('main', { blockSelfApproval: true })
  other = await store.createProject('other')
  requestKey = await createKey(store, main.id, ['request'], 'ci')
  const member = async (email: string, project: Project, slackUser: string, githubLogin: string | null = null) => {
    const user = (await store.getUserByEmail(email)) ?? (await store.createUser({ email, password_hash: 'x' }))
    await store.setMembership(project.id, user.id, 'member', { github_login: githubLogin })
    await store.setMemberSlackUser(project.id, user.id, slackUser)
  }
  await member('ada@example.com', main, 'U0ADA')
  await member('carol@example.com', main, 'U0CAROL', 'octocat')
  await member('bob@example.com', other, 'U0BOB')
  // Only created events: the test posts and clicks itself, so no delivery races its assertions.
  const add = (project: Project, signingSecret: string) =>
    addSlackChannel(server.notifications.channels, project, 'cli', { channel: '#deploys', botToken: slack.botToken, signingSecret }, { events: ['approval.cancelled'] })
  channels.set('main', await add(main, SIGNING_SECRET))
  channels.set('other', await add(other, OTHER_SIGNING_SECRET))
  // A third project set up with the same Slack app as main (one app has one Request URL).
  shared = await store.createProject('shared')
  sharedKey = await createKey(store, shared.id, ['request'], 'ci')
  await member('dave@example.com', shared, 'U0DAVE')
  channels.set('shared', await add(shared, SIGNING_SECRET))
  // A project under a policy: two of sre must approve deploys; gus is a member outside sre.
  policed = await store.createProject('policed')
  policedKey = await createKey(store, policed.id, ['request'], 'ci')
  await member('erin@example.com', policed, 'U0ERIN')
  await member('finn@example.com', policed, 'U0FINN')
  await member('gus@example.com', policed, 'U0GUS')
  const policy = 'groups:\n  sre: [erin@example.com, finn@example.com]\nrules:\n  - name: deploys\n    match: { action: "deploy*" }\n    approvers: { required: 2, groups: [sre] }\n'
  await store.setPolicy({ project_id: policed.id, source: policy, format: 'yaml', hash: createHash('sha256').update(policy).digest('hex'), created_by: 'cli' })
  channels.set('policed', await add(policed, SIGNING_SECRET))
  channels.set('hook', (await server.notifications.channels.addWebhook(main, 'cli', 'http://127.0.0.1:9/hook', { events: ['approval.cancelled'] })).channel)
}, 60_000)

afterAll(async () => {
  await server?.close()
  await slack?.close()
  await rm(dataDir, { recursive: true, force: true })
})

/** A pending request in `main` (or `shared`), announced in Slack by the sender: its id and its message. */
async function requestInSlack(context: Record<string, unknown> = {}, where: 'main' | 'shared' | 'policed' = 'main'): Promise<{ id: string; message: StoredMessage }> {
  const project = { main, shared, policed }[where]
  const key = { main: requestKey, shared: sharedKey, policed: policedKey }[where]
  const created = await call(server.url, 'POST', '/v1/approvals', { key, json: { action: 'deploy web', context } })
  expect(created.status).toBe(201)
  const sent = await createSlackSender({ apiUrl: slack.url }).deliver(
    channels.get(where)!,
    await server.store.getChannelSecret(project.id, channels.get(where)!.id),
    { delivery_id: 'dlv_1', type: 'approval.created', occurred_at: new Date().toISOString(), project: { id: project.id, name: project.name }, approval: created.body },
    null,
    AbortSignal.timeout(30_000),
  )
  expect(sent.ok).toBe(true)
  return { id: created.body.id, message: slack.message(parseMessageRef(sent.remote_ref)!.ts)! }
}

/** Posts a signed interaction to the test's channel `name` (or to the channel id given). */
async function interact(name: string, signed: { body: string; headers: Record<string, string> }): Promise<{ status: number; text: string }> {
  const channelId = channels.get(name)?.id ?? name
  const response = await fetch(`${server.url}/integrations/slack/${channelId}/interactivity`, { method: 'POST', headers: signed.headers, body: signed.body })
  return { status: response.status, text: await response.text() }
}

const click = (user: string, message: StoredMessage, action: 'approve' | 'reject', id: string, secret = SIGNING_SECRET, channelId = 'main') =>
  interact(channelId, signedInteraction(secret, buttonClick(user, message, `approval_gate_${action}`, id)))

async function statusOf(id: string): Promise<{ status: string; decided_by: string | null; reason: string | null }> {
  const approval = await server.store.getApprovalById(id)
  return { status: approval!.status, decided_by: approval!.decided_by, reason: approval!.reason }
}

const ephemeralFor = (user: string, containing: string) =>
  waitUntil(() => slack.ephemerals.find((message) => message.user === user && message.text.includes(containing)), { what: `an ephemeral message to ${user} saying "${containing}"` })

describe('Slack interactivity', () => {
  it('decides as the linked member on Approve and updates the message with the outcome and no buttons', async () => {
    const { id, message } = await requestInSlack()
    expect(await click('U0ADA', message, 'approve', id)).toEqual({ status: 200, text: '' })
    await waitUntil(() => SlackApiStandIn.textOf(slack.message(message.ts)!).includes('*Approved* by ada@example.com'), { what: 'the message to show the approval' })
    expect(SlackApiStandIn.buttonsOf(slack.message(message.ts)!)).toEqual(['approval_gate_open'])
    expect(await statusOf(id)).toMatchObject({ status: 'approved', decided_by: 'ada@example.com' })
  })

  it('answers at once even while the Slack API hangs: the decision does not wait for Slack', async () => {
    const { id, message } = await requestInSlack()
    slack.hang = true
    try {
      expect((await click('U0ADA', message, 'approve', id)).status).toBe(200)
      expect((await statusOf(id)).status).toBe('approved')
    } finally {
      slack.hang = false
    }
  })

  it('refuses a wrong signing secret, a stale timestamp, a replay and a missing signature, changing nothing', async () => {
    const { id, message } = await requestInSlack()
    const payload = buttonClick('U0ADA', message, 'approval_gate_approve', id)
    const wrong = await interact('main', signedInteraction(OTHER_SIGNING_SECRET, payload))
    expect(wrong.status).toBe(401)
    expect(wrong.text).toContain("does not match this channel's signing secret")
    const stale = await interact('main', signedInteraction(SIGNING_SECRET, payload, { timestamp: Math.floor(Date.now() / 1000) - 6 * 60 }))
    expect(stale.status).toBe(401)
    expect(stale.text).toContain('more than 5 minutes')
    const future = await interact('main', signedInteraction(SIGNING_SECRET, payload, { timestamp: Math.floor(Date.now() / 1000) + 6 * 60 }))
    expect(future.status).toBe(401)
    const unsigned = signedInteraction(SIGNING_SECRET, payload)
    delete unsigned.headers['x-slack-signature']
    expect((await interact('main', unsigned)).status).toBe(401)
    // The body changed after signing (another approval id) fails too.
    const tampered = signedInteraction(SIGNING_SECRET, payload)
    expect((await interact('main', { ...tampered, body: tampered.body.replace(id, `${id.slice(0, -1)}x`) })).status).toBe(401)
    expect(await statusOf(id)).toMatchObject({ status: 'pending' })

    // A click sent again: the first decides, the copy is refused.
    const reject = signedInteraction(SIGNING_SECRET, buttonClick('U0ADA', message, 'approval_gate_approve', id))
    expect((await interact('main', reject)).status).toBe(200)
    const replayed = await interact('main', reject)
    expect(replayed.status).toBe(401)
    expect(replayed.text).toContain('already received')
  })

  it('refuses an oversized body, another content type, unknown or non-Slack channels and malformed payloads', async () => {
    const { id, message } = await requestInSlack()
    const big = signedInteraction(SIGNING_SECRET, { ...buttonClick('U0ADA', message, 'approval_gate_approve', id), padding: 'x'.repeat(70 * 1024) })
    expect((await interact('main', big)).status).toBe(413)
    const json = signedInteraction(SIGNING_SECRET, buttonClick('U0ADA', message, 'approval_gate_approve', id))
    expect((await interact('main', { ...json, headers: { ...json.headers, 'content-type': 'application/json' }, body: '{}' })).status).toBe(415)
    expect((await interact('chn_nope', signedInteraction(SIGNING_SECRET, {}))).status).toBe(404)
    expect((await interact('hook', signedInteraction(SIGNING_SECRET, buttonClick('U0ADA', message, 'approval_gate_approve', id)))).status).toBe(404)
    expect((await interact('main', signedInteraction(SIGNING_SECRET, {}, { body: 'payload=not-json' }))).status).toBe(400)
    expect((await interact('main', signedInteraction(SIGNING_SECRET, { type: 'block_actions', user: { id: '<@U1>' } }))).status).toBe(400)
    expect(await statusOf(id)).toMatchObject({ status: 'pending' })
  })

  it('keeps deciding while another sender trickles its body (slow requests hold only their own connection)', async () => {
    const { id, message } = await requestInSlack()
    const slow = signedInteraction(SIGNING_SECRET, buttonClick('U0ADA', message, 'approval_gate_reject', id))
    const { port } = new URL(server.url)
    const socket = connect(Number(port), '127.0.0.1')
    await new Promise<void>((resolve) => socket.once('connect', resolve))
    socket.write(
      `POST /integrations/slack/${channels.get('main')!.id}/interactivity HTTP/1.1\r\nhost: 127.0.0.1\r\n` +
        Object.entries(slow.headers).map(([name, value]) => `${name}: ${value}\r\n`).join('') +
        `content-length: ${Buffer.byteLength(slow.body)}\r\n\r\n${slow.body.slice(0, 10)}`,
    )
    try {
      expect((await click('U0ADA', message, 'approve', id)).status).toBe(200)
      expect(await statusOf(id)).toMatchObject({ status: 'approved', decided_by: 'ada@example.com' })
    } finally {
      socket.destroy()
    }
  })

  it('tells an unlinked Slack user how to link, and a user linked only in another project the same', async () => {
    const { id, message } = await requestInSlack()
    expect((await click('U0NOBODY', message, 'approve', id)).status).toBe(200)
    const told = await ephemeralFor('U0NOBODY', 'is not linked to a member of the project main')
    expect(told.text).toContain('https://gate.example.test/account')
    expect(told.text).toContain('approval-gate user slack --project main --email YOUR_EMAIL --slack-user U0NOBODY')
    expect((await click('U0BOB', message, 'approve', id)).status).toBe(200)
    await ephemeralFor('U0BOB', 'is not linked to a member of the project main')
    expect(await statusOf(id)).toMatchObject({ status: 'pending' })
  })

  it("never decides another project's request through a channel, even for its own member", async () => {
    const { id, message } = await requestInSlack()
    // bob is linked in `other`; its channel's signed click names main's approval.
    expect((await click('U0BOB', message, 'approve', id, OTHER_SIGNING_SECRET, 'other')).status).toBe(200)
    await ephemeralFor('U0BOB', 'This request is not part of the project other')
    expect(await statusOf(id)).toMatchObject({ status: 'pending' })
  })

  it("serves several projects through one Slack app's Request URL, deciding in the approval's project as the member linked there", async () => {
    const { id, message } = await requestInSlack({}, 'shared')
    // Slack sends every click of the app to the one Request URL: here main's channel.
    expect((await click('U0ADA', message, 'approve', id)).status).toBe(200)
    await ephemeralFor('U0ADA', 'is not linked to a member of the project shared')
    expect(await statusOf(id)).toMatchObject({ status: 'pending' })
    expect((await click('U0DAVE', message, 'approve', id)).status).toBe(200)
    await waitUntil(async () => (await statusOf(id)).status === 'approved', { what: 'the shared project approval' })
    expect(await statusOf(id)).toMatchObject({ decided_by: 'dave@example.com' })
  })

  it('tells whoever clicks a decided request that it is too late, and shows the outcome in the message', async () => {
    const { id, message } = await requestInSlack()
    expect((await click('U0ADA', message, 'approve', id)).status).toBe(200)
    await waitUntil(async () => (await statusOf(id)).status === 'approved', { what: 'the approval' })
    expect((await click('U0CAROL', message, 'reject', id)).status).toBe(200)
    await ephemeralFor('U0CAROL', 'Too late: this request was already approved by ada@example.com')
    expect(await statusOf(id)).toMatchObject({ status: 'approved', decided_by: 'ada@example.com' })
  })

  it('refuses self-approval: the member whose GitHub login triggered the run', async () => {
    const { id, message } = await requestInSlack({ github: { actor: 'octocat', repository: 'acme/web' } })
    expect((await click('U0CAROL', message, 'approve', id)).status).toBe(200)
    await ephemeralFor('U0CAROL', 'You cannot decide this request: the run was triggered by octocat')
    expect((await click('U0CAROL', message, 'reject', id)).status).toBe(200)
    await waitUntil(() => slack.ephemerals.filter((told) => told.user === 'U0CAROL' && told.text.includes('triggered by octocat')).length === 2, { what: 'the second refusal' })
    // No reason modal opens for someone who may not decide.
    expect(slack.views.some((view) => JSON.stringify(view.view).includes(id))).toBe(false)
    expect(await statusOf(id)).toMatchObject({ status: 'pending' })
  })

  it("counts Slack clicks as votes under the project's policy: only eligible members, each once, approved when two of sre agree", async () => {
    const { id, message } = await requestInSlack({}, 'policed')
    const votesOf = async () => (await server.store.getApprovalById(id))!.votes ?? []
    // gus is a member but not in sre: refused on Approve, and Reject opens no reason form.
    expect((await click('U0GUS', message, 'approve', id, SIGNING_SECRET, 'policed')).status).toBe(200)
    expect((await click('U0GUS', message, 'reject', id, SIGNING_SECRET, 'policed')).status).toBe(200)
    await waitUntil(() => slack.ephemerals.filter((told) => told.user === 'U0GUS').length === 2, { what: 'two refusals told to gus' })
    expect(slack.views.some((view) => JSON.stringify(view.view).includes(id))).toBe(false)
    expect(await votesOf()).toEqual([])
    // erin's vote counts but one of sre is not enough; her second click is refused, not counted twice.
    expect((await click('U0ERIN', message, 'approve', id, SIGNING_SECRET, 'policed')).status).toBe(200)
    await waitUntil(async () => (await votesOf()).length === 1, { what: "erin's vote" })
    expect(await statusOf(id)).toMatchObject({ status: 'pending' })
    expect((await click('U0ERIN', message, 'approve', id, SIGNING_SECRET, 'policed')).status).toBe(200)
    await ephemeralFor('U0ERIN', 'already voted')
    expect((await votesOf()).map((vote) => vote.by)).toEqual(['erin@example.com'])
    // finn makes it two of sre: approved.
    expect((await click('U0FINN', message, 'approve', id, SIGNING_SECRET, 'policed')).status).toBe(200)
    await waitUntil(async () => (await statusOf(id)).status === 'approved', { what: 'the approval' })
    expect((await votesOf()).map((vote) => vote.by).sort()).toEqual(['erin@example.com', 'finn@example.com'])
  })

  it('asks for a reason in a modal on Reject; the signed submission decides and updates the message', async () => {
    const { id, message } = await requestInSlack()
    expect((await click('U0ADA', message, 'reject', id)).status).toBe(200)
    const opened = await waitUntil(() => slack.views.find((view) => JSON.stringify(view.view).includes(id)), { what: 'the reason modal' })
    expect(await statusOf(id)).toMatchObject({ status: 'pending' })
    const view = opened.view
    const submission = {
      type: 'view_submission',
      team: { id: 'T00000001' },
      user: { id: 'U0ADA' },
      view: { ...view, id: 'V1', state: { values: { reason: { reason_input: { type: 'plain_text_input', value: 'tests are red <!channel>' } } } } },
    }
    // A submission by someone unlinked is refused in the modal.
    const refused = await interact('main', signedInteraction(SIGNING_SECRET, { ...submission, user: { id: 'U0NOBODY' } }))
    expect(refused.status).toBe(200)
    expect(JSON.parse(refused.text)).toMatchObject({ response_action: 'errors', errors: { reason: expect.stringContaining('is not linked') as unknown } })
    const submitted = await interact('main', signedInteraction(SIGNING_SECRET, submission))
    expect(submitted).toEqual({ status: 200, text: '' })
    expect(await statusOf(id)).toMatchObject({ status: 'rejected', decided_by: 'ada@example.com', reason: 'tests are red <!channel>' })
    await waitUntil(() => SlackApiStandIn.textOf(slack.message(message.ts)!).includes('*Rejected* by ada@example.com: “tests are red &lt;!channel&gt;”'), { what: 'the message to show the rejection and its escaped reason' })
  })
})
