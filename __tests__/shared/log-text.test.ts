/** `logLine`: server-sent text printed by the CLI and the action can never be a runner command. */
import { describe, expect, it } from '@jest/globals'
import { logLine, oneLine } from '../../src/shared/log-text.js'

describe('logLine', () => {
  it.each([
    ['a line break', 'ok\n::error::x', 'ok ::error::x'],
    ['CR, NEL and the Unicode separators', 'a\r::b\u0085::c\u2028::d', 'a ::b ::c ::d'],
    ['a leading command', '::add-mask::secret', ': :add-mask::secret'],
    ['a leading command after spaces', '   ::error::x', '   : :error::x'],
    ['the legacy form', '##[error]x', '# #[error]x'],
    ['percent-encoded breaks, any case, encoded twice', 'a%0A::b%0d::c%250A::d', 'a ::b ::c ::d'],
    ['an encoded break at the start', '%0A::error::x', ' : :error::x'],
    ['escape sequences', 'red\u001b[31m', 'red [31m'],
  ])('%s', (_name, input, expected) => {
    expect(logLine(input)).toBe(expected)
    expect(logLine(input)).not.toMatch(/^\s*(::|##\[)/)
    expect(logLine(input).split(/[\n\r\u0085\u2028\u2029]/)).toHaveLength(1)
  })

  it('leaves ordinary text alone', () => {
    expect(logLine('approved by alice@example.com: ship it (50% done, see https://x.test/a::b)')).toBe('approved by alice@example.com: ship it (50% done, see https://x.test/a::b)')
    expect(oneLine('a\tb')).toBe('a b')
  })
})
