/** Asserting the store's typed errors, for the store contract suites. */
import { expect } from '@jest/globals'
import { StoreError } from '../../src/server/store/errors.js'

/** `promise` rejects with a `StoreError` whose code is `code`. */
export async function expectStoreError(promise: Promise<unknown>, code: StoreError['code']): Promise<void> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  expect(error).toBeInstanceOf(StoreError)
  expect((error as StoreError).code).toBe(code)
}
