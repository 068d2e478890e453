/**
 * Text from requests (action, context, reasons, who decided) is hostile when it reaches Slack:
 * `<@U…>`, `<!channel>` and `<https://…|label>` are mentions and links, and Slack turns bare
 * URLs and emails into links unless a text object is `verbatim`. Every untrusted string goes
 * through `slackText`, and every mrkdwn object we send is verbatim, so a context value can
 * neither ping anyone nor become a link.
 */

/** Longest single value shown in a message (characters); longer text ends with `…`. */
export const MAX_VALUE_CHARS = 200

/** Control, format (bidirectional overrides, zero-width) and line/paragraph separators. */
const UNSAFE_CHARACTERS = /[\p{Cc}\p{Cf}\p{Zl}\p{Zp}]/gu

/** Escapes Slack's three control characters (`&`, `<`, `>`), so no `<…>` mention or link can form. */
export function escapeMrkdwn(text: string): string {
  return text.replace(/&/g, '&amp;').replace(/</g, '&lt;').replace(/>/g, '&gt;')
}

/** One line of untrusted text for a mrkdwn field: invisible and control characters become spaces, capped, then escaped. */
export function slackText(value: string, maxChars = MAX_VALUE_CHARS): string {
  const oneLine = value.replace(UNSAFE_CHARACTERS, ' ').trim()
  const chars = [...oneLine]
  const capped = chars.length > maxChars ? `${chars.slice(0, maxChars - 1).join('')}…` : oneLine
  return escapeMrkdwn(capped)
}

/** A mrkdwn text object Slack shows as written: no auto-linked URLs, emails or channel names. */
export function mrkdwn(text: string): { type: 'mrkdwn'; text: string; verbatim: true } {
  return { type: 'mrkdwn', text, verbatim: true }
}

/** A plain-text object (button labels, modal titles); Slack never parses these for links or mentions. */
export function plainText(text: string, maxChars = 75): { type: 'plain_text'; text: string; emoji: false } {
  const chars = [...text.replace(UNSAFE_CHARACTERS, ' ')]
  return { type: 'plain_text', text: chars.length > maxChars ? `${chars.slice(0, maxChars - 1).join('')}…` : chars.join(''), emoji: false }
}

/** Slack's `<!date^…>` token, which each reader sees in their own time zone, with the ISO time as its fallback. */
export function slackDate(iso: string): string {
  const seconds = Math.floor(Date.parse(iso) / 1000)
  if (!Number.isFinite(seconds)) return escapeMrkdwn(iso)
  return `<!date^${seconds}^{date_short_pretty} {time}|${escapeMrkdwn(iso)}>`
}
