/**
 * GitHub's webhook signature: `X-Hub-Signature-256: sha256=<hex HMAC-SHA256 of the raw body
 * under the webhook secret>`. Checked over the bytes as received (before any parsing), in
 * constant time. (Not `@octokit/webhooks-methods`: its `verify` takes the payload as a string,
 * re-encoded, where GitHub signs the bytes it sent.)
 */
import { createHmac, timingSafeEqual } from 'node:crypto'

/** The header value GitHub would send for `body`. */
export function signWebhookBody(secret: string, body: Buffer | string): string {
  return `sha256=${createHmac('sha256', secret).update(body).digest('hex')}`
}

/** True when `header` is the signature of `body` under `secret`. */
export function verifyWebhookSignature(secret: string, body: Buffer, header: string | undefined): boolean {
  if (typeof header !== 'string' || !/^sha256=[0-9a-f]{64}$/i.test(header)) return false
  const expected = createHmac('sha256', secret).update(body).digest()
  return timingSafeEqual(expected, Buffer.from(header.slice('sha256='.length), 'hex'))
}
