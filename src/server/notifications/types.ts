/**
 * The shapes shared by the notification outbox (channels, deliveries, the delivery worker) and
 * the senders of each channel kind (webhook, email, Slack).
 */
import type { ApprovalRecord } from '../../contract/index.js'

export const CHANNEL_KINDS = ['webhook', 'email', 'slack'] as const
export type ChannelKind = (typeof CHANNEL_KINDS)[number]

export const NOTIFICATION_EVENT_TYPES = [
  'approval.created',
  'approval.voted',
  'approval.decided',
  'approval.expired',
  'approval.cancelled',
  'approval.reminder',
  'approval.escalated',
] as const
export type NotificationEventType = (typeof NOTIFICATION_EVENT_TYPES)[number]

/** A project's notification channel. Secrets are never part of it (see `ChannelSecret`). */
export interface Channel {
  id: string // chn_…
  project_id: string
  kind: ChannelKind
  name: string
  /** Non-secret settings of the kind: webhook `url`; email `to` (or the eligible members); Slack `channel`. */
  config: Record<string, string>
  /** The events this channel receives. */
  events: NotificationEventType[]
  remind_after_ms: number | null
  escalate_after_ms: number | null
  /** The channel that escalations go to. */
  escalate_to: string | null
  created_at: string
}

/** What a sender needs to deliver one event. */
export interface NotificationEvent {
  /** Unique per (channel, event): receivers de-duplicate on it. */
  delivery_id: string
  type: NotificationEventType
  occurred_at: string
  project: { id: string; name: string }
  /** The approval as the API shows it, with its dashboard link in `url`. */
  approval: ApprovalRecord
}

export interface DeliveryResult {
  ok: boolean
  /** The receiver's HTTP status, when there was one. */
  status_code: number | null
  /** Why it failed, one line, no secrets. */
  error: string | null
  /** `false`: retrying cannot help (e.g. a 4xx other than 408/429). */
  retryable: boolean
  /** A handle the sender keeps per (channel, approval), e.g. a Slack message's `ts`, passed back on later events. */
  remote_ref: string | null
}

export interface ChannelSender {
  kind: ChannelKind
  deliver(channel: Channel, secret: string | null, event: NotificationEvent, remoteRef: string | null, signal: AbortSignal): Promise<DeliveryResult>
}
