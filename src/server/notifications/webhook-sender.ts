/**
 * Delivers events to a webhook channel: a JSON POST signed with the channel's secret.
 *
 *   X-Approval-Gate-Signature-256: sha256=<hex HMAC-SHA256(secret, timestamp + "." + body)>
 *   X-Approval-Gate-Timestamp: <unix seconds>        (receivers refuse old ones: replay)
 *   X-Approval-Gate-Delivery: <delivery id>           (the same on every retry: de-duplicate on it)
 *   X-Approval-Gate-Event: <event type>
 *
 * A 2xx status delivers it (the answer's body is not read); 408, 429 and 5xx (and no answer) are retried; other answers,
 * redirects included (never followed), are given up: retrying cannot change them.
 */
import { createHmac } from 'node:crypto'
import { OutboundHttpError, type OutboundHttp } from './outbound-http.js'
import type { Channel, ChannelSender, DeliveryResult, NotificationEvent } from './types.js'

export const SIGNATURE_HEADER = 'x-approval-gate-signature-256'
export const TIMESTAMP_HEADER = 'x-approval-gate-timestamp'
export const DELIVERY_HEADER = 'x-approval-gate-delivery'
export const EVENT_HEADER = 'x-approval-gate-event'

/** The signature header's value for `body` sent at `timestamp` (unix seconds, as text). */
export function webhookSignature(secret: string, timestamp: string, body: string): string {
  return `sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`, 'utf8').digest('hex')}`
}

/** The JSON a webhook receives. */
export function webhookBody(event: NotificationEvent): string {
  return JSON.stringify({ id: event.delivery_id, type: event.type, occurred_at: event.occurred_at, project: event.project, approval: event.approval })
}

export class WebhookSender implements ChannelSender {
  readonly kind = 'webhook' as const

  constructor(
    private readonly http: OutboundHttp,
    private readonly now: () => number = Date.now,
  ) {}

  async deliver(channel: Channel, secret: string | null, event: NotificationEvent, _remoteRef: string | null, signal: AbortSignal): Promise<DeliveryResult> {
    const url = channel.config.url
    if (!url || !secret) return failure(null, 'the channel has no URL or secret', false)
    const body = webhookBody(event)
    const timestamp = String(Math.floor(this.now() / 1000))
    const headers = {
      'content-type': 'application/json',
      'user-agent': 'approval-gate-webhooks/1',
      [EVENT_HEADER]: event.type,
      [DELIVERY_HEADER]: event.delivery_id,
      [TIMESTAMP_HEADER]: timestamp,
      [SIGNATURE_HEADER]: webhookSignature(secret, timestamp, body),
    }
    try {
      // Only the status matters: the answer's body is not read.
      const answer = await this.http.post(url, { headers, body, signal, readAnswer: false })
      if (answer.status >= 200 && answer.status < 300) return { ok: true, status_code: answer.status, error: null, retryable: false, remote_ref: null }
      if (answer.status >= 300 && answer.status < 400) return failure(answer.status, `HTTP ${answer.status}: redirects are not followed; give the channel its final URL`, false)
      const retryable = answer.status === 408 || answer.status === 429 || answer.status >= 500
      return failure(answer.status, `HTTP ${answer.status}`, retryable)
    } catch (error) {
      if (error instanceof OutboundHttpError) return failure(null, error.message, error.code !== 'private_address')
      throw error
    }
  }
}

function failure(status: number | null, error: string, retryable: boolean): DeliveryResult {
  return { ok: false, status_code: status, error, retryable, remote_ref: null }
}
