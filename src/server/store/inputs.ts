/**
 * Input rules every backend applies the same way: project settings defaults, page sizes,
 * opaque cursors, time bounds and email keys. Routes validate requests first; these are
 * the store's own guard rails, so a bad value fails clearly instead of corrupting a query.
 */
import { IDEMPOTENCY_KEY_TTL_MS } from '../../contract/index.js'
import { StoreError } from './errors.js'
import type { KeyScope, ProjectSettings, Role } from './types.js'

/** Settings of a new project; `defaultTimeoutMs` matches the core's default wait of one hour. */
export const DEFAULT_PROJECT_SETTINGS: Readonly<ProjectSettings> = Object.freeze({
  blockSelfApproval: false,
  defaultTimeoutMs: 3_600_000,
})

export const DEFAULT_PAGE_LIMIT = 50
export const MAX_PAGE_LIMIT = 200

const KEY_SCOPES: ReadonlySet<string> = new Set<KeyScope>(['request', 'decide', 'admin'])
const ROLES: ReadonlySet<string> = new Set<Role>(['admin', 'member'])

/** `base` with the known fields of `patch` applied, after checking their types. */
export function mergeProjectSettings(base: ProjectSettings, patch: Partial<ProjectSettings> = {}): ProjectSettings {
  const merged = { ...base }
  if (patch.blockSelfApproval !== undefined) {
    if (typeof patch.blockSelfApproval !== 'boolean') throw new StoreError('invalid', 'blockSelfApproval must be a boolean')
    merged.blockSelfApproval = patch.blockSelfApproval
  }
  if (patch.defaultTimeoutMs !== undefined) {
    if (!Number.isSafeInteger(patch.defaultTimeoutMs) || patch.defaultTimeoutMs <= 0) {
      throw new StoreError('invalid', 'defaultTimeoutMs must be a positive integer of milliseconds')
    }
    merged.defaultTimeoutMs = patch.defaultTimeoutMs
  }
  return merged
}

/** Settings read back from storage: unknown or damaged fields fall back to the defaults. */
export function parseStoredSettings(json: string): ProjectSettings {
  let stored: unknown
  try {
    stored = JSON.parse(json)
  } catch {
    stored = {}
  }
  const record = typeof stored === 'object' && stored !== null ? (stored as Record<string, unknown>) : {}
  return {
    blockSelfApproval: typeof record.blockSelfApproval === 'boolean' ? record.blockSelfApproval : DEFAULT_PROJECT_SETTINGS.blockSelfApproval,
    defaultTimeoutMs:
      typeof record.defaultTimeoutMs === 'number' && record.defaultTimeoutMs > 0 ? record.defaultTimeoutMs : DEFAULT_PROJECT_SETTINGS.defaultTimeoutMs,
  }
}

/** The page size to use: default 50, clamped to 1–200. */
export function pageLimit(limit: number | undefined): number {
  if (limit === undefined || !Number.isFinite(limit)) return DEFAULT_PAGE_LIMIT
  return Math.min(MAX_PAGE_LIMIT, Math.max(1, Math.trunc(limit)))
}

/**
 * Cursors are base64url of `<kind>:<sequence>`, so an approvals cursor is not accepted
 * for the audit list and callers cannot rely on what is inside.
 */
export function encodeCursor(kind: 'apr' | 'aud', sequence: number): string {
  return Buffer.from(`${kind}:${sequence}`).toString('base64url')
}

/** The sequence inside a cursor from `encodeCursor`; throws `StoreError('invalid')` otherwise. */
export function decodeCursor(kind: 'apr' | 'aud', cursor: string): number {
  const match = /^([a-z]+):([1-9][0-9]{0,15})$/.exec(Buffer.from(cursor, 'base64url').toString('utf8'))
  const sequence = match && match[1] === kind ? Number(match[2]) : NaN
  if (!Number.isSafeInteger(sequence)) throw new StoreError('invalid', 'cursor is not one this list returned')
  return sequence
}

/** `decodeCursor` of a cursor that may be absent (the first page): `undefined` then. */
export function cursorBound(kind: 'apr' | 'aud', cursor: string | undefined): number | undefined {
  return cursor === undefined ? undefined : decodeCursor(kind, cursor)
}

/**
 * A time filter bound as the canonical ISO form stored in rows, so string comparison is
 * time comparison (`2024-05-01` becomes `2024-05-01T00:00:00.000Z`).
 */
export function isoBound(name: string, value: string): string {
  const time = Date.parse(value)
  if (Number.isNaN(time)) throw new StoreError('invalid', `${name} is not a valid ISO-8601 time: ${JSON.stringify(value).slice(0, 60)}`)
  return new Date(time).toISOString()
}

/** `isoBound` of a bound that may be absent: `undefined` then. */
export function optionalIsoBound(name: string, value: string | undefined): string | undefined {
  return value === undefined ? undefined : isoBound(name, value)
}

/** The case-insensitive form under which an email is unique. */
export function emailKey(email: string): string {
  return email.trim().toLowerCase()
}

/** Checks a key's scopes: at least one, only known ones, no repeats. */
export function checkScopes(scopes: readonly string[]): KeyScope[] {
  if (scopes.length === 0) throw new StoreError('invalid', 'an API key needs at least one scope')
  for (const scope of scopes) {
    if (!KEY_SCOPES.has(scope)) throw new StoreError('invalid', `unknown API key scope: ${JSON.stringify(scope)}`)
  }
  return [...new Set(scopes)] as KeyScope[]
}

/** Checks a membership role. */
export function checkRole(role: string): Role {
  if (!ROLES.has(role)) throw new StoreError('invalid', `unknown role: ${JSON.stringify(role)}`)
  return role as Role
}

/**
 * The newest `created_at` of an expired idempotency key at time `at`: a key is live while it is
 * younger than `IDEMPOTENCY_KEY_TTL_MS`, so one created at or before this time no longer binds.
 */
export function idempotencyCutoff(at: string): string {
  return new Date(Date.parse(isoBound('at', at)) - IDEMPOTENCY_KEY_TTL_MS).toISOString()
}
