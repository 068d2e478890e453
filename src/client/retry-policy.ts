/**
 * How long to wait before retrying: capped exponential backoff with full jitter (so many
 * clients failing together do not retry in lockstep), and the server's `Retry-After`.
 */

export const BACKOFF_BASE_MS = 250
export const BACKOFF_CAP_MS = 15_000
/**
 * Longest `Retry-After` honoured. A larger one (a confused or hostile server) would make the
 * wait sleep past every decision until its deadline; after this long we look again.
 */
export const MAX_RETRY_AFTER_MS = 60_000
/** Consecutive 5xx answers after which the wait ends with `ApprovalTimeout` cause `server_error`. */
export const MAX_CONSECUTIVE_SERVER_ERRORS = 3

/**
 * Delay before retry number `attempt` (1 for the first retry): uniformly random in
 * `[0, min(cap, base · 2^(attempt-1))]` ("full jitter").
 */
export function backoffDelay(attempt: number, random: () => number = Math.random, baseMs = BACKOFF_BASE_MS, capMs = BACKOFF_CAP_MS): number {
  const ceiling = Math.min(capMs, baseMs * 2 ** Math.max(0, Math.min(attempt - 1, 30)))
  return Math.floor(random() * ceiling)
}

/**
 * Delay before retry number `attempt` after an answer that said `Retry-After: retryAfterMs`
 * (if it did): the server's delay, capped at {@link MAX_RETRY_AFTER_MS}, but never shorter than
 * the backoff, so `Retry-After: 0` or a date in the past cannot make a tight request loop.
 */
export function retryDelay(attempt: number, retryAfterMs?: number, random: () => number = Math.random): number {
  return Math.max(backoffDelay(attempt, random), Math.min(retryAfterMs ?? 0, MAX_RETRY_AFTER_MS))
}

/**
 * Parses a `Retry-After` header: delay-seconds (`"120"`, decimals tolerated) or an HTTP-date.
 * Returns milliseconds from `now` (never negative), or `undefined` when absent or unreadable.
 */
export function parseRetryAfter(header: string | string[] | undefined, now: number = Date.now()): number | undefined {
  const value = (Array.isArray(header) ? header[0] : header)?.trim()
  if (!value) return undefined
  if (/^\d+(\.\d+)?$/.test(value)) return Math.round(Number(value) * 1000)
  // Only an HTTP-date from here on ("Wed, 21 Oct 2015 07:28:00 GMT"); Date.parse would read "-5" as a year.
  if (!/[a-z]{3}/i.test(value)) return undefined
  const at = Date.parse(value)
  return Number.isNaN(at) ? undefined : Math.max(0, at - now)
}
