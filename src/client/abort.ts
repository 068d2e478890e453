/** Cancellation primitives: the web-standard AbortError and a sleep that an abort ends at once. */
import { MAX_TIMER_MS } from './config.js'

/** The web-standard `DOMException` named `AbortError`; the signal's reason rides along as `cause`. */
export function abortError(reason?: unknown, message = 'The approval wait was aborted'): DOMException {
  const error = new DOMException(message, 'AbortError')
  if (reason !== undefined) Object.defineProperty(error, 'cause', { value: reason, enumerable: false, configurable: true, writable: true })
  return error
}

/** True for any flavour of abort error (DOMException, undici's, Node's). */
export function isAbortError(error: unknown): boolean {
  return error instanceof Error || error instanceof DOMException ? error.name === 'AbortError' : false
}

/**
 * Resolves after `ms` (at most ~24.8 days, the timer limit; callers re-check their deadline), or rejects with an AbortError as soon as `signal` aborts. Adds one
 * listener for the duration of the sleep and always removes it.
 */
export function sleep(ms: number, signal?: AbortSignal): Promise<void> {
  if (signal?.aborted) return Promise.reject(abortError(signal.reason))
  return new Promise((resolve, reject) => {
    const onAbort = (): void => {
      clearTimeout(timer)
      reject(abortError(signal?.reason))
    }
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort)
      resolve()
    }, Math.min(Math.max(0, ms), MAX_TIMER_MS))
    signal?.addEventListener('abort', onAbort, { once: true })
  })
}
