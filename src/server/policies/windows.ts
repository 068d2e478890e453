/**
 * Approval windows: whether approvals may be granted at an instant, and when the next window
 * opens. A window is open on its `days` from `from` (inclusive) to `to` (exclusive) by the
 * wall clock of its time zone, so "09:00 Europe/Berlin" stays 09:00 across DST changes.
 */
import type { ApprovalWindow, WindowState } from './types.js'
import { WEEKDAYS } from './types.js'
import { addDays, instantOfWallTime, parseClock, wallTimeAt } from './wall-clock.js'

/** Whether approvals may be granted at `now`: open inside any window (or when there are none). */
export function windowState(windows: readonly ApprovalWindow[], now: Date): WindowState {
  if (windows.length === 0 || windows.some((window) => isInside(window, now.getTime()))) return { open: true }
  const openings = windows.map((window) => nextOpening(window, now.getTime())).filter((instant): instant is number => instant !== null)
  return { open: false, opens_at: openings.length > 0 ? new Date(Math.min(...openings)).toISOString() : null }
}

/** "Mon 09:00": when a window opens, on the clock of its time zone (for "outside the deploy window until Mon 09:00"). */
export function describeWindowOpening(opensAt: string, timeZone: string): string {
  const wall = wallTimeAt(Date.parse(opensAt), timeZone)
  const day = WEEKDAYS[wall.weekday]
  const clock = `${String(Math.floor(wall.minutes / 60)).padStart(2, '0')}:${String(wall.minutes % 60).padStart(2, '0')}`
  return `${day[0].toUpperCase()}${day.slice(1)} ${clock}`
}

function isInside(window: ApprovalWindow, instant: number): boolean {
  const wall = wallTimeAt(instant, window.time_zone)
  return window.days.includes(WEEKDAYS[wall.weekday]) && wall.minutes >= parseClock(window.from)! && wall.minutes < parseClock(window.to)!
}

/** The first instant after `instant` at which the window opens, looking a week (and a day) ahead. */
function nextOpening(window: ApprovalWindow, instant: number): number | null {
  const today = wallTimeAt(instant, window.time_zone)
  const from = parseClock(window.from)!
  for (let offset = 0; offset <= 8; offset += 1) {
    const date = addDays(today.year, today.month, today.day, offset)
    const opening = instantOfWallTime(date, from, window.time_zone)
    // A skipped opening (clocks jumped past `from`) may land after `to`; the window then stays shut that day.
    if (opening > instant && isInside(window, opening)) return opening
  }
  return null
}
