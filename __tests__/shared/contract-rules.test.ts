/** The contract's name rule and the server's request fingerprint and rate-limit parsing, as units. */
import { describe, expect, it } from '@jest/globals'
import { API_ERROR_CODES, isValidName, NAME_PATTERN, OPTIONAL_NAME_PATTERN } from '../../src/contract/index.js'
import { canonicalJson, requestFingerprint } from '../../src/server/approvals/fingerprint.js'
import { KeyRateLimiter, parseRateLimit } from '../../src/server/http/create-rate-limit.js'

describe('names need a visible character', () => {
  const name = new RegExp(NAME_PATTERN, 'u')
  const optional = new RegExp(OPTIONAL_NAME_PATTERN, 'u')

  it('refuses fillers, blank Braille, combining marks alone, spaces and invisible characters', () => {
    for (const blank of ['', ' ', '\u3164', '\u115F', '\u1160', '\uFFA0', '\u2800', '\u0301', '\u20DD', ' \u0301 ', '\u3164\u2800', 'a\u200Bb', 'a\nb', 'x\u202E']) {
      expect([blank, isValidName(blank, 200)]).toEqual([blank, false])
      expect(name.test(blank)).toBe(false)
    }
  })

  it('accepts letters, digits, punctuation and symbols in any script, marks on a base', () => {
    for (const visible of ['a', '7', '-', '$', '🚀', 'e\u0301', '部署', 'déploiement prod', '\u3164x']) {
      expect([visible, isValidName(visible, 200)]).toEqual([visible, true])
      expect(optional.test(visible)).toBe(true)
    }
    expect(optional.test('')).toBe(true)
    expect(optional.test('\u3164')).toBe(false)
    expect(isValidName('a'.repeat(201), 200)).toBe(false)
  })

  it('lists the new error codes', () => {
    expect(API_ERROR_CODES).toEqual(expect.arrayContaining(['idempotency_key_reused', 'rate_limited', 'self_approval']))
  })
})

describe('request fingerprint', () => {
  it('is the SHA-256 of JSON with sorted keys at every level, arrays in order', () => {
    expect(canonicalJson({ b: [2, { d: 1, c: null }], a: 'x', __proto__: 1 })).toBe('{"a":"x","b":[2,{"c":null,"d":1}]}')
    expect(canonicalJson(JSON.parse('{"__proto__":{"z":1,"y":2}}'))).toBe('{"__proto__":{"y":2,"z":1}}')
    const base = { action: 'deploy', context: { a: 1, b: 2 }, agent: null, timeout_ms: null }
    expect(requestFingerprint(base)).toMatch(/^[0-9a-f]{64}$/)
    expect(requestFingerprint({ ...base, context: { b: 2, a: 1 } })).toBe(requestFingerprint(base))
    expect(requestFingerprint({ ...base, agent: '' })).not.toBe(requestFingerprint(base))
    expect(requestFingerprint({ ...base, timeout_ms: 1000 })).not.toBe(requestFingerprint(base))
  })
})

describe('create rate limit', () => {
  it('parses N/s, N/min and N/h, and off', () => {
    expect(parseRateLimit('600/min')).toEqual({ limit: 600, windowMs: 60_000 })
    expect(parseRateLimit(' 10 / s ')).toEqual({ limit: 10, windowMs: 1_000 })
    expect(parseRateLimit('5000/h')).toEqual({ limit: 5000, windowMs: 3_600_000 })
    expect(parseRateLimit('off')).toBeNull()
    expect(parseRateLimit('0')).toBeNull()
    for (const bad of ['600', '600/day', '-1/min', '1.5/s', 'fast']) expect(() => parseRateLimit(bad)).toThrow(/N\/s, N\/min or N\/h/)
  })

  it('lets a key burst to the limit, then one per refill, per key', () => {
    const limiter = new KeyRateLimiter({ limit: 3, windowMs: 3_000 })
    expect([0, 0, 0].map(() => limiter.take('a', 1_000))).toEqual([0, 0, 0])
    expect(limiter.take('a', 1_000)).toBe(1_000)
    expect(limiter.take('b', 1_000)).toBe(0)
    expect(limiter.take('a', 2_000)).toBe(0)
    expect(limiter.take('a', 2_000)).toBe(1_000)
  })
})
