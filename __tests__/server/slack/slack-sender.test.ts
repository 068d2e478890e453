/**
 * The Slack sender against the local Slack API stand-in: one message per request with the
 * buttons, later events update that message, reminders reply in its thread; hostile context
 * cannot mention anyone or make links; failures say whether a retry can help; a hanging API
 * is cut off by the delivery's abort signal.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { ApprovalRecord } from '../../../src/contract/index.js'
import type { Channel, NotificationEvent, NotificationEventType } from '../../../src/server/notifications/types.js'
import { createSlackSender, parseMessageRef } from '../../../src/server/slack/slack-sender.js'
import { encodeSlackSecret } from '../../../src/server/slack/slack-secret.js'
import { SlackApiStandIn } from '../../helpers/slack-api-stand-in.js'

const SIGNING_SECRET = 'abcdef0123456789abcdef0123456789'
let slack: SlackApiStandIn
let secret: string

beforeAll(async () => {
  slack = await SlackApiStandIn.start()
  secret = encodeSlackSecret({ botToken: slack.botToken, signingSecret: SIGNING_SECRET })
})
afterAll(async () => {
  await slack.close()
})

const channel: Channel = {
  id: 'chn_slack1',
  project_id: 'prj_1',
  kind: 'slack',
  name: 'deploys',
  config: { channel: '#deploys' },
  events: ['approval.created', 'approval.decided'],
  remind_after_ms: null,
  escalate_after_ms: null,
  escalate_to: null,
  created_at: new Date().toISOString(),
}

function record(overrides: Partial<ApprovalRecord> = {}): ApprovalRecord {
  const created = new Date(Date.now() - 90_000).toISOString()
  return {
    id: `apr_${Math.random().toString(36).slice(2)}`,
    status: 'pending',
    action: 'deploy web to production',
    context: { github: { repository: 'acme/web', ref: 'refs/heads/main', actor: 'octocat' }, version: '1.4.2' },
    agent: null,
    reason: null,
    decided_by: null,
    decided_at: null,
    created_at: created,
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    url: 'https://gate.example.com/approvals/apr_1',
    requester: null,
    ...overrides,
  }
}

function event(type: NotificationEventType, approval: ApprovalRecord): NotificationEvent {
  return { delivery_id: `dlv_${Math.random()}`, type, occurred_at: new Date().toISOString(), project: { id: 'prj_1', name: 'web' }, approval }
}

const sender = () => createSlackSender({ apiUrl: slack.url })
const signal = () => AbortSignal.timeout(30_000)

describe('Slack sender', () => {
  it('posts one message with the request, its key context, a dashboard link and Approve / Reject, then updates it with the outcome', async () => {
    const approval = record({
      requester: { issuer: 'https://token.actions.githubusercontent.com', repository: 'acme/web', ref: 'refs/heads/main', sha: null, workflow_ref: null, run_id: '7', run_attempt: '1', actor: 'octocat', triggering_actor: null, environment: 'production', event_name: 'push' },
    })
    const created = await sender().deliver(channel, secret, event('approval.created', approval), null, signal())
    expect(created).toMatchObject({ ok: true, status_code: 200, error: null })
    const ref = parseMessageRef(created.remote_ref)
    expect(ref).not.toBeNull()
    const posted = slack.message(ref!.ts)!
    expect(posted.channel).toBe(slack.channelId('#deploys'))
    expect(slack.calls.at(-1)).toMatchObject({ method: 'chat.postMessage', token: slack.botToken })
    const text = SlackApiStandIn.textOf(posted)
    expect(text).toContain('deploy web to production')
    expect(text).toContain('Verified requester: acme/web · refs/heads/main · environment production by octocat')
    expect(text).toContain('1.4.2')
    expect(text).toMatch(/waiting 1m/)
    expect(SlackApiStandIn.buttonsOf(posted)).toEqual(['approval_gate_approve', 'approval_gate_reject', 'approval_gate_open'])
    expect(JSON.stringify(posted.blocks)).toContain('"url":"https://gate.example.com/approvals/apr_1"')

    const decided = { ...approval, status: 'approved' as const, decided_by: 'ada@example.com', decided_at: new Date().toISOString(), reason: 'looks good' }
    const updated = await sender().deliver(channel, secret, event('approval.decided', decided), created.remote_ref, signal())
    expect(updated).toMatchObject({ ok: true, remote_ref: created.remote_ref })
    expect(slack.calls.at(-1)?.method).toBe('chat.update')
    const after = slack.message(ref!.ts)!
    expect(SlackApiStandIn.textOf(after)).toContain('*Approved* by ada@example.com: “looks good”')
    expect(SlackApiStandIn.buttonsOf(after)).toEqual(['approval_gate_open'])
    expect(slack.messages.filter((message) => message.ts === ref!.ts)).toHaveLength(1)
  })

  it('replies in the thread for a reminder instead of posting a new message', async () => {
    const approval = record()
    const created = await sender().deliver(channel, secret, event('approval.created', approval), null, signal())
    const before = slack.messages.length
    const reminded = await sender().deliver(channel, secret, event('approval.reminder', approval), created.remote_ref, signal())
    expect(reminded.ok).toBe(true)
    expect(slack.messages).toHaveLength(before + 1)
    expect(slack.messages.at(-1)).toMatchObject({ thread_ts: parseMessageRef(created.remote_ref)!.ts })
    expect(slack.messages.at(-1)!.text).toContain('Still waiting for a decision')
  })

  it('never lets context, action or reasons mention anyone or make links, and caps their length', async () => {
    const hostile = '<!channel> <@U0ADMIN> <https://evil.example/steal|click to approve> &amp; https://evil.example mail@evil.example'
    const approval = record({
      action: `deploy <!here> ${'x'.repeat(300)}`,
      context: { note: hostile, 'evil<@U1>key': 'v', long: 'y'.repeat(5_000), newline: 'a\nb\u202Ec', github: { repository: '<!everyone>' } },
    })
    const created = await sender().deliver(channel, secret, event('approval.created', approval), null, signal())
    const posted = slack.message(parseMessageRef(created.remote_ref)!.ts)!
    const text = SlackApiStandIn.textOf(posted) + posted.text
    // Our only `<…>` tokens are Slack dates; nothing from the request can open one.
    expect(text.replace(/<!date\^\d+\^\{date_short_pretty\} \{time\}\|[^<>]+>/g, '')).not.toMatch(/[<>]/)
    expect(text).toContain('&lt;!channel&gt; &lt;@U0ADMIN&gt; &lt;https://evil.example/steal|click to approve&gt; &amp;amp;')
    expect(text).toContain('&lt;!everyone&gt;')
    expect(text).not.toContain('y'.repeat(201))
    expect(text).toContain(`${'y'.repeat(199)}…`)
    expect(text).toContain('a b c')
    // Every mrkdwn object is verbatim: Slack does not turn the bare URL or email into a link.
    const texts = JSON.stringify(posted.blocks).match(/"type":"mrkdwn","text":"(?:[^"\\]|\\.)*"(,"verbatim":(true|false))?/g) ?? []
    expect(texts.length).toBeGreaterThan(3)
    for (const object of texts) expect(object).toMatch(/"verbatim":true$/)
    const postCall = slack.calls.filter((call) => call.method === 'chat.postMessage').at(-1)!
    expect(postCall.args).toMatchObject({ parse: 'none', link_names: 'false', unfurl_links: 'false' })
  })

  it('says whether a retry can help: a wrong token or a deleted message no, a 500 or a rate limit yes; errors never carry the token', async () => {
    const wrongToken = encodeSlackSecret({ botToken: 'xoxb-some-other-token', signingSecret: SIGNING_SECRET })
    const results = [
      await sender().deliver(channel, wrongToken, event('approval.created', record()), null, signal()),
      await sender().deliver(channel, secret, event('approval.decided', record({ status: 'rejected' })), 'C00000001/1.000001', signal()),
    ]
    slack.failNext('chat.postMessage', { status: 500 })
    results.push(await sender().deliver(channel, secret, event('approval.created', record()), null, signal()))
    slack.failNext('chat.postMessage', { status: 429 })
    results.push(await sender().deliver(channel, secret, event('approval.created', record()), null, signal()))
    results.push(await sender().deliver(channel, 'not json', event('approval.created', record()), null, signal()))
    results.push(await sender().deliver({ ...channel, config: {} }, secret, event('approval.created', record()), null, signal()))
    expect(results).toMatchObject([
      { ok: false, retryable: false, error: 'chat.postMessage: Slack answered invalid_auth' },
      { ok: false, retryable: false, error: 'chat.update: Slack answered message_not_found' },
      { ok: false, retryable: true, status_code: 500 },
      { ok: false, retryable: true, status_code: 429 },
      { ok: false, retryable: false, error: 'the channel has no usable Slack bot token and signing secret' },
      { ok: false, retryable: false, error: 'the channel has no Slack channel configured' },
    ])
    expect(JSON.stringify(results)).not.toContain('xoxb-')
  })

  it('gives up on a Slack API that never answers when the delivery is aborted', async () => {
    slack.hang = true
    try {
      const result = await sender().deliver(channel, secret, event('approval.created', record()), null, AbortSignal.timeout(300))
      expect(result).toMatchObject({ ok: false, retryable: true })
    } finally {
      slack.hang = false
    }
  })
})
