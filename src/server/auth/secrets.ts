/** Generation and hashing of the server's secrets: ids, API keys, session tokens, passwords. */
import { hash, randomBytes, scrypt, timingSafeEqual } from 'node:crypto'
import { promisify } from 'node:util'

const scryptAsync = promisify(scrypt) as (password: string, salt: Buffer, keylen: number, options: object) => Promise<Buffer>

/** A random URL-safe token (base64url of `bytes` random bytes). */
export function randomToken(bytes = 32): string {
  return randomBytes(bytes).toString('base64url')
}

/** Unguessable, URL-safe id with a type prefix: `apr_…`, `prj_…`, `usr_…`, `key_…`. */
export function newId(prefix: 'apr' | 'prj' | 'usr' | 'key' | 'inv' | 'trs' | 'ghm' | 'chn' | 'dlv'): string {
  return `${prefix}_${randomBytes(16).toString('base64url')}`
}

/** A new API key (shown once) and the pieces the store keeps: its hash and a display prefix. */
export function newApiKey(): { key: string; hash: string; prefix: string } {
  const key = `agk_${randomToken(32)}`
  return { key, hash: hashToken(key), prefix: key.slice(0, 10) }
}

/** sha256 hex. API keys and session tokens are high-entropy, so a fast hash is the right one. */
export function hashToken(token: string): string {
  // The one-shot form: hashed on every API request, it skips building a Hash object.
  return hash('sha256', token, 'hex')
}

const SCRYPT = { N: 16384, r: 8, p: 1, maxmem: 64 * 1024 * 1024 }

/** Password hash as `scrypt$N$r$p$salt$hash` (base64url parts). */
export async function hashPassword(password: string): Promise<string> {
  const salt = randomBytes(16)
  const hash = await scryptAsync(password.normalize('NFKC'), salt, 32, SCRYPT)
  return ['scrypt', SCRYPT.N, SCRYPT.r, SCRYPT.p, salt.toString('base64url'), hash.toString('base64url')].join('$')
}

export async function verifyPassword(password: string, stored: string): Promise<boolean> {
  const [kind, n, r, p, salt, hash] = stored.split('$')
  if (kind !== 'scrypt' || !salt || !hash) return false
  const expected = Buffer.from(hash, 'base64url')
  const actual = await scryptAsync(password.normalize('NFKC'), Buffer.from(salt, 'base64url'), expected.length, {
    N: Number(n),
    r: Number(r),
    p: Number(p),
    maxmem: SCRYPT.maxmem,
  })
  return actual.length === expected.length && timingSafeEqual(actual, expected)
}
