/**
 * Which characters a name or a reason may hold, as regular-expression sources: the server's
 * JSON schemas, the dashboard's forms and the client's own checks all build on these.
 */

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
export const INVISIBLE = `\\p{Cc}\\p{Cf}\\p{Zl}\\p{Zp}${LONE_SURROGATES}`
/** Multi-line text (reasons) may also hold tabs and line breaks (and emoji joiners). */
export const INVISIBLE_EXCEPT_LINES = `\\u0000-\\u0008\\u000B\\u000C\\u000E-\\u001F\\u007F-\\u009F\\p{Zl}\\p{Zp}\\u202A-\\u202E\\u2066-\\u2069${LONE_SURROGATES}`

/**
 * Characters that are letters, symbols or punctuation to Unicode but draw nothing: Hangul
 * fillers (U+115F, U+1160, U+3164, U+FFA0) and the blank Braille pattern (U+2800).
 */
const BLANK_LOOKING = '\\u115F\\u1160\\u3164\\uFFA0\\u2800'
/**
 * One visible character: a letter, digit, punctuation mark or symbol that draws something.
 * Combining marks (`\p{M}`) are not in the class, so marks alone never count as visible.
 */
export const VISIBLE_CHARACTER = `(?![${BLANK_LOOKING}])[\\p{L}\\p{N}\\p{P}\\p{S}]`

/**
 * A name (`action`, `agent`): one line, no invisible characters, and at least one visible
 * letter, digit, punctuation mark or symbol — so `U+3164`, `U+2800` or combining marks
 * alone cannot make a card that looks blank.
 */
export const NAME_PATTERN = `^(?=[\\s\\S]*${VISIBLE_CHARACTER})[^${INVISIBLE}]+$`
/** A name that may also be empty (an optional `agent`: empty means none). */
export const OPTIONAL_NAME_PATTERN = `^(?:(?=[\\s\\S]*${VISIBLE_CHARACTER})[^${INVISIBLE}]+)?$`

const NAME = new RegExp(NAME_PATTERN, 'u')

/** True when `text` may be used as an action or agent name: within `maxChars`, one line, something visible. */
export function isValidName(text: string, maxChars: number): boolean {
  return text.length >= 1 && text.length <= maxChars && NAME.test(text)
}

/** A single line of visible text: not blank, no invisible characters (schema `pattern`). */
export const PRINTABLE_LINE_PATTERN = `^(?=[\\s\\S]*\\S)[^${INVISIBLE}]+$`
/** A single line that may be empty. */
export const OPTIONAL_LINE_PATTERN = `^[^${INVISIBLE}]*$`
/** Free text with line breaks (decision and cancel reasons). */
export const REASON_PATTERN = `^[^${INVISIBLE_EXCEPT_LINES}]*$`

const REASON = new RegExp(REASON_PATTERN, 'u')

/** True when `text` may be stored as a reason: within the length limit, no invisible characters. */
export function isValidReason(text: string, maxChars: number): boolean {
  return text.length <= maxChars && REASON.test(text)
}
