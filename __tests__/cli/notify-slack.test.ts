/**
 * `approval-gate notify add … slack '#channel'`: the bot token and signing secret come from the
 * environment and are never printed (nor listed); the Interactivity Request URL is printed;
 * bad channels and missing secrets are refused, naming what is wrong, and add nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { SlackApiStandIn } from '../helpers/slack-api-stand-in.js'
import { runCli } from './helpers.js'

const BOT_TOKEN = 'xoxb-1111-2222-secretbottoken'
const SIGNING_SECRET = 'feedfacecafebeeffeedfacecafebeef'
let dir: string
let data: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-notify-slack-'))
  data = join(dir, 'data')
  expect((await runCli(['project', 'create', 'web', '--data', data])).code).toBe(0)
}, 60_000)
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const env = { SLACK_BOT_TOKEN: BOT_TOKEN, SLACK_SIGNING_SECRET: SIGNING_SECRET, APPROVAL_GATE_PUBLIC_URL: 'https://gate.example.com' }

describe('notify add slack', () => {
  it('adds the channel, prints the Request URL for Slack, and never shows the token or signing secret', async () => {
    const added = await runCli(['notify', 'add', '--project', 'web', 'slack', '#deploys', '--events', 'created,decided', '--data', data], { env })
    expect(added.code).toBe(0)
    const id = /channel (chn_[A-Za-z0-9_-]+)/.exec(added.stdout)?.[1]
    expect(id).toBeDefined()
    expect(added.stdout).toContain(`Request URL to: https://gate.example.com/integrations/slack/${id}/interactivity`)
    const listed = await runCli(['notify', 'list', '--project', 'web', '--json', '--data', data])
    expect(JSON.parse(listed.stdout)).toMatchObject([{ id, kind: 'slack', config: { channel: '#deploys' } }])
    for (const output of [added.stdout, added.stderr, listed.stdout, listed.stderr]) {
      expect(output).not.toContain(BOT_TOKEN)
      expect(output).not.toContain(SIGNING_SECRET)
    }
  }, 60_000)

  it('notify test posts a made-up request to the Slack API named by --slack-api-url, with the token', async () => {
    const slack = await SlackApiStandIn.start(BOT_TOKEN)
    try {
      const tested = await runCli(['notify', 'test', '--project', 'web', 'slack deploys', '--slack-api-url', slack.url, '--data', data])
      expect(tested.stderr).toBe('')
      expect(tested.stdout).toContain('Sent a test notification to slack channel "slack deploys"')
      expect(slack.calls).toMatchObject([{ method: 'chat.postMessage', token: BOT_TOKEN }])
      expect(SlackApiStandIn.textOf(slack.messages[0])).toContain('approval-gate test notification')
    } finally {
      await slack.close()
    }
  }, 60_000)

  it('refuses a missing secret, a malformed token or channel, and recipients, adding nothing', async () => {
    const cases: Array<[string[], Record<string, string>, string]> = [
      [['slack', '#ops'], { APPROVAL_GATE_PUBLIC_URL: 'https://gate.example.com' }, 'set SLACK_BOT_TOKEN'],
      [['slack', '#ops'], { ...env, SLACK_BOT_TOKEN: 'not-a-token' }, 'the Slack bot token must look like xoxb-'],
      [['slack', '#ops'], { ...env, SLACK_SIGNING_SECRET: 'short' }, 'the Slack signing secret must be'],
      [['slack', '<!channel>'], env, 'a Slack channel is its id'],
      [['slack'], env, 'give the Slack channel'],
      [['slack', '#ops', '--to', 'a@example.com'], env, '--to is for email channels'],
    ]
    for (const [args, caseEnv, message] of cases) {
      const result = await runCli(['notify', 'add', '--project', 'web', ...args, '--data', data], { env: caseEnv })
      expect([args, result.code === 0]).toEqual([args, false])
      expect(result.stderr).toContain(message)
    }
    const listed = await runCli(['notify', 'list', '--project', 'web', '--json', '--data', data])
    expect((JSON.parse(listed.stdout) as Array<{ name: string }>).map((channel) => channel.name)).toEqual(['slack deploys'])
  }, 60_000)
})
