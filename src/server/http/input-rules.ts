/**
 * JSON-schema pieces for hostile input: printable text, reasons and the API's size limits.
 * Routes compose their schemas from these so every limit is written once.
 */

/** Largest serialised `context` (bytes of its JSON). Larger answers `413`. */
export const MAX_CONTEXT_BYTES = 64 * 1024
/**
 * Deepest nesting of objects and arrays in `context` (the context object itself is level 1).
 * Deeper JSON overflows the stack when serialised (~5,000 levels) and, below that, renders as
 * megabytes of indentation on the dashboard; real contexts are a few levels deep.
 */
export const MAX_CONTEXT_DEPTH = 32
/** Largest request body the server reads at all. */
export const MAX_BODY_BYTES = 256 * 1024
export const MAX_ACTION_CHARS = 200
export const MAX_AGENT_CHARS = 200
export const MAX_REASON_CHARS = 2_000
export const MAX_IDEMPOTENCY_KEY_CHARS = 200
/** Longest id accepted in a path (ours are ~26 characters). */
export const MAX_ID_CHARS = 200
export const MIN_TIMEOUT_MS = 1_000
export const MAX_TIMEOUT_MS = 30 * 24 * 60 * 60 * 1_000
/** Longest long-poll, in seconds. */
export const MAX_WAIT_SECONDS = 60

/**
 * Lone surrogates (patterns run with the `u` flag, so a valid pair is one code point and does
 * not match): they are not text, the database stores them as U+FFFD, and an audit hash taken
 * over the string as sent would then never verify.
 */
const LONE_SURROGATES = '\\uD800-\\uDFFF'
/**
 * Characters refused in single-line text: control characters, line/paragraph separators,
 * format characters — bidirectional overrides and zero-width characters, which can make a
 * card read differently from what it says or look blank — and lone surrogates.
 */
const INVISIBLE = `\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}${LONE_SURROGATES}`
/** Multi-line text (reasons) may also hold tabs and line breaks (and emoji joiners). */
const INVISIBLE_EXCEPT_LINES = `\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F\\p{Zl}\\p{Zp}\\u202A-\\u202E\\u2066-\\u2069${LONE_SURROGATES}`

/** A single line of visible text: not blank, no control characters. */
export function printableLine(maxLength: number) {
  return { type: 'string', minLength: 1, maxLength, pattern: `^(?=[\\s\\S]*\\S)[^${INVISIBLE}]+$` } as const
}

/** A single line that may be empty (optional labels such as `agent`). */
export function optionalLine(maxLength: number) {
  return { type: 'string', maxLength, pattern: `^[^${INVISIBLE}]*$` } as const
}

/** Free text with line breaks (decision and cancel reasons). */
export const reasonSchema = { type: 'string', maxLength: MAX_REASON_CHARS, pattern: `^[^${INVISIBLE_EXCEPT_LINES}]*$` } as const

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
