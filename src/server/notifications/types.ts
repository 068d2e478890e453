/**
 * The shapes shared by the notification outbox (channels, deliveries, the delivery worker) and
 * the senders of each channel kind (webhook, email, Slack).
 */
import type { ApprovalRecord, ChannelKind, NotificationEventType } from '../../contract/index.js'
import type { Channel } from '../store/types.js'

// The channel vocabulary is part of the wire contract (webhook payloads name the event types);
// a channel's record is the store's. Re-exported here for the senders and the worker.
export { CHANNEL_KINDS, NOTIFICATION_EVENT_TYPES, type ChannelKind, type NotificationEventType } from '../../contract/index.js'
export type { Channel } from '../store/types.js'

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
