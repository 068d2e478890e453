/**
 * CI runners read commands from any log line (GitHub Actions: `::add-mask::`, `::error::`, …),
 * and terminals obey escape sequences, so server-sent text (ids, approver, reason) printed by
 * the action (`core.info`) or the CLI must not start a new line or carry control characters.
 * (`core.notice`/`warning`/`error`/`setFailed` escape their message themselves.)
 */

/** Replaces line breaks and other control characters with spaces. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029]+/g, ' ')
}
