/**
 * Adding a Slack channel to a project: the Slack channel to post in, and the app's bot token
 * and signing secret, sealed together as the channel's secret. The channel service applies the
 * rules every channel shares (name, events, reminders) and records it in the audit trail.
 */
import { AdminError, type AdminActor } from '../admin/admin-service.js'
import type { ChannelService, ChannelSettings } from '../admin/channel-service.js'
import type { Channel } from '../notifications/types.js'
import type { Project } from '../store/types.js'
import { encodeSlackSecret, slackSecretProblem, type SlackSecret } from './slack-secret.js'

/** A Slack channel id (`C0123ABCD`) or name (`#deploys`, `deploys`). */
const SLACK_CHANNEL = /^(?:[CG][A-Z0-9]{2,40}|#?[a-z0-9][a-z0-9_-]{0,79})$/

export interface SlackChannelInput extends SlackSecret {
  /** Where messages go: a channel id or `#name` (the bot must be invited to it). */
  channel: string
}

export async function addSlackChannel(channels: ChannelService, project: Project, actor: AdminActor, input: SlackChannelInput, settings: ChannelSettings = {}): Promise<Channel> {
  const target = input.channel.trim()
  if (!SLACK_CHANNEL.test(target)) throw new AdminError('invalid', 'a Slack channel is its id (C0123ABCD) or its name (#deploys: lower-case letters, digits, dashes and underscores)')
  const secretProblem = slackSecretProblem(input)
  if (secretProblem) throw new AdminError('invalid', secretProblem)
  return channels.addChannel(
    project,
    actor,
    { kind: 'slack', config: { channel: target }, secret: encodeSlackSecret(input), defaultName: `slack ${target.replace(/^#/, '')}`, describe: `Slack channel ${target}` },
    settings,
  )
}

/** The Request URL to enter in the Slack app's Interactivity settings for this channel. */
export function interactivityUrl(publicUrl: string, channel: Channel): string {
  return `${publicUrl.replace(/\/+$/, '')}/integrations/slack/${encodeURIComponent(channel.id)}/interactivity`
}
