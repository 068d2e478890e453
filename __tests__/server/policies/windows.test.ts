import { describe, expect, it } from '@jest/globals'
import { describeWindowOpening, windowState, type ApprovalWindow } from '../../../src/server/policies/index.js'

const BERLIN_WORKDAYS: ApprovalWindow = { days: ['mon', 'tue', 'wed', 'thu'], from: '09:00', to: '16:00', time_zone: 'Europe/Berlin' }
const NEW_YORK_WEEKDAYS: ApprovalWindow = { days: ['mon', 'tue', 'wed', 'thu', 'fri'], from: '09:00', to: '17:00', time_zone: 'America/New_York' }

const at = (iso: string): Date => new Date(iso)

describe('windowState', () => {
  it('is open without windows', () => {
    expect(windowState([], at('2026-03-28T03:00:00Z'))).toEqual({ open: true })
  })

  it('is open from `from` (inclusive) to `to` (exclusive) on the listed days', () => {
    // Tue 24 March 2026, Berlin on CET (UTC+1).
    expect(windowState([BERLIN_WORKDAYS], at('2026-03-24T07:59:59Z'))).toEqual({ open: false, opens_at: '2026-03-24T08:00:00.000Z' })
    expect(windowState([BERLIN_WORKDAYS], at('2026-03-24T08:00:00Z'))).toEqual({ open: true })
    expect(windowState([BERLIN_WORKDAYS], at('2026-03-24T14:59:59Z'))).toEqual({ open: true })
    expect(windowState([BERLIN_WORKDAYS], at('2026-03-24T15:00:00Z'))).toEqual({ open: false, opens_at: '2026-03-25T08:00:00.000Z' })
  })

  it('Europe/Berlin, clocks going forward (Sun 29 March 2026): Monday 09:00 is 07:00 UTC, a week earlier it was 08:00', () => {
    expect(windowState([BERLIN_WORKDAYS], at('2026-03-20T10:00:00Z'))).toEqual({ open: false, opens_at: '2026-03-23T08:00:00.000Z' })
    const friday = windowState([BERLIN_WORKDAYS], at('2026-03-27T10:00:00Z'))
    expect(friday).toEqual({ open: false, opens_at: '2026-03-30T07:00:00.000Z' })
    expect(windowState([BERLIN_WORKDAYS], at('2026-03-30T06:59:00Z')).open).toBe(false)
    expect(windowState([BERLIN_WORKDAYS], at('2026-03-30T07:00:00Z')).open).toBe(true)
    expect(windowState([BERLIN_WORKDAYS], at('2026-03-30T13:59:00Z')).open).toBe(true)
    expect(windowState([BERLIN_WORKDAYS], at('2026-03-30T14:00:00Z')).open).toBe(false)
    expect(describeWindowOpening('2026-03-30T07:00:00.000Z', 'Europe/Berlin')).toBe('Mon 09:00')
  })

  it('Europe/Berlin, clocks going back (Sun 25 October 2026): Monday 09:00 is 08:00 UTC again', () => {
    expect(windowState([BERLIN_WORKDAYS], at('2026-10-23T10:00:00Z'))).toEqual({ open: false, opens_at: '2026-10-26T08:00:00.000Z' })
    expect(windowState([BERLIN_WORKDAYS], at('2026-10-22T07:30:00Z')).open).toBe(true) // Thu 09:30 CEST
    expect(windowState([BERLIN_WORKDAYS], at('2026-10-26T07:30:00Z')).open).toBe(false) // Mon 08:30 CET
  })

  it('America/New_York across both changes (8 March and 1 November 2026)', () => {
    expect(windowState([NEW_YORK_WEEKDAYS], at('2026-03-06T23:00:00Z'))).toEqual({ open: false, opens_at: '2026-03-09T13:00:00.000Z' })
    expect(windowState([NEW_YORK_WEEKDAYS], at('2026-03-06T21:59:00Z')).open).toBe(true) // Fri 16:59 EST
    expect(windowState([NEW_YORK_WEEKDAYS], at('2026-10-30T22:00:00Z'))).toEqual({ open: false, opens_at: '2026-11-02T14:00:00.000Z' })
    expect(describeWindowOpening('2026-11-02T14:00:00.000Z', 'America/New_York')).toBe('Mon 09:00')
  })

  it('a window starting inside the hour clocks skip opens when the clocks jump past it', () => {
    // New York has no 02:30 on Sun 8 March 2026: at 07:00 UTC clocks go from 02:00 EST to 03:00 EDT.
    const skipped: ApprovalWindow = { days: ['sun'], from: '02:30', to: '04:00', time_zone: 'America/New_York' }
    const state = windowState([skipped], at('2026-03-07T17:00:00Z'))
    expect(state).toEqual({ open: false, opens_at: '2026-03-08T07:00:00.000Z' })
    expect(windowState([skipped], at('2026-03-08T07:00:00Z')).open).toBe(true)
    expect(windowState([skipped], at('2026-03-08T06:59:00Z')).open).toBe(false)
    // A week later 02:30 exists again.
    expect(windowState([skipped], at('2026-03-08T08:00:00Z'))).toEqual({ open: false, opens_at: '2026-03-15T06:30:00.000Z' })
  })

  it('a window ending inside the skipped hour does not open that day', () => {
    const gone: ApprovalWindow = { days: ['sun'], from: '02:10', to: '02:50', time_zone: 'Europe/Berlin' }
    expect(windowState([gone], at('2026-03-28T12:00:00Z'))).toEqual({ open: false, opens_at: '2026-04-05T00:10:00.000Z' })
  })

  it('a window in the hour that happens twice opens at its first occurrence and is open in both', () => {
    // New York, Sun 1 November 2026: 01:30 EDT (05:30 UTC), then 01:30 EST (06:30 UTC).
    const twice: ApprovalWindow = { days: ['sun'], from: '01:30', to: '01:45', time_zone: 'America/New_York' }
    expect(windowState([twice], at('2026-10-31T12:00:00Z'))).toEqual({ open: false, opens_at: '2026-11-01T05:30:00.000Z' })
    expect(windowState([twice], at('2026-11-01T05:40:00Z')).open).toBe(true)
    expect(windowState([twice], at('2026-11-01T06:00:00Z')).open).toBe(false)
    expect(windowState([twice], at('2026-11-01T06:40:00Z')).open).toBe(true)
  })

  it('takes the earliest opening of several windows, in different zones, and windows to midnight', () => {
    const lateBerlin: ApprovalWindow = { days: ['sat'], from: '22:00', to: '24:00', time_zone: 'Europe/Berlin' }
    const earlyTokyo: ApprovalWindow = { days: ['sun'], from: '00:00', to: '01:00', time_zone: 'Asia/Tokyo' }
    // Sat 28 March 2026 12:00 UTC: Berlin opens 21:00 UTC; Tokyo's Sunday 00:00 is Sat 15:00 UTC.
    expect(windowState([lateBerlin, earlyTokyo], at('2026-03-28T12:00:00Z'))).toEqual({ open: false, opens_at: '2026-03-28T15:00:00.000Z' })
    expect(windowState([lateBerlin, earlyTokyo], at('2026-03-28T22:59:59Z')).open).toBe(true)
    expect(windowState([lateBerlin], at('2026-03-28T23:00:00Z')).open).toBe(false)
  })

  it('for instants all over a year, the opening it gives is open and the minute before is not', () => {
    const windows: ApprovalWindow[] = [BERLIN_WORKDAYS, NEW_YORK_WEEKDAYS, { days: ['sun'], from: '02:30', to: '02:45', time_zone: 'Europe/Berlin' }]
    let checked = 0
    for (let instant = Date.parse('2026-01-01T00:00:00Z'); instant < Date.parse('2027-01-01T00:00:00Z'); instant += 7 * 3_600_000 + 13 * 60_000) {
      const state = windowState(windows, new Date(instant))
      if (state.open) continue
      checked += 1
      expect(state.opens_at).not.toBeNull()
      const opensAt = Date.parse(state.opens_at!)
      expect(opensAt).toBeGreaterThan(instant)
      expect(windowState(windows, new Date(opensAt)).open).toBe(true)
      if (opensAt - 60_000 > instant) expect(windowState(windows, new Date(opensAt - 60_000)).open).toBe(false)
    }
    expect(checked).toBeGreaterThan(300)
  })
})

describe('describeWindowOpening', () => {
  it('writes the opening on the clock of the zone', () => {
    expect(describeWindowOpening('2026-03-24T08:00:00.000Z', 'Europe/Berlin')).toBe('Tue 09:00')
    expect(describeWindowOpening('2026-03-24T08:00:00.000Z', 'America/New_York')).toBe('Tue 04:00')
    expect(describeWindowOpening('2026-03-28T15:00:00.000Z', 'Asia/Tokyo')).toBe('Sun 00:00')
  })
})
