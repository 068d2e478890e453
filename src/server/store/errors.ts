/**
 * Errors the store throws for caller mistakes, with a stable `code` so routes and the CLI
 * can map them (`conflict` → 409, `not_found` → 404, `invalid` → 400) without reading messages.
 */
export type StoreErrorCode = 'conflict' | 'not_found' | 'invalid'

export class StoreError extends Error {
  readonly code: StoreErrorCode

  constructor(code: StoreErrorCode, message: string) {
    super(message)
    this.name = 'StoreError'
    this.code = code
  }
}

/** True for a `StoreError`, optionally of one code. */
export function isStoreError(error: unknown, code?: StoreErrorCode): error is StoreError {
  return error instanceof StoreError && (code === undefined || error.code === code)
}
