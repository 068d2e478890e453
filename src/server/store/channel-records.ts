/**
 * The backend-independent half of the channel and delivery store: which audit events become
 * which notifications, the records a new channel and delivery start as, the rows they are
 * read back from, and the reminder rule. Both backends use these so they cannot drift apart.
 */
import { newId } from '../auth/secrets.js'
import { CHANNEL_KINDS, NOTIFICATION_EVENT_TYPES, type NotificationEventType } from '../../contract/index.js'
import { StoreError } from './errors.js'
import { integer, integerOrNull, text, textOrNull, type Row } from './rows.js'
import type { AuditEvent, Channel, ChannelHealth, Delivery, DeliveryStatus, NewChannel } from './types.js'

/**
 * The notification an audit event announces, or null (administrative events announce nothing).
 * Votes (`vote_approve`, `vote_reject`: the quorum's audit events) announce `approval.voted`;
 * unknown types are skipped.
 */
export function notificationTypeOf(auditType: string): NotificationEventType | null {
  switch (auditType) {
    case 'created':
      return 'approval.created'
    case 'vote_approve':
    case 'vote_reject':
    case 'voted':
      return 'approval.voted'
    case 'approved':
    case 'rejected':
      return 'approval.decided'
    case 'timed_out':
      return 'approval.expired'
    case 'cancelled':
      return 'approval.cancelled'
    default:
      return null
  }
}

/** A new channel record; checks what the database cannot (kind, events, durations). */
export function newChannel(input: NewChannel, at: string): Channel {
  if (!(CHANNEL_KINDS as readonly string[]).includes(input.kind)) throw new StoreError('invalid', `unknown channel kind ${JSON.stringify(input.kind)}`)
  for (const event of input.events) {
    if (!(NOTIFICATION_EVENT_TYPES as readonly string[]).includes(event)) throw new StoreError('invalid', `unknown notification event ${JSON.stringify(event)}`)
  }
  if (input.events.length === 0) throw new StoreError('invalid', 'a channel needs at least one event')
  for (const [name, value] of [['remind_after_ms', input.remind_after_ms], ['escalate_after_ms', input.escalate_after_ms]] as const) {
    if (value !== null && (!Number.isSafeInteger(value) || value <= 0)) throw new StoreError('invalid', `${name} must be a positive whole number of milliseconds`)
  }
  if ((input.escalate_after_ms === null) !== (input.escalate_to === null)) throw new StoreError('invalid', 'escalate_after_ms and escalate_to go together')
  return {
    id: newId('chn'),
    project_id: input.project_id,
    kind: input.kind,
    name: input.name,
    config: { ...input.config },
    events: [...new Set(input.events)],
    remind_after_ms: input.remind_after_ms,
    escalate_after_ms: input.escalate_after_ms,
    escalate_to: input.escalate_to,
    created_at: at,
  }
}

/** The delivery row for one event to one channel. */
export function newDelivery(
  channel: Pick<Channel, 'id' | 'project_id'>,
  input: { approval_id: string; audit_seq: number | null; event_type: NotificationEventType; occurred_at: string },
  now: string,
): Delivery {
  return {
    id: newId('dlv'),
    channel_id: channel.id,
    project_id: channel.project_id,
    approval_id: input.approval_id,
    audit_seq: input.audit_seq,
    event_type: input.event_type,
    occurred_at: input.occurred_at,
    status: 'pending',
    attempts: 0,
    next_attempt_at: now,
    last_error: null,
    response_code: null,
    remote_ref: null,
    created_at: now,
    delivered_at: null,
  }
}

/** The deliveries a batch of audit events after a channel's cursor makes (those the channel subscribes to). */
export function deliveriesForEvents(channel: Channel, events: AuditEvent[], now: string): Delivery[] {
  const deliveries: Delivery[] = []
  for (const event of events) {
    const type = notificationTypeOf(event.type)
    if (type === null || !channel.events.includes(type)) continue
    deliveries.push(newDelivery(channel, { approval_id: event.approval_id, audit_seq: event.seq, event_type: type, occurred_at: event.at }, now))
  }
  return deliveries
}

/** Whether a pending approval created at `createdAt` is due a reminder at `now`, given the last one (or none). */
export function reminderDue(remindAfterMs: number, createdAt: string, lastReminderAt: string | null, now: string): boolean {
  return Date.parse(lastReminderAt ?? createdAt) + remindAfterMs <= Date.parse(now)
}

/** The parameters of a delivery insert, in column order (`DELIVERY_COLUMNS`). */
export const DELIVERY_COLUMNS = ['id', 'channel_id', 'project_id', 'approval_id', 'audit_seq', 'event_type', 'occurred_at', 'status', 'attempts', 'next_attempt_at', 'created_at'] as const

export function deliveryValues(delivery: Delivery): Array<string | number | null> {
  return DELIVERY_COLUMNS.map((column) => delivery[column])
}

export function toChannel(row: Row): Channel {
  return {
    id: text(row, 'id'),
    project_id: text(row, 'project_id'),
    kind: text(row, 'kind') as Channel['kind'],
    name: text(row, 'name'),
    config: JSON.parse(text(row, 'config')) as Record<string, string>,
    events: JSON.parse(text(row, 'events')) as NotificationEventType[],
    remind_after_ms: integerOrNull(row, 'remind_after_ms'),
    escalate_after_ms: integerOrNull(row, 'escalate_after_ms'),
    escalate_to: textOrNull(row, 'escalate_to'),
    created_at: text(row, 'created_at'),
  }
}

export function toDelivery(row: Row): Delivery {
  return {
    id: text(row, 'id'),
    channel_id: text(row, 'channel_id'),
    project_id: text(row, 'project_id'),
    approval_id: text(row, 'approval_id'),
    audit_seq: integerOrNull(row, 'audit_seq'),
    event_type: text(row, 'event_type') as NotificationEventType,
    occurred_at: text(row, 'occurred_at'),
    status: text(row, 'status') as DeliveryStatus,
    attempts: integer(row, 'attempts'),
    next_attempt_at: text(row, 'next_attempt_at'),
    last_error: textOrNull(row, 'last_error'),
    response_code: integerOrNull(row, 'response_code'),
    remote_ref: textOrNull(row, 'remote_ref'),
    created_at: text(row, 'created_at'),
    delivered_at: textOrNull(row, 'delivered_at'),
  }
}

export function toChannelHealth(row: Row): ChannelHealth {
  return {
    channel_id: text(row, 'channel_id'),
    retrying: integer(row, 'retrying'),
    failed: integer(row, 'failed'),
    delivered: integer(row, 'delivered'),
    last_error: textOrNull(row, 'last_error'),
    last_error_at: textOrNull(row, 'last_error_at'),
  }
}
