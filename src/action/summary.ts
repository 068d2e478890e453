/**
 * The job summary of a gate: the decision, who decided and why, the approval id, the time
 * waited, the dashboard link, and the context as a table. Context, reason and approver are
 * untrusted text, so every value is HTML-escaped and line breaks become `<br>`: a blank line
 * would end GitHub's HTML block and let the rest be parsed as Markdown. A context value that is
 * a whole http(s) URL becomes a link by the dashboard's rule (`linkableUrl`): its text is the
 * URL it opens, and no other scheme is ever linked.
 */
import * as core from '@actions/core'
import { escapeHtml } from '../shared/escape-html.js'
import { linkableUrl } from '../shared/links.js'
import { formatDuration } from '../shared/duration.js'
import type { DecisionOutput, GateOutcome } from './outcome.js'

/** Context rows shown at most; the rest is summarised in one line. */
export const MAX_CONTEXT_ROWS = 100
/** Longest value shown in a cell; longer ones are cut with an ellipsis. */
export const MAX_CELL_LENGTH = 1_000
const MAX_CONTEXT_DEPTH = 4

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

/** Renders the summary as one HTML block (no blank lines inside). */
export function renderSummary(action: string, outcome: GateOutcome, context: Record<string, unknown>): string {
  const heading = outcome.decision ? HEADINGS[outcome.decision] : 'Approval gate failed'
  const rows: Array<[string, string]> = [
    ['Action', htmlText(action)],
    ['Decision', htmlText(outcome.decision ?? 'none')],
    ['Approver', htmlText(outcome.approver ?? '—')],
    ['Reason', htmlText(outcome.reason ?? '—')],
    ['Approval id', outcome.approvalId ? `<code>${htmlText(outcome.approvalId)}</code>` : '—'],
    ['Waited', htmlText(formatDuration(outcome.waitedMs))],
    ['Dashboard', renderLink(outcome.url)],
  ]
  const lines = [
    `<h2>${htmlText(heading)}: ${htmlText(truncate(action))}</h2>`,
    '<table>',
    ...rows.map(([name, value]) => `<tr><th align="left">${name}</th><td>${value}</td></tr>`),
    '</table>',
  ]
  const contextRows = flattenContext(context)
  lines.push('<h3>Context</h3>')
  if (contextRows.length === 0) {
    lines.push('<p>(empty)</p>')
  } else {
    lines.push('<table>', '<tr><th align="left">Key</th><th align="left">Value</th></tr>')
    for (const [key, value] of contextRows.slice(0, MAX_CONTEXT_ROWS)) {
      lines.push(`<tr><td><code>${htmlText(truncate(key))}</code></td><td>${contextValue(value)}</td></tr>`)
    }
    lines.push('</table>')
    if (contextRows.length > MAX_CONTEXT_ROWS) lines.push(`<p>… and ${contextRows.length - MAX_CONTEXT_ROWS} more entries, not shown.</p>`)
  }
  return `${lines.join('\n')}\n`
}

/**
 * Writes the summary to `GITHUB_STEP_SUMMARY`. Outside a runner (no such file) it skips quietly;
 * a write error only warns: the decision matters more than its summary.
 */
export async function writeSummary(action: string, outcome: GateOutcome, context: Record<string, unknown>, env: NodeJS.ProcessEnv = process.env): Promise<boolean> {
  if (!env.GITHUB_STEP_SUMMARY) {
    core.debug('GITHUB_STEP_SUMMARY is not set: skipping the job summary.')
    return false
  }
  try {
    await core.summary.addRaw(renderSummary(action, outcome, context), true).write()
    return true
  } catch (error) {
    core.warning(`Could not write the job summary: ${error instanceof Error ? error.message : String(error)}`)
    return false
  } finally {
    core.summary.emptyBuffer()
  }
}

/** A link only for http(s) URLs (a `javascript:` URL from a hostile server stays plain text). */
function renderLink(url: string | undefined): string {
  if (!url) return '—'
  const href = linkableUrl(url)
  return href && href.length <= MAX_CELL_LENGTH ? link(href) : htmlText(truncate(url))
}

/** A context value: a link when the whole value is an http(s) URL short enough to show in full, else text. */
function contextValue(value: string): string {
  const href = linkableUrl(value)
  return href && href.length <= MAX_CELL_LENGTH ? link(href) : htmlText(truncate(value))
}

/** `href` has passed `linkableUrl`; it is escaped for the attribute and shown as the link's text. */
function link(href: string): string {
  return `<a href="${htmlText(href)}" rel="noopener noreferrer">${htmlText(href)}</a>`
}

/** Nested objects become dotted keys (`github.actor`); arrays and deep values are shown as JSON. */
export function flattenContext(value: Record<string, unknown>, prefix = '', depth = 0, rows: Array<[string, string]> = []): Array<[string, string]> {
  for (const [key, item] of Object.entries(value)) {
    const path = prefix ? `${prefix}.${key}` : key
    if (typeof item === 'object' && item !== null && !Array.isArray(item) && depth < MAX_CONTEXT_DEPTH && Object.keys(item).length > 0) {
      flattenContext(item as Record<string, unknown>, path, depth + 1, rows)
    } else {
      rows.push([path, typeof item === 'string' ? item : (JSON.stringify(item) ?? String(item))])
    }
  }
  return rows
}

function truncate(text: string): string {
  return text.length > MAX_CELL_LENGTH ? `${text.slice(0, MAX_CELL_LENGTH)}…` : text
}
