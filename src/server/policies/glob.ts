/**
 * Globs for action names and requester claims: `*` matches any run of characters (also none),
 * `?` exactly one, everything else itself (case-sensitive). Matched without regular
 * expressions, so a pattern full of stars cannot make matching take exponential time.
 */

/** Whether `text` matches `pattern` as a whole. */
export function globMatches(pattern: string, text: string): boolean {
  let p = 0
  let t = 0
  // Where the last `*` was and how much of the text it has swallowed so far: on a mismatch,
  // let that star swallow one more character and retry (linear backtracking, one star deep).
  let starAt = -1
  let starText = 0
  while (t < text.length) {
    if (p < pattern.length && (pattern[p] === '?' || (pattern[p] !== '*' && pattern[p] === text[t]))) {
      p += 1
      t += 1
    } else if (p < pattern.length && pattern[p] === '*') {
      starAt = p
      starText = t
      p += 1
    } else if (starAt !== -1) {
      p = starAt + 1
      starText += 1
      t = starText
    } else {
      return false
    }
  }
  while (p < pattern.length && pattern[p] === '*') p += 1
  return p === pattern.length
}

/** Whether `text` matches any of `patterns`. */
export function anyGlobMatches(patterns: readonly string[], text: string): boolean {
  return patterns.some((pattern) => globMatches(pattern, text))
}
