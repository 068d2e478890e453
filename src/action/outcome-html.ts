/**
 * The one rendering of a gate's outcome as HTML, shared by the job summary and the pull request
 * comment: a heading and a table (decision, approver, reason, approval id, time waited, dashboard
 * link, what happened). Action, approver, reason and messages are untrusted text: every value is
 * cut to `MAX_CELL_LENGTH`, HTML-escaped, and line breaks become `<br>` (a blank line would end
 * GitHub's HTML block and let the rest be parsed as Markdown). A link is made only from a whole
 * http(s) URL (`linkableUrl`), showing the URL it opens.
 */
import { escapeHtml } from '../shared/escape-html.js'
import { linkableUrl } from '../shared/links.js'
import { formatDuration } from '../shared/duration.js'
import type { DecisionOutput, GateOutcome } from './outcome.js'

/** Longest value shown in a cell; longer ones are cut with an ellipsis. */
export const MAX_CELL_LENGTH = 1_000

/** Turns untrusted text into HTML element content (the job summary uses `htmlText`, comments `commentText`). */
export type TextRenderer = (text: string) => string

const HEADINGS: Record<DecisionOutput, string> = {
  approved: '✅ Approved',
  rejected: '❌ Rejected',
  timed_out: '⏱️ Timed out',
  cancelled: '🚫 Cancelled',
}

/** Escapes text for HTML element content and attribute values, and turns line breaks into `<br>`. */
export function htmlText(text: string): string {
  return escapeHtml(text).replace(/\r\n|\r|\n/g, '<br>')
}

/**
 * `htmlText`, and a zero-width space after every `@` and `#`: in a comment, `@user`, `@org/team`
 * and `#123` written by whoever typed a reason or named the action would notify people and
 * cross-link issues. The text still reads the same.
 */
export function commentText(text: string): string {
  // Before escaping: the escapes themselves contain `#` (`&#39;`).
  return htmlText(text.replace(/[@#]/g, (ch) => `${ch}${ZERO_WIDTH_SPACE}`))
}

const ZERO_WIDTH_SPACE = '\u200B'

/** `✅ Approved: deploy`, or `Approval gate failed: deploy` when the gate ended without a decision. */
export function outcomeHeading(action: string, outcome: GateOutcome, text: TextRenderer): string {
  const heading = outcome.decision ? HEADINGS[outcome.decision] : 'Approval gate failed'
  return `<h2>${text(heading)}: ${text(truncate(action))}</h2>`
}

/** The outcome's rows, each `[name, HTML value]`. */
export function outcomeRows(action: string, outcome: GateOutcome, text: TextRenderer): Array<[string, string]> {
  const rows: Array<[string, string]> = [
    ['Action', text(truncate(action))],
    ['Decision', text(outcome.decision ?? 'none')],
    ['Approver', text(truncate(outcome.approver ?? '—'))],
    ['Reason', text(truncate(outcome.reason ?? '—'))],
    ['Approval id', outcome.approvalId ? `<code>${text(truncate(outcome.approvalId))}</code>` : '—'],
    ['Waited', text(formatDuration(outcome.waitedMs))],
    ['Dashboard', renderLink(outcome.url, text)],
  ]
  const happened = outcome.failure ?? outcome.warning
  if (happened) rows.push(['Result', text(truncate(happened))])
  return rows
}

/** A two-column table of `[name, HTML value]` rows, one line each. */
export function renderTable(rows: Array<[string, string]>): string[] {
  return ['<table>', ...rows.map(([name, value]) => `<tr><th align="left">${name}</th><td>${value}</td></tr>`), '</table>']
}

/** A link only for http(s) URLs (a `javascript:` URL from a hostile server stays plain text). */
export function renderLink(url: string | undefined, text: TextRenderer): string {
  if (!url) return '—'
  const href = linkableUrl(url)
  return href && href.length <= MAX_CELL_LENGTH ? link(href, text) : text(truncate(url))
}

/** `href` has passed `linkableUrl`; it is escaped for the attribute and shown as the link's text. */
export function link(href: string, text: TextRenderer): string {
  return `<a href="${htmlText(href)}" rel="noopener noreferrer">${text(href)}</a>`
}

export function truncate(value: string): string {
  return value.length > MAX_CELL_LENGTH ? `${value.slice(0, MAX_CELL_LENGTH)}…` : value
}
