/**
 * `serve --slack-api-url` in real processes: the CLI sets up a Slack channel and a member's
 * Slack link, `serve` posts the request to the local Slack API stand-in, and a signed click on
 * its Request URL approves it. A malformed base URL (or one carrying credentials) stops serve
 * before anything starts.
 */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { buttonClick, signedInteraction, SlackApiStandIn } from '../helpers/slack-api-stand-in.js'
import { waitUntil } from '../helpers/wait-until.js'
import { runCli, startServe, stop } from './helpers.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-serve-slack-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('serve --slack-api-url', () => {
  it('posts requests to the Slack API it names, and a signed click on the printed Request URL decides', async () => {
    const slack = await SlackApiStandIn.start()
    const data = join(dir, 'loop')
    const signingSecret = '5ca1ab1e5ca1ab1e5ca1ab1e5ca1ab1e'
    try {
      const made = await runCli(['project', 'create', 'web', '--json', '--data', data])
      const apiKey = JSON.parse(made.stdout).api_key as string
      const added = await runCli(['notify', 'add', '--project', 'web', 'slack', '#deploys', '--data', data], {
        env: { SLACK_BOT_TOKEN: slack.botToken, SLACK_SIGNING_SECRET: signingSecret },
      })
      expect(added.code).toBe(0)
      const path = /Request URL to: PUBLIC_URL(\/integrations\/slack\/chn_[A-Za-z0-9_-]+\/interactivity)/.exec(added.stdout)![1]
      expect((await runCli(['user', 'add', 'ana@example.com', '--project', 'web', '--password-stdin', '--data', data], { input: 'a long enough password' })).code).toBe(0)
      expect((await runCli(['user', 'slack', '--project', 'web', '--email', 'ana@example.com', '--slack-user', 'U0ANA', '--data', data])).code).toBe(0)

      const { process: serve, url } = await startServe(data, ['--slack-api-url', slack.url])
      try {
        const created = await fetch(`${url}/v1/approvals`, { method: 'POST', headers: { authorization: `Bearer ${apiKey}`, 'content-type': 'application/json' }, body: JSON.stringify({ action: 'deploy web' }) })
        const { id } = (await created.json()) as { id: string }
        const message = await waitUntil(() => slack.messages.find((posted) => JSON.stringify(posted.blocks).includes(id)), { what: 'the request posted to the Slack stand-in' })
        const signed = signedInteraction(signingSecret, buttonClick('U0ANA', message, 'approval_gate_approve', id))
        expect((await fetch(`${url}${path}`, { method: 'POST', headers: signed.headers, body: signed.body })).status).toBe(200)
        const decided = await waitUntil(
          async () => {
            const record = (await (await fetch(`${url}/v1/approvals/${id}`, { headers: { authorization: `Bearer ${apiKey}` } })).json()) as { status: string; decided_by: string }
            return record.status === 'approved' ? record : null
          },
          { what: 'the approval decided from Slack' },
        )
        expect(decided.decided_by).toBe('ana@example.com')
      } finally {
        await stop(serve)
      }
    } finally {
      await slack.close()
    }
  }, 90_000)

  it('refuses what is not an absolute http(s) URL without credentials, naming the flag', async () => {
    for (const bad of ['slack.com/api', 'ftp://slack.example/api/', 'https://user:pw@slack.example/api/']) {
      const result = await runCli(['serve', '--port', '0', '--data', join(dir, 'data'), '--slack-api-url', bad])
      expect([bad, result.code]).toEqual([bad, 64])
      expect(result.stderr).toContain('--slack-api-url must be an absolute http(s) URL')
    }
    // Nothing was created: serve stopped before opening the data directory.
    expect(existsSync(join(dir, 'data'))).toBe(false)
  }, 60_000)
})
