/**
 * The runner reads workflow commands (`::add-mask::`, `::error::`, …) from any stdout line, so
 * server-sent text (ids, approver, reason) printed with `core.info` must not start a new line.
 * (`core.notice`/`warning`/`error`/`setFailed` escape their message themselves.)
 */

/** Replaces line breaks and other control characters with spaces. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
}
