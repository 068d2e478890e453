/**
 * JSON-schema pieces for hostile input: printable text, reasons and the API's size limits.
 * Routes compose their schemas from these so every limit is written once.
 */

import { OPTIONAL_LINE_PATTERN, PRINTABLE_LINE_PATTERN, REASON_PATTERN, MAX_REASON_CHARS } from '../../contract/index.js'

export {
  MAX_ACTION_CHARS,
  MAX_AGENT_CHARS,
  MAX_BODY_BYTES,
  MAX_CONTEXT_BYTES,
  MAX_CONTEXT_DEPTH,
  MAX_ID_CHARS,
  MAX_IDEMPOTENCY_KEY_CHARS,
  MAX_REASON_CHARS,
  MAX_TIMEOUT_MS,
  MAX_WAIT_SECONDS,
  MIN_TIMEOUT_MS,
} from '../../contract/index.js'

/** A single line of visible text: not blank, no control characters. */
export function printableLine(maxLength: number) {
  return { type: 'string', minLength: 1, maxLength, pattern: PRINTABLE_LINE_PATTERN } as const
}

/** A single line that may be empty (optional labels such as `agent`). */
export function optionalLine(maxLength: number) {
  return { type: 'string', maxLength, pattern: OPTIONAL_LINE_PATTERN } as const
}

/** Free text with line breaks (decision and cancel reasons). */
export const reasonSchema = { type: 'string', maxLength: MAX_REASON_CHARS, pattern: REASON_PATTERN } as const

/**
 * True when `value` nests objects/arrays more than `maxDepth` levels. Iterative, so a hostile
 * value cannot overflow the stack while being checked.
 */
export function nestsDeeperThan(value: unknown, maxDepth: number): boolean {
  const stack: Array<[unknown, number]> = [[value, 1]]
  while (stack.length > 0) {
    const [current, depth] = stack.pop()!
    if (current === null || typeof current !== 'object') continue
    if (depth > maxDepth) return true
    for (const child of Object.values(current)) stack.push([child, depth + 1])
  }
  return false
}

/** Bytes of a value's JSON. */
export function jsonBytes(value: unknown): number {
  return Buffer.byteLength(JSON.stringify(value), 'utf8')
}
