/**
 * The parts of Slack's interaction payloads we act on, read defensively: the payload is
 * signed by Slack, but its fields (and the modal's `private_metadata` we set) are still
 * checked for shape and size before use. Anything else is `ignored`.
 */
import { MAX_REASON_CHARS } from '../../contract/index.js'
import type { Decision } from '../store/types.js'
import { APPROVE_ACTION, REJECT_ACTION } from './message.js'

export const REASON_CALLBACK = 'approval_gate_reason'
export const REASON_BLOCK = 'reason'
export const REASON_INPUT = 'reason_input'

const APPROVAL_ID = /^apr_[A-Za-z0-9_-]{1,100}$/
const SLACK_ID = /^[A-Z0-9]{2,40}$/
const MESSAGE_TS = /^\d{1,12}\.\d{1,12}$/
const TRIGGER_ID = /^[A-Za-z0-9._-]{1,200}$/

/** Where the clicked message is, so its outcome can be shown in place. */
export interface MessageAt {
  channel: string
  ts: string
}

export type Interaction =
  | { kind: 'click'; user: string; decision: Decision; approvalId: string; message: MessageAt; triggerId: string | null }
  | { kind: 'reason'; user: string; decision: Decision; approvalId: string; message: MessageAt | null; reason: string }
  | { kind: 'ignored' }
  | { kind: 'malformed'; problem: string }

/** Reads the `payload` form field of a verified request body. */
export function readInteraction(rawBody: Buffer): Interaction {
  const field = new URLSearchParams(rawBody.toString('utf8')).get('payload')
  if (field === null) return { kind: 'malformed', problem: 'the body has no payload field' }
  let payload: unknown
  try {
    payload = JSON.parse(field)
  } catch {
    return { kind: 'malformed', problem: 'the payload is not JSON' }
  }
  const p = record(payload)
  const user = text(record(p.user).id, SLACK_ID)
  if (!user) return { kind: 'malformed', problem: 'the payload names no Slack user' }
  if (p.type === 'block_actions') return readClick(p, user)
  if (p.type === 'view_submission' && record(p.view).callback_id === REASON_CALLBACK) return readReason(record(p.view), user)
  return { kind: 'ignored' }
}

function readClick(p: Record<string, unknown>, user: string): Interaction {
  const actions = Array.isArray(p.actions) ? p.actions : []
  const action = record(actions[0])
  const decision = action.action_id === APPROVE_ACTION ? 'approve' : action.action_id === REJECT_ACTION ? 'reject' : null
  if (!decision) return { kind: 'ignored' }
  const approvalId = text(action.value, APPROVAL_ID)
  const container = record(p.container)
  const channel = text(container.channel_id, SLACK_ID) ?? text(record(p.channel).id, SLACK_ID)
  const ts = text(container.message_ts, MESSAGE_TS) ?? text(record(p.message).ts, MESSAGE_TS)
  if (!approvalId || !channel || !ts) return { kind: 'malformed', problem: 'the click names no approval or message' }
  return { kind: 'click', user, decision, approvalId, message: { channel, ts }, triggerId: text(p.trigger_id, TRIGGER_ID) }
}

function readReason(view: Record<string, unknown>, user: string): Interaction {
  const meta = parseMetadata(view.private_metadata)
  if (!meta) return { kind: 'malformed', problem: 'the modal carries no request' }
  const value = record(record(record(record(view.state).values)[REASON_BLOCK])[REASON_INPUT]).value
  const reason = typeof value === 'string' ? value.trim().slice(0, MAX_REASON_CHARS + 1) : ''
  return { kind: 'reason', user, decision: meta.decision, approvalId: meta.approvalId, message: meta.message, reason }
}

/** What the reason modal remembers between the click and the submission. */
export function reasonMetadata(decision: Decision, approvalId: string, message: MessageAt): string {
  return JSON.stringify({ d: decision, a: approvalId, c: message.channel, t: message.ts })
}

function parseMetadata(value: unknown): { decision: Decision; approvalId: string; message: MessageAt | null } | null {
  if (typeof value !== 'string' || value.length > 3000) return null
  try {
    const meta = record(JSON.parse(value))
    const decision = meta.d === 'approve' || meta.d === 'reject' ? meta.d : null
    const approvalId = text(meta.a, APPROVAL_ID)
    if (!decision || !approvalId) return null
    const channel = text(meta.c, SLACK_ID)
    const ts = text(meta.t, MESSAGE_TS)
    return { decision, approvalId, message: channel && ts ? { channel, ts } : null }
  } catch {
    return null
  }
}

function record(value: unknown): Record<string, unknown> {
  return value && typeof value === 'object' && !Array.isArray(value) ? (value as Record<string, unknown>) : {}
}

function text(value: unknown, pattern: RegExp): string | null {
  return typeof value === 'string' && pattern.test(value) ? value : null
}
