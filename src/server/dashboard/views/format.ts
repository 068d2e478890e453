/** Small formatting helpers shared by the dashboard's views. */
import { html, type SafeHtml } from '../html.js'
import { formatElapsed } from '../client/elapsed.js'

/** `2025-01-02 13:04:05 UTC` inside a `<time>` element (the script shows local time on hover). */
export function timeTag(iso: string | null | undefined): SafeHtml {
  if (!iso) return html`<span class="muted">—</span>`
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return html`${iso}`
  const text = `${date.toISOString().slice(0, 19).replace('T', ' ')} UTC`
  return html`<time datetime="${date.toISOString()}" data-local>${text}</time>`
}

/** A live "3m 12s" since `iso`; the client script keeps it ticking. */
export function sinceTag(iso: string, now = Date.now()): SafeHtml {
  return html`<span data-since="${iso}">${formatElapsed(now - new Date(iso).getTime())}</span>`
}

/** A live "in 57m" until `iso`, or "passed" once due. */
export function untilTag(iso: string, now = Date.now()): SafeHtml {
  const ms = new Date(iso).getTime() - now
  return html`<span data-until="${iso}">${ms > 0 ? `in ${formatElapsed(ms)}` : 'now'}</span>`
}

/** Names this long or shorter get break hints; anything longer is left to `overflow-wrap`. */
const MAX_BREAKABLE_CHARS = 500

/**
 * A name (agent, action, approver) with line-break opportunities (`<wbr>`) after `_ . / : @ \`,
 * so `release_bot.payments/eu-west-1` wraps between its parts instead of mid-word. The text
 * itself (copying, `textContent`) is unchanged; CSS `overflow-wrap: anywhere` stays the last resort.
 */
export function breakable(text: string): SafeHtml {
  if (text.length > MAX_BREAKABLE_CHARS) return html`${text}`
  const parts = text.split(/(?<=[_./:@\\])(?=.)/u)
  return html`${parts.map((part, i) => (i === 0 ? part : html`<wbr>${part}`))}`
}

/** Returns `text` as an http(s) URL string, or null: any other scheme (javascript:, data:) never becomes a link. */
export function safeHttpUrl(text: unknown): string | null {
  if (typeof text !== 'string' || text.length > 2000) return null
  try {
    const url = new URL(text)
    return url.protocol === 'http:' || url.protocol === 'https:' ? url.href : null
  } catch {
    return null
  }
}

const STATUS_LABELS: Record<string, string> = {
  pending: 'Pending',
  approved: 'Approved',
  rejected: 'Rejected',
  expired: 'Expired',
  cancelled: 'Cancelled',
  created: 'Requested',
  timed_out: 'Timed out',
}

/** A coloured status pill; the colour is paired with the word, never alone. */
export function statusBadge(status: string): SafeHtml {
  const label = STATUS_LABELS[status] ?? status
  return html`<span class="badge badge-${/^[a-z_]+$/.test(status) ? status : 'unknown'}">${label}</span>`
}
