/**
 * Wall-clock time in named time zones, through `Intl` (no time-zone database of our own):
 * what a clock in a zone shows at an instant, and the instant a zone's clock shows a given
 * date and time — including on the days daylight saving time starts and ends.
 */

/** What a clock in some zone shows. `weekday` 0 = Monday … 6 = Sunday; `month` 1–12. */
export interface WallTime {
  year: number
  month: number
  day: number
  weekday: number
  minutes: number // since local midnight
}

const CLOCK = /^([01]\d|2[0-4]):([0-5]\d)$/

/** Minutes since midnight of `HH:MM` (`24:00` → 1440), or null when it is not such a time. */
export function parseClock(text: string): number | null {
  const match = CLOCK.exec(text)
  if (!match) return null
  const minutes = Number(match[1]) * 60 + Number(match[2])
  return minutes <= 24 * 60 ? minutes : null
}

export function isValidTimeZone(timeZone: string): boolean {
  try {
    formatterFor(timeZone)
    return true
  } catch {
    return false
  }
}

const formatters = new Map<string, Intl.DateTimeFormat>()

function formatterFor(timeZone: string): Intl.DateTimeFormat {
  let formatter = formatters.get(timeZone)
  if (!formatter) {
    formatter = new Intl.DateTimeFormat('en-US', {
      timeZone,
      hourCycle: 'h23',
      year: 'numeric',
      month: 'numeric',
      day: 'numeric',
      hour: 'numeric',
      minute: 'numeric',
      second: 'numeric',
    })
    formatters.set(timeZone, formatter)
  }
  return formatter
}

/** What a clock in `timeZone` shows at `instant` (milliseconds since the epoch). */
export function wallTimeAt(instant: number, timeZone: string): WallTime {
  const parts: Record<string, number> = {}
  for (const part of formatterFor(timeZone).formatToParts(new Date(instant))) {
    if (part.type !== 'literal') parts[part.type] = Number(part.value)
  }
  const { year, month, day } = parts
  return { year, month, day, weekday: weekdayOf(year, month, day), minutes: (parts.hour % 24) * 60 + parts.minute }
}

/** Monday-based weekday (0–6) of a calendar date; the same in every zone. */
export function weekdayOf(year: number, month: number, day: number): number {
  return (new Date(Date.UTC(year, month - 1, day)).getUTCDay() + 6) % 7
}

/** The calendar date `days` after the given one. */
export function addDays(year: number, month: number, day: number, days: number): { year: number; month: number; day: number } {
  const date = new Date(Date.UTC(year, month - 1, day + days))
  return { year: date.getUTCFullYear(), month: date.getUTCMonth() + 1, day: date.getUTCDate() }
}

/** How far the zone's clock is ahead of UTC at `instant`, in milliseconds (whole minutes). */
function offsetAt(instant: number, timeZone: string): number {
  const wall = wallTimeAt(instant, timeZone)
  const asUtc = Date.UTC(wall.year, wall.month - 1, wall.day) + wall.minutes * 60_000
  return asUtc - Math.floor(instant / 60_000) * 60_000
}

/**
 * The first instant at which the clock in `timeZone` shows `minutes` past midnight (or later)
 * on the given date. A time that happens twice (clocks going back) gives its first occurrence;
 * a time that does not happen (clocks going forward) gives the moment the clocks jump past it.
 */
export function instantOfWallTime(date: { year: number; month: number; day: number }, minutes: number, timeZone: string): number {
  const naive = Date.UTC(date.year, date.month - 1, date.day) + minutes * 60_000
  // Zone offsets change at most once around a given day: try the offsets a day before and after.
  const offsets = [...new Set([offsetAt(naive - 86_400_000, timeZone), offsetAt(naive + 86_400_000, timeZone)])]
  const exact = offsets
    .map((offset) => naive - offset)
    .filter((instant) => showsAtLeast(instant, date, minutes, timeZone, true))
    .sort((a, b) => a - b)
  if (exact.length > 0) return exact[0]
  // Skipped by a jump forward: search the minutes between the two readings for the jump.
  let low = Math.min(...offsets.map((offset) => naive - offset))
  let high = Math.max(...offsets.map((offset) => naive - offset))
  while (high - low > 60_000) {
    const middle = low + Math.floor((high - low) / 120_000) * 60_000
    if (showsAtLeast(middle, date, minutes, timeZone)) high = middle
    else low = middle
  }
  return high
}

/** Whether the zone's clock at `instant` shows `date` at `minutes` or later (`exactly`: equal). */
function showsAtLeast(instant: number, date: { year: number; month: number; day: number }, minutes: number, timeZone: string, exactly = false): boolean {
  const wall = wallTimeAt(instant, timeZone)
  const dayOrder = Math.sign(Date.UTC(wall.year, wall.month - 1, wall.day) - Date.UTC(date.year, date.month - 1, date.day))
  if (exactly) return dayOrder === 0 && wall.minutes === minutes
  return dayOrder > 0 || (dayOrder === 0 && wall.minutes >= minutes)
}
