/**
 * Delivers events to an email channel over SMTP (nodemailer): to the channel's addresses, or,
 * when it names none, to the members who may decide that request (`email-recipients.ts`). The mail carries the request
 * and a link to its page — never a link that approves: mail scanners follow links.
 * Plain text only, so nothing in a request's context can become markup. Later mails about one
 * approval reply to the first (`In-Reply-To`), so mail clients thread them.
 */
import nodemailer, { type Transporter } from 'nodemailer'
import type { Store } from '../store/types.js'
import { membersWhoMayDecide } from './email-recipients.js'
import type { Channel, ChannelSender, DeliveryResult, NotificationEvent, NotificationEventType } from './types.js'

export interface EmailSenderOptions {
  /** `smtp://user:pass@host:587` or `smtps://…` (`serve --smtp-url`, env APPROVAL_GATE_SMTP_URL). */
  smtpUrl: string
  /** The From address (`serve --mail-from`). */
  from: string
  /** Connect, greeting and idle limits of one SMTP conversation. Default 10 s. */
  timeoutMs?: number
}

/** Characters of the context shown in a mail; the page has the rest. */
const MAX_CONTEXT_CHARS = 2_000

const HEADLINE: Record<NotificationEventType, string> = {
  'approval.created': 'Approval requested',
  'approval.voted': 'Vote recorded',
  'approval.decided': 'Decided',
  'approval.expired': 'Expired',
  'approval.cancelled': 'Withdrawn',
  'approval.reminder': 'Reminder: still waiting for approval',
  'approval.escalated': 'Escalated: still waiting for approval',
}

export class EmailSender implements ChannelSender {
  readonly kind = 'email' as const
  private readonly transport: Transporter
  private readonly from: string

  constructor(
    private readonly store: Pick<Store, 'listMembers' | 'getProject' | 'getApproval'>,
    options: EmailSenderOptions,
  ) {
    const timeout = options.timeoutMs ?? 10_000
    this.transport = nodemailer.createTransport(options.smtpUrl, { connectionTimeout: timeout, greetingTimeout: timeout, socketTimeout: timeout })
    this.from = options.from
  }

  async deliver(channel: Channel, _secret: string | null, event: NotificationEvent, remoteRef: string | null, signal: AbortSignal): Promise<DeliveryResult> {
    const to = channel.config.to ? channel.config.to.split(',') : await membersWhoMayDecide(this.store, channel.project_id, event.approval.id, event.type)
    if (to.length === 0) return { ok: false, status_code: null, error: 'no recipients: the channel names none and no member of the project may decide this request', retryable: false, remote_ref: null }
    const messageId = `<${event.delivery_id}@approval-gate>`
    try {
      signal.throwIfAborted()
      const info = await this.transport.sendMail({
        from: this.from,
        to,
        subject: subjectOf(event),
        text: textOf(event),
        messageId,
        ...(remoteRef ? { inReplyTo: remoteRef, references: [remoteRef] } : {}),
      })
      const accepted = (info.accepted ?? []).length
      if (accepted === 0) return { ok: false, status_code: null, error: 'the SMTP server accepted no recipient', retryable: false, remote_ref: null }
      // The first mail of an approval is what later ones reply to.
      return { ok: true, status_code: null, error: null, retryable: false, remote_ref: remoteRef ?? messageId }
    } catch (error) {
      const code = (error as { responseCode?: unknown }).responseCode
      const smtpCode = typeof code === 'number' ? code : null
      // 5xx: the server refuses for good (unknown mailbox, policy); anything else may pass later.
      const retryable = smtpCode === null || smtpCode < 500
      return { ok: false, status_code: smtpCode, error: `SMTP: ${oneLine((error as Error)?.message ?? String(error))}`, retryable, remote_ref: null }
    }
  }

  close(): void {
    this.transport.close()
  }
}

function subjectOf(event: NotificationEvent): string {
  const status = event.type === 'approval.decided' ? ` (${event.approval.status})` : ''
  return `[approval-gate] ${HEADLINE[event.type]}${status}: ${oneLine(event.approval.action ?? '')} in ${event.project.name}`
}

function textOf(event: NotificationEvent): string {
  const a = event.approval
  const lines = [`${HEADLINE[event.type]}${event.type === 'approval.decided' ? `: ${a.status}` : ''}`, '', `Action:   ${a.action ?? ''}`, `Project:  ${event.project.name}`, `Status:   ${a.status}`]
  if (a.requester) lines.push(`Requester (verified): ${a.requester.repository ?? ''}${a.requester.actor ? ` by ${a.requester.actor}` : ''}`)
  if (a.agent) lines.push(`Agent:    ${a.agent}`)
  if (a.decided_by) lines.push(`By:       ${a.decided_by}${a.reason ? ` — ${oneLine(a.reason)}` : ''}`)
  lines.push(`Created:  ${a.created_at ?? ''}`, `Expires:  ${a.expires_at ?? ''}`)
  const context = JSON.stringify(a.context ?? {}, null, 2)
  lines.push('', 'Context:', context.length > MAX_CONTEXT_CHARS ? `${context.slice(0, MAX_CONTEXT_CHARS)}\n… (more on the page)` : context)
  lines.push('', `Open the request to decide (you will be asked to sign in): ${a.url ?? ''}`, '', `Delivery ${event.delivery_id}`)
  return lines.join('\n')
}

function oneLine(text: string): string {
  return text.replace(/\s+/g, ' ').trim().slice(0, 200)
}
