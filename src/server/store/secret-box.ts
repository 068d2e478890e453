/**
 * Encryption of the secrets the store must give back (a webhook's signing secret, a bot
 * token): AES-256-GCM under a key derived from the audit key by HKDF. The audit key lives
 * outside the database, so a dump of the database alone does not reveal a channel's secret.
 * The row's id is the associated data: a sealed secret copied onto another row does not open.
 *
 * Sealed form: `v1.<iv>.<ciphertext>.<tag>` (base64url parts).
 */
import { createCipheriv, createDecipheriv, randomBytes } from 'node:crypto'
import type { AuditKey } from './audit-key.js'

const VERSION = 'v1'
const IV_BYTES = 12
const TAG_BYTES = 16
/** HKDF info: a distinct purpose gives a distinct key, so these never collide with the chain's MACs. */
const PURPOSE = 'approval-gate channel secrets v1'

export class SecretBox {
  readonly #key: Buffer

  constructor(auditKey: AuditKey) {
    this.#key = auditKey.deriveKey(PURPOSE)
  }

  /** Encrypts `secret` bound to `rowId`. */
  seal(secret: string, rowId: string): string {
    const iv = randomBytes(IV_BYTES)
    const cipher = createCipheriv('aes-256-gcm', this.#key, iv, { authTagLength: TAG_BYTES })
    cipher.setAAD(Buffer.from(rowId, 'utf8'))
    const ciphertext = Buffer.concat([cipher.update(secret, 'utf8'), cipher.final()])
    return [VERSION, iv.toString('base64url'), ciphertext.toString('base64url'), cipher.getAuthTag().toString('base64url')].join('.')
  }

  /** Decrypts what `seal` made for `rowId`; throws when it was altered, moved to another row or sealed under another key. */
  open(sealed: string, rowId: string): string {
    const [version, iv, ciphertext, tag] = sealed.split('.')
    if (version !== VERSION || iv === undefined || ciphertext === undefined || tag === undefined) throw new Error('corrupt database: a stored channel secret is not in the sealed format')
    const decipher = createDecipheriv('aes-256-gcm', this.#key, Buffer.from(iv, 'base64url'), { authTagLength: TAG_BYTES })
    decipher.setAAD(Buffer.from(rowId, 'utf8'))
    decipher.setAuthTag(Buffer.from(tag, 'base64url'))
    try {
      return Buffer.concat([decipher.update(Buffer.from(ciphertext, 'base64url')), decipher.final()]).toString('utf8')
    } catch {
      throw new Error(`corrupt database: the secret of ${rowId} does not decrypt under this server's audit key`)
    }
  }

  /** Never print the key by accident. */
  toJSON(): string {
    return '[secret box]'
  }
}
