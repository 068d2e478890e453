/**
 * Settings → Notifications: an admin adds a Slack channel (the page answers with the Slack app's
 * Request URL; the bot token and signing secret are stored sealed and never shown again, not
 * even when the form is refused); members and forged forms add nothing.
 */
import { describe, expect, it } from '@jest/globals'
import { decodeSlackSecret } from '../../src/server/slack/slack-secret.js'
import { ADMIN, MEMBER, dashboardsClosedAfterEach, signedInClient } from './fixture.js'

const dashboard = dashboardsClosedAfterEach()
const BOT_TOKEN = 'xoxb-9999-8888-dashboardtoken'
const SIGNING_SECRET = 'c0ffee00c0ffee00c0ffee00c0ffee00'

describe('Slack channels on the notifications page', () => {
  it('adds a Slack channel, answers the Request URL, and never shows the token or signing secret', async () => {
    const fx = await dashboard()
    const admin = await signedInClient(fx, ADMIN)
    const form = { kind: 'slack', slack_channel: '#deploys', bot_token: BOT_TOKEN, signing_secret: SIGNING_SECRET, 'event:approval.created': 'on' }
    const added = await admin.request('POST', '/settings/notifications', { form: { _csrf: await admin.csrf('/settings/notifications'), ...form } })
    expect(added.status).toBe(201)
    const [channel] = await fx.store.listChannels(fx.project.id)
    expect(channel).toMatchObject({ kind: 'slack', config: { channel: '#deploys' }, events: ['approval.created'] })
    expect(added.text).toContain(`/integrations/slack/${channel.id}/interactivity`)
    expect(decodeSlackSecret(await fx.store.getChannelSecret(fx.project.id, channel.id))).toEqual({ botToken: BOT_TOKEN, signingSecret: SIGNING_SECRET })
    for (const page of [added.text, (await admin.request('GET', '/settings/notifications')).text, (await admin.request('GET', `/settings/notifications/${channel.id}`)).text]) {
      expect(page).not.toContain(BOT_TOKEN)
      expect(page).not.toContain(SIGNING_SECRET)
    }
  })

  it('refuses a bad token or channel keeping the channel typed but not the secrets; members and forged forms add nothing', async () => {
    const fx = await dashboard()
    const admin = await signedInClient(fx, ADMIN)
    const badToken = await admin.request('POST', '/settings/notifications', {
      form: { _csrf: await admin.csrf('/settings/notifications'), kind: 'slack', slack_channel: '#deploys', bot_token: 'xoxp-user-token-1234', signing_secret: SIGNING_SECRET },
    })
    expect(badToken.status).toBe(400)
    expect(badToken.text).toContain('Slack bot token must look like xoxb-')
    expect(badToken.text).toContain('value="#deploys"')
    expect(badToken.text).not.toContain('xoxp-user-token-1234')
    expect(badToken.text).not.toContain(SIGNING_SECRET)
    const badChannel = await admin.request('POST', '/settings/notifications', {
      form: { _csrf: await admin.csrf('/settings/notifications'), kind: 'slack', slack_channel: '<!channel>', bot_token: BOT_TOKEN, signing_secret: SIGNING_SECRET },
    })
    expect(badChannel.status).toBe(400)
    expect(badChannel.text).toContain('Slack channel is its id')

    const member = await signedInClient(fx, MEMBER)
    const slackForm = { kind: 'slack', slack_channel: '#deploys', bot_token: BOT_TOKEN, signing_secret: SIGNING_SECRET }
    expect((await member.request('POST', '/settings/notifications', { form: { _csrf: await member.csrf('/'), ...slackForm } })).status).toBe(403)
    expect((await admin.request('POST', '/settings/notifications', { form: slackForm })).status).toBe(403)
    expect(await fx.store.listChannels(fx.project.id)).toEqual([])
  })
})
