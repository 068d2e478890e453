/**
 * Which text values become links, shared by the dashboard's context table and the action's job
 * summary. Context values are attacker-controlled, so the rule is narrow: the whole value is one
 * absolute `http://` or `https://` URL — no other scheme (`javascript:`, `data:`, `vbscript:`,
 * scheme-relative `//host`), no whitespace or invisible characters, no `user:password@` part
 * (which can make a link read as another host) — and the link's visible text is the URL it opens,
 * as the browser will see it (normalised, international host names in punycode).
 */

/** Longest URL that becomes a link; longer text stays text. */
export const MAX_LINK_CHARS = 2_000

const LOOKS_LIKE_HTTP_URL = /^https?:\/\/[^\s]+$/i
/** Control, format (bidirectional overrides, zero-width) and separator characters. */
const INVISIBLE = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}\p{Zs}]/u

/** The normalised `href` when `value` is a whole http(s) URL that may be shown as a link, else null. */
export function linkableUrl(value: unknown): string | null {
  if (typeof value !== 'string' || value.length > MAX_LINK_CHARS) return null
  if (!LOOKS_LIKE_HTTP_URL.test(value) || INVISIBLE.test(value)) return null
  let url: URL
  try {
    url = new URL(value)
  } catch {
    return null
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') return null
  if (url.username !== '' || url.password !== '' || url.hostname === '') return null
  return url.href
}
