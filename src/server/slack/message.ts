/**
 * The Block Kit message of one request: what is asked (action, key context values), who asked
 * (the verified requester, when a workflow identity asked), how long it has waited, a link to
 * its dashboard page, and — while pending — Approve / Reject buttons. Later events re-render the
 * same message from the record, so a settled request shows its outcome and no buttons.
 */
import type { ApprovalRecord } from '../../contract/index.js'
import { formatDuration } from '../../shared/duration.js'
import { linkableUrl } from '../../shared/links.js'
import type { NotificationEventType } from '../notifications/types.js'
import { mrkdwn, plainText, slackDate, slackText } from './mrkdwn.js'

/** The buttons' `action_id`s; their `value` is the approval id. */
export const APPROVE_ACTION = 'approval_gate_approve'
export const REJECT_ACTION = 'approval_gate_reject'
export const DECIDE_BLOCK = 'approval_gate_decide'

/** Context values shown besides the workflow's (a message stays short; the page shows all). */
const MAX_CONTEXT_FIELDS = 6
/** The `context.github` fields worth a line, in order. */
const WORKFLOW_FIELDS = ['repository', 'ref', 'workflow', 'actor', 'event'] as const

export interface SlackMessage {
  /** The notification text (shown in alerts and by clients without blocks). */
  text: string
  blocks: object[]
}

/** The message for `approval` as it stands after `event` (in `project`). */
export function approvalMessage(approval: ApprovalRecord, project: { name: string }, event: NotificationEventType, now = Date.now()): SlackMessage {
  const action = slackText(approval.action ?? approval.id)
  const blocks: object[] = [
    { type: 'section', text: mrkdwn(`*Approval requested* in ${slackText(project.name)}: *${action}*`) },
    ...requesterBlock(approval),
    ...contextBlock(approval.context ?? {}),
    { type: 'context', elements: [mrkdwn(timing(approval, now))] },
    ...outcomeBlock(approval, event),
    ...actionsBlock(approval),
  ]
  return { text: `${statusWord(approval)}: ${action} (${slackText(project.name)})`, blocks }
}

/** A short threaded reply that nudges people while the request still waits. */
export function reminderMessage(approval: ApprovalRecord, now = Date.now()): SlackMessage {
  const waited = approval.created_at ? formatDuration(Math.max(0, now - Date.parse(approval.created_at))) : null
  const text = `:bell: Still waiting for a decision${waited ? ` after ${waited}` : ''}: *${slackText(approval.action ?? approval.id)}*`
  return { text, blocks: [{ type: 'section', text: mrkdwn(text) }] }
}

function requesterBlock(approval: ApprovalRecord): object[] {
  const requester = approval.requester
  if (!requester) return [{ type: 'context', elements: [mrkdwn('Requested with an API key (no verified workflow identity)')] }]
  const where = [requester.repository, requester.ref, requester.environment ? `environment ${requester.environment}` : null].filter((part): part is string => Boolean(part))
  const who = requester.actor ? ` by ${slackText(requester.actor)}` : ''
  return [{ type: 'context', elements: [mrkdwn(`:lock: Verified requester: ${where.map((part) => slackText(part)).join(' · ')}${who}`)] }]
}

/** The workflow's facts from `context.github`, then the first scalar context values, as fields. */
function contextBlock(context: Record<string, unknown>): object[] {
  const fields: string[] = []
  const github = context.github
  if (github && typeof github === 'object' && !Array.isArray(github)) {
    for (const name of WORKFLOW_FIELDS) {
      const value = scalar((github as Record<string, unknown>)[name])
      if (value !== null) fields.push(`*${name}*\n${slackText(value)}`)
    }
  }
  let shown = 0
  for (const [key, raw] of Object.entries(context)) {
    const value = key === 'github' ? null : scalar(raw)
    if (value === null) continue
    fields.push(`*${slackText(key, 40)}*\n${slackText(value)}`)
    if (++shown === MAX_CONTEXT_FIELDS) break
  }
  if (fields.length === 0) return []
  // Slack allows 10 fields per section.
  const sections: object[] = []
  for (let i = 0; i < fields.length; i += 10) sections.push({ type: 'section', fields: fields.slice(i, i + 10).map(mrkdwn) })
  return [...sections, { type: 'context', elements: [mrkdwn('Context as the requester sent it (not verified)')] }]
}

function scalar(value: unknown): string | null {
  if (typeof value === 'string') return value.trim() === '' ? null : value
  if (typeof value === 'number' || typeof value === 'boolean') return String(value)
  return null
}

function timing(approval: ApprovalRecord, now: number): string {
  const parts: string[] = []
  if (approval.created_at) parts.push(`Requested ${slackDate(approval.created_at)}`)
  if (approval.status === 'pending') {
    if (approval.created_at) parts.push(`waiting ${formatDuration(Math.max(0, now - Date.parse(approval.created_at)))}`)
    if (approval.expires_at) parts.push(`expires ${slackDate(approval.expires_at)}`)
  } else if (approval.decided_at && approval.created_at) {
    parts.push(`settled after ${formatDuration(Math.max(0, Date.parse(approval.decided_at) - Date.parse(approval.created_at)))}`)
  }
  return parts.join(' · ')
}

function statusWord(approval: ApprovalRecord): string {
  const words: Record<string, string> = { pending: 'Approval requested', approved: 'Approved', rejected: 'Rejected', expired: 'Expired', cancelled: 'Cancelled' }
  return words[approval.status] ?? 'Approval'
}

function outcomeBlock(approval: ApprovalRecord, event: NotificationEventType): object[] {
  const by = approval.decided_by ? ` by ${slackText(approval.decided_by)}` : ''
  const reason = approval.reason ? `: “${slackText(approval.reason, 500)}”` : ''
  const lines: Record<string, string> = {
    approved: `:white_check_mark: *Approved*${by}${reason}`,
    rejected: `:x: *Rejected*${by}${reason}`,
    expired: ':hourglass: *Expired*: no decision before the deadline',
    cancelled: `:no_entry_sign: *Cancelled*${by}${reason}`,
  }
  const line = lines[approval.status] ?? (event === 'approval.voted' ? ':ballot_box_with_check: A vote was counted; the request still needs more approvals' : null)
  return line ? [{ type: 'section', text: mrkdwn(line) }] : []
}

/** Approve / Reject while pending, and the dashboard link whatever the status. */
function actionsBlock(approval: ApprovalRecord): object[] {
  const elements: object[] = []
  if (approval.status === 'pending') {
    elements.push(
      { type: 'button', action_id: APPROVE_ACTION, text: plainText('Approve'), style: 'primary', value: approval.id },
      { type: 'button', action_id: REJECT_ACTION, text: plainText('Reject'), style: 'danger', value: approval.id },
    )
  }
  const url = linkableUrl(approval.url)
  if (url) elements.push({ type: 'button', action_id: 'approval_gate_open', text: plainText('Open in dashboard'), url })
  return elements.length === 0 ? [] : [{ type: 'actions', block_id: DECIDE_BLOCK, elements }]
}
