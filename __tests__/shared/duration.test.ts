import { describe, expect, it } from '@jest/globals'
import { formatDuration, InvalidDurationError, MAX_DURATION_MS, parseDuration } from '../../src/shared/duration.js'

describe('parseDuration', () => {
  it.each([
    ['500ms', 500],
    ['30s', 30_000],
    ['5m', 300_000],
    ['1h', 3_600_000],
    ['1h30m', 5_400_000],
    ['1h30m15s250ms', 5_415_250],
    ['2m 30s', 150_000],
    ['30 s', 30_000],
    ['1.5h', 5_400_000],
    ['0.5s', 500],
    ['90', 90_000],
    ['2.5', 2_500],
    ['  10m  ', 600_000],
    ['1H', 3_600_000],
  ])('reads %p as %p ms', (text, expected) => {
    expect(parseDuration(text)).toBe(expected)
  })

  it.each([
    ['', /empty/],
    ['   ', /empty/],
    ['abc', /not a duration.*30s, 5m/],
    ['10 minutes', /not a duration/],
    ['5d', /not a duration/],
    ['1e3', /not a duration/],
    ['1.2.3s', /not a duration/],
    ['h', /not a duration/],
    ['30m1h', /larger units first/],
    ['1h1h', /larger units first/],
    ['-5', /negative/],
    ['-5s', /negative/],
    ['0', /zero/],
    ['0s', /zero/],
    ['0h0m', /zero/],
    ['0.0001s', /shorter than 1ms/],
    ['25d', /not a duration/],
    ['600h', /too long/],
    ['9'.repeat(400), /too long/],
  ])('rejects %p', (text, message) => {
    expect(() => parseDuration(text)).toThrow(InvalidDurationError)
    expect(() => parseDuration(text)).toThrow(message)
  })

  it('accepts exactly the maximum and honours a custom maximum', () => {
    expect(parseDuration(`${MAX_DURATION_MS}ms`)).toBe(MAX_DURATION_MS)
    expect(() => parseDuration(`${MAX_DURATION_MS + 1}ms`)).toThrow(/too long/)
    expect(() => parseDuration('2m', { maxMs: 60_000 })).toThrow(/too long: the maximum is 1m/)
  })
})

describe('formatDuration', () => {
  it.each([
    [0, '0ms'],
    [250, '250ms'],
    [1_000, '1s'],
    [90_000, '1m30s'],
    [3_600_000, '1h'],
    [5_415_000, '1h30m15s'],
    [-5, '0ms'],
  ])('formats %p as %p', (ms, expected) => {
    expect(formatDuration(ms)).toBe(expected)
  })

  it('round-trips through parseDuration', () => {
    for (const ms of [1_000, 61_000, 5_400_000, 86_399_000]) expect(parseDuration(formatDuration(ms))).toBe(ms)
  })
})
