/** Small formatting helpers shared by the dashboard's views. */
import { html, type SafeHtml } from '../html.js'
import { formatElapsed } from '../client/elapsed.js'

/**
 * `2025-01-02 13:04:05 UTC` inside a `<time>` element (the script shows local time on hover).
 * The date and the time are each kept on one line; a narrow column may put them on two.
 */
export function timeTag(iso: string | null | undefined): SafeHtml {
  if (!iso) return html`<span class="muted">—</span>`
  const date = new Date(iso)
  if (Number.isNaN(date.getTime())) return html`${iso}`
  const [day, time] = date.toISOString().slice(0, 19).split('T')
  return html`<time datetime="${date.toISOString()}" data-local><span class="nowrap">${day}</span> <span class="nowrap">${time} UTC</span></time>`
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

/** Names up to this length fit their column and get no break hints. */
const SHORT_NAME_CHARS = 12
/** Longer names are left to CSS `overflow-wrap` alone. */
const MAX_BREAKABLE_CHARS = 2_000
/** After a separator, or between a lower-case and an upper-case letter (`camelCase`). */
const NAME_BREAK = /(?<=[_./:@\\])(?=.)|(?<=\p{Ll})(?=\p{Lu})/u

/**
 * A name (agent, action, approver) with line-break opportunities (`<wbr>`) after `_ . / : @ \`
 * and inside `camelCase`, so `release_bot.payments/eu-west-1` wraps between its parts instead
 * of mid-word. The text itself (copying, `textContent`) is unchanged; CSS
 * `overflow-wrap: anywhere` stays the last resort for a part that is still too long.
 */
export function breakable(text: string): SafeHtml {
  return withBreaks(text, NAME_BREAK)
}

/** After `/ ? & #` (not inside `//`). */
const URL_BREAK = /(?<=[?&#]|(?<!\/)\/(?!\/))(?=.)/u

/** A URL shown as text, with break opportunities between its path segments and query parameters. */
export function breakableUrl(url: string): SafeHtml {
  return withBreaks(url, URL_BREAK)
}

/** A part shorter than this stays on the line before it (`alice@example.com`, not `example.` / `com`). */
const MIN_PART_CHARS = 4

function withBreaks(text: string, at: RegExp): SafeHtml {
  if (text.length <= SHORT_NAME_CHARS || text.length > MAX_BREAKABLE_CHARS) return html`${text}`
  const parts: string[] = []
  for (const part of text.split(at)) {
    if (parts.length > 0 && part.length < MIN_PART_CHARS) parts[parts.length - 1] += part
    else parts.push(part)
  }
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
  // Administrative changes (no approval): members, invitations, keys, settings, policy.
  member_added: 'Member added',
  member_changed: 'Member changed',
  member_removed: 'Member removed',
  invitation_created: 'Invited',
  invitation_revoked: 'Invitation revoked',
  key_created: 'Key created',
  key_revoked: 'Key revoked',
  settings_changed: 'Settings changed',
  policy_set: 'Policy set',
  policy_cleared: 'Policy cleared',
  github_mapped: 'GitHub repository mapped',
  github_unmapped: 'GitHub repository unmapped',
  channel_added: 'Channel added',
  channel_removed: 'Channel removed',
  delivery_resent: 'Delivery sent again',
}

/** A coloured status pill; the colour is paired with the word, never alone. */
export function statusBadge(status: string): SafeHtml {
  const label = STATUS_LABELS[status] ?? status
  return html`<span class="badge badge-${/^[a-z_]+$/.test(status) ? status : 'unknown'}">${label}</span>`
}
