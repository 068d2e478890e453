/**
 * The job summary of a gate: the outcome (rendered by `outcome-html.ts`, as the pull request
 * comment is) and the context as a table. Context keys and values are untrusted text, escaped
 * the same way; a context value that is a whole http(s) URL becomes a link by the dashboard's
 * rule (`linkableUrl`): its text is the URL it opens, and no other scheme is ever linked.
 */
import * as core from '@actions/core'
import type { GateOutcome } from './outcome.js'
import { htmlText, outcomeHeading, outcomeRows, renderLink, renderTable, truncate } from './outcome-html.js'

/** Context rows shown at most; the rest is summarised in one line. */
export const MAX_CONTEXT_ROWS = 100
const MAX_CONTEXT_DEPTH = 4

/** Renders the summary as one HTML block (no blank lines inside). */
export function renderSummary(action: string, outcome: GateOutcome, context: Record<string, unknown>): string {
  const lines = [outcomeHeading(action, outcome, htmlText), ...renderTable(outcomeRows(action, outcome, htmlText))]
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

/** A context value: a link when the whole value is an http(s) URL short enough to show in full, else text. */
function contextValue(value: string): string {
  return value === '' ? '' : renderLink(value, htmlText)
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
