/**
 * Renders an approval's context (attacker-controlled JSON) as a key/value table: nested
 * objects as nested tables, arrays as bulleted lists, long text folded in <details>, and a
 * value that is a whole http(s) URL as a link (see `linkableUrl`). Every value goes through
 * the escaping `html` template.
 */
import { linkableUrl } from '../../../shared/links.js'
import { html, type SafeHtml } from '../html.js'
import { breakableUrl } from './format.js'

const FOLD_CHARS = 160
const FOLD_LINES = 4
const MAX_DEPTH = 4
const FOLD_ENTRIES = 12
/** Longest indented JSON shown for a nested value; beyond it (indentation grows with depth) compact JSON. */
const MAX_PRETTY_JSON_CHARS = 16 * 1024

export function contextTable(context: Record<string, unknown>, skipKeys: ReadonlySet<string> = new Set()): SafeHtml {
  const entries = Object.entries(context).filter(([key]) => !skipKeys.has(key))
  if (entries.length === 0) return html`<p class="muted">No context was sent with this request.</p>`
  return objectTable(entries, 0)
}

function objectTable(entries: Array<[string, unknown]>, depth: number): SafeHtml {
  return html`<table class="kv${depth > 0 ? ' kv-nested' : ''}"><tbody>${entries.map(
    ([key, value]) => html`<tr><th scope="row">${key}</th><td>${valueView(value, depth + 1)}</td></tr>`,
  )}</tbody></table>`
}

function valueView(value: unknown, depth: number): SafeHtml {
  if (value === null) return html`<code class="v-null">null</code>`
  if (typeof value === 'boolean' || typeof value === 'number') return html`<code class="v-scalar">${String(value)}</code>`
  if (typeof value === 'string') return textView(value)
  if (Array.isArray(value)) {
    if (value.length === 0) return html`<code class="v-null">[]</code>`
    if (depth > MAX_DEPTH) return foldedJson(value)
    // A nested list or table is its own group (no bullet beside it); scalars get bullets.
    const list = html`<ul class="v-list">${value.map((item) =>
      isGroup(item) ? html`<li class="v-group">${valueView(item, depth + 1)}</li>` : html`<li>${valueView(item, depth + 1)}</li>`,
    )}</ul>`
    return value.length > FOLD_ENTRIES ? fold(`${value.length} items`, list) : list
  }
  if (typeof value === 'object') {
    const entries = Object.entries(value as Record<string, unknown>)
    if (entries.length === 0) return html`<code class="v-null">{}</code>`
    if (depth > MAX_DEPTH) return foldedJson(value)
    const table = objectTable(entries, depth)
    return entries.length > FOLD_ENTRIES ? fold(`${entries.length} fields`, table) : table
  }
  return html`<code>${String(value)}</code>`
}

/** A non-empty array or object: shown as a nested list or table. */
function isGroup(value: unknown): boolean {
  if (Array.isArray(value)) return value.length > 0
  return typeof value === 'object' && value !== null && Object.keys(value).length > 0
}

function textView(text: string): SafeHtml {
  if (text === '') return html`<code class="v-null">""</code>`
  const href = linkableUrl(text)
  // The visible text is the URL the link opens (normalised), never a label chosen by the requester.
  if (href) return html`<a class="v-link" href="${href}" rel="noopener noreferrer" target="_blank">${breakableUrl(href)}</a>`
  const lines = text.split('\n')
  if (text.length <= FOLD_CHARS && lines.length <= FOLD_LINES) return html`<span class="v-text">${text}</span>`
  const preview = (lines[0] ?? '').slice(0, 80)
  return fold(`${preview}… (${text.length} characters)`, html`<pre class="v-long">${text}</pre>`)
}

function foldedJson(value: unknown): SafeHtml {
  const pretty = JSON.stringify(value, null, 2)
  const text = pretty.length <= MAX_PRETTY_JSON_CHARS ? pretty : JSON.stringify(value)
  return fold('nested value', html`<pre class="v-long">${text}</pre>`)
}

function fold(summary: string, body: SafeHtml): SafeHtml {
  return html`<details class="fold"><summary>${summary}</summary>${body}</details>`
}
