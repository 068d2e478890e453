/**
 * Human durations for timeouts and poll intervals: `500ms`, `30s`, `5m`, `1h`, combinations
 * such as `1h30m` or `2m 30s`, decimals such as `1.5h`; a bare number means seconds.
 * Shared by the GitHub Action and the CLI so both accept exactly the same text.
 */

const UNIT_MS = { h: 3_600_000, m: 60_000, s: 1_000, ms: 1 } as const
type Unit = keyof typeof UNIT_MS
/** Units from largest to smallest: combinations must follow this order (`1h30m`, not `30m1h`). */
const UNIT_ORDER: readonly Unit[] = ['h', 'm', 's', 'ms']

/**
 * Largest duration accepted by default: Node timers overflow above 2^31-1 ms (~24.8 days)
 * and would fire at once, turning a long timeout into an instant one.
 */
export const MAX_DURATION_MS = 2_147_483_647

const EXAMPLES = 'use a number with a unit (ms, s, m, h), for example 30s, 5m, 1h or 1h30m; a bare number means seconds'
const BARE_NUMBER = /^\d+(?:\.\d+)?$/
// `ms` must be tried before `m`, or `500ms` would read as 500 minutes followed by garbage.
const COMPONENT = /(\d+(?:\.\d+)?)\s*(ms|h|m|s)/y

/** Thrown for text that is not a usable duration; the message says what is wrong and how to write it. */
export class InvalidDurationError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'InvalidDurationError'
  }
}

/**
 * Parses a duration into whole milliseconds.
 * @throws InvalidDurationError for empty, malformed, zero, negative or too-large values
 *   (above `maxMs`, default {@link MAX_DURATION_MS}).
 */
export function parseDuration(text: string, options: { maxMs?: number } = {}): number {
  const maxMs = options.maxMs ?? MAX_DURATION_MS
  const trimmed = text.trim().toLowerCase()
  if (trimmed === '') throw new InvalidDurationError(`the duration is empty: ${EXAMPLES}`)
  if (trimmed.startsWith('-')) throw new InvalidDurationError(`${quote(text)} is negative: a duration must be greater than zero`)

  const ms = BARE_NUMBER.test(trimmed) ? Number(trimmed) * UNIT_MS.s : parseComponents(trimmed, text.trim())
  const rounded = Math.round(ms)
  if (!Number.isFinite(ms) || rounded > maxMs) {
    throw new InvalidDurationError(`${quote(text)} is too long: the maximum is ${formatDuration(maxMs)}`)
  }
  if (rounded <= 0) {
    throw new InvalidDurationError(`${quote(text)} is ${ms === 0 ? 'zero' : 'shorter than 1ms'}: a duration must be at least 1ms`)
  }
  return rounded
}

/** Echoes the offending text in messages, shortened so a pasted blob cannot flood the log. */
function quote(text: string): string {
  const trimmed = text.trim()
  return JSON.stringify(trimmed.length > 40 ? `${trimmed.slice(0, 40)}…` : trimmed)
}

/** Sums `1h30m`-style components, rejecting unknown units, repeats and out-of-order units. */
function parseComponents(normalized: string, original: string): number {
  let total = 0
  let position = 0
  let lastUnitIndex = -1
  const compact = normalized.replace(/\s+(?=\d)/g, '') // allow `2m 30s`
  while (position < compact.length) {
    COMPONENT.lastIndex = position
    const match = COMPONENT.exec(compact)
    if (!match) throw new InvalidDurationError(`${quote(original)} is not a duration: ${EXAMPLES}`)
    const unit = match[2] as Unit
    const unitIndex = UNIT_ORDER.indexOf(unit)
    if (unitIndex <= lastUnitIndex) {
      throw new InvalidDurationError(`${quote(original)} repeats or misorders units: write larger units first, each once (for example 1h30m)`)
    }
    lastUnitIndex = unitIndex
    total += Number(match[1]) * UNIT_MS[unit]
    position = COMPONENT.lastIndex
  }
  return total
}

/**
 * Formats milliseconds for people, largest units first, dropping zero parts:
 * `90_000` → `1m30s`, `3_600_000` → `1h`, `250` → `250ms`. Values under a minute keep seconds only.
 */
export function formatDuration(ms: number): string {
  const whole = Math.max(0, Math.round(ms))
  if (whole < 1_000) return `${whole}ms`
  const totalSeconds = Math.round(whole / 1_000)
  const hours = Math.floor(totalSeconds / 3_600)
  const minutes = Math.floor((totalSeconds % 3_600) / 60)
  const seconds = totalSeconds % 60
  const parts = [hours ? `${hours}h` : '', minutes ? `${minutes}m` : '', seconds ? `${seconds}s` : '']
  return parts.join('') || '0s'
}
