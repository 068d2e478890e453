/**
 * The Slack channel kind: the first event of a request posts its message to the channel
 * (`config.channel`); later events update that same message, found by the delivery's
 * `remote_ref` (`<channel id>/<ts>`); reminders reply in its thread. The channel's secret
 * holds the bot token (see `slack-secret.ts`).
 */
import type { Channel, ChannelSender, DeliveryResult, NotificationEvent } from '../notifications/types.js'
import { approvalMessage, reminderMessage } from './message.js'
import { SlackApi, SlackCallError, DEFAULT_SLACK_API_URL } from './slack-api.js'
import { decodeSlackSecret } from './slack-secret.js'

/** A posted message's handle, as kept in `remote_ref`. */
export function messageRef(channel: string, ts: string): string {
  return `${channel}/${ts}`
}

/** The channel id and `ts` of a `remote_ref`, or null when it is not one. */
export function parseMessageRef(ref: string | null): { channel: string; ts: string } | null {
  const match = ref === null ? null : /^([A-Z0-9]{2,40})\/(\d{1,12}\.\d{1,12})$/.exec(ref)
  return match ? { channel: match[1], ts: match[2] } : null
}

export function createSlackSender(options: { apiUrl?: string; now?: () => number } = {}): ChannelSender {
  const apiUrl = options.apiUrl ?? DEFAULT_SLACK_API_URL
  const now = options.now ?? Date.now
  return {
    kind: 'slack',
    async deliver(channel: Channel, secret: string | null, event: NotificationEvent, remoteRef: string | null, signal: AbortSignal): Promise<DeliveryResult> {
      const slack = decodeSlackSecret(secret)
      if (!slack) return failed('the channel has no usable Slack bot token and signing secret', null, false, remoteRef)
      const target = channel.config.channel
      if (!target) return failed('the channel has no Slack channel configured', null, false, remoteRef)
      const api = new SlackApi(slack.botToken, apiUrl, signal)
      const posted = parseMessageRef(remoteRef)
      try {
        if (!posted) {
          const message = await api.post(target, approvalMessage(event.approval, event.project, event.type, now()))
          return { ok: true, status_code: 200, error: null, retryable: false, remote_ref: messageRef(message.channel, message.ts) }
        }
        if (event.type === 'approval.reminder' || event.type === 'approval.escalated') {
          await api.post(posted.channel, reminderMessage(event.approval, now()), posted.ts)
        } else {
          await api.update(posted.channel, posted.ts, approvalMessage(event.approval, event.project, event.type, now()))
        }
        return { ok: true, status_code: 200, error: null, retryable: false, remote_ref: remoteRef }
      } catch (error) {
        if (error instanceof SlackCallError) return failed(error.message, error.statusCode, error.retryable, remoteRef)
        throw error
      }
    },
  }
}

function failed(error: string, statusCode: number | null, retryable: boolean, remoteRef: string | null): DeliveryResult {
  return { ok: false, status_code: statusCode, error, retryable, remote_ref: remoteRef }
}
