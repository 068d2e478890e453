/**
 * The whole Slack loop against a real server and the local Slack API stand-in: a gate waits in
 * `requireApproval`, the delivery worker posts the request to the Slack channel, a linked
 * member clicks Approve (signed like Slack), and the waiting gate resumes; the one message ends
 * showing the outcome without buttons, also after the worker delivers the decision.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { requestApproval } from '../../../src/client/index.js'
import { startServer, type RunningServer } from '../../../src/server/server.js'
import { addSlackChannel, interactivityUrl } from '../../../src/server/slack/slack-channels.js'
import { buttonClick, signedInteraction, SlackApiStandIn } from '../../helpers/slack-api-stand-in.js'
import { waitUntil } from '../../helpers/wait-until.js'
import { createKey } from '../helpers.js'

const SIGNING_SECRET = '0123456789abcdef0123456789abcdef'

let slack: SlackApiStandIn
let server: RunningServer
let dataDir: string

beforeAll(async () => {
  slack = await SlackApiStandIn.start()
  dataDir = await mkdtemp(join(tmpdir(), 'approval-gate-slack-e2e-'))
  server = await startServer({ dataDir, port: 0, notifications: { slackApiUrl: slack.url } })
}, 60_000)

afterAll(async () => {
  await server?.close()
  await slack?.close()
  await rm(dataDir, { recursive: true, force: true })
})

describe('deciding from Slack, end to end', () => {
  it('posts the waiting request to Slack; Approve there resumes the gate', async () => {
    const store = server.store
    const project = await store.createProject('web')
    const requestKey = await createKey(store, project.id, ['request'], 'ci')
    const ada = await store.createUser({ email: 'ada@example.com', password_hash: 'x' })
    await store.setMembership(project.id, ada.id, 'member')
    await store.setMemberSlackUser(project.id, ada.id, 'U0ADA')
    const channel = await addSlackChannel(server.notifications.channels, project, 'cli', { channel: '#deploys', botToken: slack.botToken, signingSecret: SIGNING_SECRET })

    const gate = requestApproval('deploy web', { apiUrl: server.url, apiKey: requestKey, context: { version: '2.0.0' }, timeoutMs: 60_000 })
    const posted = await waitUntil(() => slack.messages.find((message) => SlackApiStandIn.buttonsOf(message).includes('approval_gate_approve')), { what: 'the request posted to Slack with its buttons' })
    expect(SlackApiStandIn.textOf(posted)).toContain('deploy web')
    const approvalId = JSON.stringify(posted.blocks).match(/"value":"(apr_[A-Za-z0-9_-]+)"/)![1]

    const signed = signedInteraction(SIGNING_SECRET, buttonClick('U0ADA', posted, 'approval_gate_approve', approvalId))
    const answer = await fetch(interactivityUrl(server.url, channel), { method: 'POST', headers: signed.headers, body: signed.body })
    expect(answer.status).toBe(200)

    const record = await gate
    expect(record).toMatchObject({ id: approvalId, status: 'approved', decided_by: 'ada@example.com' })
    // The worker's own delivery of the decision updates the same message: one message, no buttons.
    await waitUntil(
      async () => (await store.listDeliveries(project.id, channel.id)).filter((delivery) => delivery.status === 'delivered').length >= 2,
      { what: 'the created and decided deliveries' },
    )
    const messages = slack.messages.filter((message) => message.thread_ts === null && JSON.stringify(message.blocks).includes(approvalId))
    expect(messages).toHaveLength(1)
    expect(SlackApiStandIn.buttonsOf(messages[0])).toEqual(['approval_gate_open'])
    expect(SlackApiStandIn.textOf(messages[0])).toContain('*Approved* by ada@example.com')
  }, 60_000)
})
