/**
 * The one way the dashboard builds HTML: a tagged template that escapes every interpolation.
 * Context values are attacker-controlled, so nothing reaches a page unescaped unless it was
 * itself built by `html` (or explicitly marked trusted with `raw`).
 */
import { escapeHtml } from '../../shared/escape-html.js'

export { escapeHtml }

/** A fragment of HTML that is already safe to emit. */
export class SafeHtml {
  constructor(readonly value: string) {}
  toString(): string {
    return this.value
  }
}

/** Marks a trusted, constant fragment as HTML. Never pass user or request data to it. */
export function raw(trusted: string): SafeHtml {
  return new SafeHtml(trusted)
}

/** What may be interpolated: text (escaped), fragments, lists of either, or nothing. */
export type HtmlValue = SafeHtml | string | number | boolean | null | undefined | readonly HtmlValue[]

function render(value: HtmlValue): string {
  if (value instanceof SafeHtml) return value.value
  if (value === null || value === undefined || value === false) return ''
  if (Array.isArray(value)) return value.map((item: HtmlValue) => render(item)).join('')
  return escapeHtml(String(value))
}

/** `html\`<p>${text}</p>\`` — interpolations are escaped; nested `html` fragments are kept. */
export function html(strings: TemplateStringsArray, ...values: HtmlValue[]): SafeHtml {
  let out = strings[0] ?? ''
  for (let i = 0; i < values.length; i++) out += render(values[i]) + (strings[i + 1] ?? '')
  return new SafeHtml(out)
}
