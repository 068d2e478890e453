import { describe, expect, it } from '@jest/globals'
import { AuditKey } from '../../src/server/store/audit-key.js'
import { SecretBox } from '../../src/server/store/secret-box.js'

describe('SecretBox (channel secrets sealed under a key derived from the audit key)', () => {
  const key = AuditKey.generate()

  it('opens what it sealed for the same row, and never shows the secret in its sealed form', () => {
    const box = new SecretBox(key)
    const sealed = box.seal('whsec_top-secret', 'chn_1')
    expect(sealed).toMatch(/^v1\.[\w-]+\.[\w-]+\.[\w-]+$/)
    expect(sealed).not.toContain('top-secret')
    expect(box.seal('whsec_top-secret', 'chn_1')).not.toBe(sealed) // a fresh IV each time
    expect(box.open(sealed, 'chn_1')).toBe('whsec_top-secret')
    expect(JSON.stringify({ box })).toBe('{"box":"[secret box]"}')
  })

  it('refuses a secret moved to another row, altered, or opened under another audit key', () => {
    const box = new SecretBox(key)
    const sealed = box.seal('whsec_top-secret', 'chn_1')
    expect(() => box.open(sealed, 'chn_2')).toThrow(/does not decrypt/)
    const [version, iv, ciphertext, tag] = sealed.split('.')
    const flipped = Buffer.from(ciphertext, 'base64url')
    flipped[0] ^= 1
    expect(() => box.open([version, iv, flipped.toString('base64url'), tag].join('.'), 'chn_1')).toThrow(/does not decrypt/)
    expect(() => new SecretBox(AuditKey.generate()).open(sealed, 'chn_1')).toThrow(/does not decrypt/)
    expect(() => box.open('plaintext', 'chn_1')).toThrow(/not in the sealed format/)
  })

  it('derives a key of its own: not the audit key and not another purpose’s', () => {
    expect(key.deriveKey('approval-gate channel secrets v1').equals(key.deriveKey('approval-gate channel secrets v1'))).toBe(true)
    expect(key.deriveKey('approval-gate channel secrets v1').equals(key.deriveKey('another purpose'))).toBe(false)
  })
})
