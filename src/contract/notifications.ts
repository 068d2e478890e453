/** The notification vocabulary: the kinds of channel and the event types a channel receives (the `type` of a webhook payload). */

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
