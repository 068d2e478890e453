/**
 * JSON-schema pieces for hostile input: reasons and the API's size limits (names use the
 * contract's `NAME_PATTERN`).
 * Routes compose their schemas from these so every limit is written once.
 */

import { REASON_PATTERN, MAX_REASON_CHARS } from '../../contract/index.js'

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
