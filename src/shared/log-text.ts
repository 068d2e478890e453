/**
 * CI runners read commands from any log line (GitHub Actions: `::add-mask::`, `::error::`,
 * `::stop-commands::`, the older `##[…]`), and terminals obey escape sequences, so server-sent
 * text (ids, approver, reason) printed by the action (`core.info`) or the CLI must not start a
 * new line, carry control characters, or itself begin with a command.
 * (`core.notice`/`warning`/`error`/`setFailed` escape their message themselves.)
 */

/** Replaces line breaks and other control characters with spaces. */
export function oneLine(text: string): string {
  // eslint-disable-next-line no-control-regex -- control characters are exactly what is removed
  return text.replace(/[\u0000-\u001f\u007f-\u009f\u2028\u2029\u0085]+/g, ' ')
}

// `%0A`, `%0d`, and the same percent-encoded again (`%250A`): the runner decodes these in command data.
const ENCODED_LINE_BREAK = /%(?:25)*0[ad]/gi
// A workflow command at the start of a line, after optional whitespace.
const LEADING_COMMAND = /^(\s*)(::|##\[)/

/**
 * One line of log text that can never be (or become) a workflow command: `oneLine`, encoded
 * line breaks turned into spaces too, and a leading `::` or `##[` broken up (`: :`, `# #[`).
 */
export function logLine(text: string): string {
  return oneLine(text.replace(ENCODED_LINE_BREAK, ' ')).replace(LEADING_COMMAND, (_match, space: string, command: string) => `${space}${command === '::' ? ': :' : '# #['}`)
}
