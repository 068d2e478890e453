/**
 * The secret that keys the audit chain (HMAC-SHA256). It lives outside the database: in
 * `APPROVAL_GATE_AUDIT_KEY`, in a key file named by `--audit-key-file`, or (embedded SQLite
 * only) in `audit.key` beside the database, created 0600 on first start. Whoever can edit the
 * database but does not hold this key cannot forge an event, a decision or a checkpoint.
 *
 * Text form: at least 32 random bytes as hex (64+ characters) or base64/base64url. Generate
 * one with `openssl rand -hex 32`.
 */
import { createHmac, createSecretKey, hkdfSync, randomBytes, type KeyObject } from 'node:crypto'
import { closeSync, constants, linkSync, openSync, readFileSync, statSync, unlinkSync, writeSync } from 'node:fs'
import { basename, dirname, join } from 'node:path'

/** File name of the default key beside an embedded SQLite database. */
export const AUDIT_KEY_FILE = 'audit.key'

/** Fewest key bytes accepted (the HMAC-SHA256 block of security). */
const MIN_KEY_BYTES = 32

/** A key problem the operator must fix: malformed, missing or unreadable. */
export class AuditKeyError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'AuditKeyError'
  }
}

/** The audit key. The bytes stay inside; callers get MACs and a fingerprint that reveals nothing. */
export class AuditKey {
  /** A KeyObject: HMAC from a raw Buffer re-imports the key on every call (~6x slower). */
  readonly #key: KeyObject
  /** HMAC of a fixed label: tells keys apart (and a wrong key from the right one) without revealing them. */
  readonly fingerprint: string

  constructor(bytes: Buffer) {
    if (bytes.length < MIN_KEY_BYTES) throw new AuditKeyError(`the audit key must be at least ${MIN_KEY_BYTES} bytes, got ${bytes.length}`)
    this.#key = createSecretKey(Buffer.from(bytes))
    this.fingerprint = this.mac('approval-gate audit key fingerprint')
  }

  /** HMAC-SHA256 of `text` (UTF-8), hex. */
  mac(text: string): string {
    return createHmac('sha256', this.#key).update(text, 'utf8').digest('hex')
  }

  /**
   * A separate 32-byte key for another purpose (HKDF-SHA256 with `purpose` as its info), so
   * the audit key itself is never used twice and the derived key reveals nothing about it.
   */
  deriveKey(purpose: string): Buffer {
    return Buffer.from(hkdfSync('sha256', this.#key, Buffer.alloc(0), purpose, 32))
  }

  /** A new random key. */
  static generate(): AuditKey {
    return new AuditKey(randomBytes(MIN_KEY_BYTES))
  }

  /** Never print the key by accident (logs, `util.inspect`). */
  toJSON(): string {
    return `[audit key ${this.fingerprint.slice(0, 12)}]`
  }
}

const HEX = /^[0-9a-fA-F]+$/
const BASE64 = /^[A-Za-z0-9+/_-]+={0,2}$/

/** Parses a key's text form; `source` names where it came from in error messages (never the key). */
export function parseAuditKey(text: string, source: string): AuditKey {
  const trimmed = text.trim()
  const help = 'it must be at least 32 random bytes written as hex (64+ characters) or base64; generate one with `openssl rand -hex 32`'
  if (trimmed === '') throw new AuditKeyError(`the audit key in ${source} is empty; ${help}`)
  let bytes: Buffer | null = null
  if (HEX.test(trimmed) && trimmed.length % 2 === 0 && trimmed.length >= 2 * MIN_KEY_BYTES) bytes = Buffer.from(trimmed, 'hex')
  else if (BASE64.test(trimmed)) bytes = Buffer.from(trimmed.replace(/-/g, '+').replace(/_/g, '/'), 'base64')
  if (!bytes || bytes.length < MIN_KEY_BYTES) throw new AuditKeyError(`the audit key in ${source} is malformed or too short; ${help}`)
  return new AuditKey(bytes)
}

/** A key read from a file, and a warning when the file is readable by others. */
export interface LoadedAuditKey {
  key: AuditKey
  /** Set when the file's permissions are wider than 0600 (the key still works). */
  warning?: string
  /** True when this call created the file. */
  created?: boolean
}

/** Reads a key file. Missing, unreadable or malformed files are `AuditKeyError`s naming the file. */
export function readAuditKeyFile(path: string): LoadedAuditKey {
  let text: string
  try {
    text = readFileSync(path, 'utf8')
  } catch (error) {
    const code = (error as NodeJS.ErrnoException).code
    if (code === 'ENOENT') throw new AuditKeyError(`the audit key file ${path} does not exist`)
    if (code === 'EACCES' || code === 'EPERM') throw new AuditKeyError(`cannot read the audit key file ${path}: permission denied (it must be readable by the user running approval-gate, and by nobody else)`)
    if (code === 'EISDIR') throw new AuditKeyError(`the audit key file ${path} is a directory`)
    throw new AuditKeyError(`cannot read the audit key file ${path}: ${(error as Error).message}`)
  }
  const key = parseAuditKey(text, `the file ${path}`)
  return { key, warning: permissionWarning(path) }
}

/** A warning when group or others may read or write the key file (POSIX only). */
export function permissionWarning(path: string): string | undefined {
  if (process.platform === 'win32') return undefined
  const mode = statSync(path).mode & 0o777
  if ((mode & 0o077) === 0) return undefined
  return `the audit key file ${path} has permissions ${mode.toString(8).padStart(4, '0')}, readable by others: anyone who reads it can forge the audit trail; run: chmod 600 ${path}`
}

/**
 * The key in `path`, creating the file (0600, a new random key) when it does not exist. Safe
 * when two processes (the server and a CLI command) start at once: the file appears complete
 * or not at all (written beside it, then hard-linked into place), and the loser reads the winner's.
 */
export function loadOrCreateAuditKeyFile(path: string): LoadedAuditKey {
  try {
    return readAuditKeyFile(path)
  } catch (error) {
    if (!(error instanceof AuditKeyError) || !/does not exist$/.test(error.message)) throw error
  }
  const key = randomBytes(MIN_KEY_BYTES)
  const temporary = join(dirname(path), `.${basename(path)}.${process.pid}.${randomBytes(6).toString('hex')}`)
  const fd = openSync(temporary, constants.O_WRONLY | constants.O_CREAT | constants.O_EXCL, 0o600)
  try {
    writeSync(fd, `${key.toString('hex')}\n`)
  } finally {
    closeSync(fd)
  }
  try {
    linkSync(temporary, path)
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== 'EEXIST') throw error
    return readAuditKeyFile(path)
  } finally {
    unlinkSync(temporary)
  }
  return { key: new AuditKey(key), created: true }
}

/** Where a key comes from, as the CLI resolves it: the environment wins over a file. */
export interface AuditKeySource {
  /** `APPROVAL_GATE_AUDIT_KEY`'s value. */
  text?: string
  /** `--audit-key-file` / `APPROVAL_GATE_AUDIT_KEY_FILE`. */
  file?: string
}

/**
 * The key of `source`, or `null` when none is given (the embedded store then uses its
 * default file). Both given is an error: which one is meant would be a guess.
 */
export function resolveAuditKey(source: AuditKeySource): LoadedAuditKey | null {
  if (source.text !== undefined && source.file !== undefined) {
    throw new AuditKeyError('both APPROVAL_GATE_AUDIT_KEY and an audit key file are set; give only one')
  }
  if (source.text !== undefined) return { key: parseAuditKey(source.text, 'APPROVAL_GATE_AUDIT_KEY') }
  if (source.file !== undefined) return readAuditKeyFile(source.file)
  return null
}

/** The message when PostgreSQL is opened without a key. */
export const POSTGRES_NEEDS_KEY =
  'PostgreSQL needs an audit key kept outside the database: set APPROVAL_GATE_AUDIT_KEY (e.g. `openssl rand -hex 32`) or pass --audit-key-file FILE (mode 0600), the same on every replica'
