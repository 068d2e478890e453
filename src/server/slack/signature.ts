/**
 * Slack signs each request it sends us: `X-Slack-Signature: v0=<hex HMAC-SHA256(signing secret,
 * "v0:" + X-Slack-Request-Timestamp + ":" + raw body)>`. We check it over the raw bytes before
 * parsing anything, refuse timestamps more than five minutes away, and remember each accepted
 * signature for that window so a captured request cannot be sent again.
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

/** How far a request's timestamp may be from our clock, either way. */
export const SIGNATURE_WINDOW_MS = 5 * 60_000
/** Accepted signatures remembered at most (a flood of valid requests is refused beyond it, never forgotten early). */
export const MAX_REMEMBERED_SIGNATURES = 100_000

/** Why a request is refused; `null` when it is Slack's, fresh and first seen. */
export type SignatureProblem = 'missing_signature' | 'stale_timestamp' | 'bad_signature' | 'replayed' | 'too_many'

/** The signature Slack sends for `rawBody` at `timestamp` (seconds, as sent). */
export function slackSignature(signingSecret: string, timestamp: string, rawBody: Buffer | string): string {
  return `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:`).update(rawBody).digest('hex')}`
}

/** Checks a request's timestamp and signature in constant time; does not remember it (see `ReplayGuard`). */
export function checkSlackSignature(
  signingSecret: string,
  rawBody: Buffer,
  headers: { timestamp: string | undefined; signature: string | undefined },
  now = Date.now(),
): Exclude<SignatureProblem, 'replayed' | 'too_many'> | null {
  const { timestamp, signature } = headers
  if (!timestamp || !signature || !/^\d{1,12}$/.test(timestamp) || !/^v0=[0-9a-f]{64}$/.test(signature)) return 'missing_signature'
  if (Math.abs(now - Number(timestamp) * 1000) > SIGNATURE_WINDOW_MS) return 'stale_timestamp'
  const expected = Buffer.from(slackSignature(signingSecret, timestamp, rawBody))
  return timingSafeEqual(expected, Buffer.from(signature)) ? null : 'bad_signature'
}

/** Remembers accepted signatures until their timestamp leaves the window. One per server process. */
export class ReplayGuard {
  /** signature → when it may be forgotten (ms); insertion order is roughly arrival order. */
  private readonly seen = new Map<string, number>()

  constructor(private readonly capacity = MAX_REMEMBERED_SIGNATURES) {}

  /** Records a verified signature; `replayed` when it was seen in the window, `too_many` when memory is full. */
  remember(signature: string, timestampSeconds: number, now = Date.now()): 'replayed' | 'too_many' | null {
    this.forgetExpired(now)
    if (this.seen.has(signature)) return 'replayed'
    if (this.seen.size >= this.capacity) return 'too_many'
    this.seen.set(signature, timestampSeconds * 1000 + SIGNATURE_WINDOW_MS)
    return null
  }

  private forgetExpired(now: number): void {
    for (const [signature, forgetAt] of this.seen) {
      if (forgetAt > now) break
      this.seen.delete(signature)
    }
  }
}
