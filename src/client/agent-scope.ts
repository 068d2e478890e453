/**
 * The agent scope: who is asking, for every request made inside a callback (the card's "Agent",
 * "from the current ALS scope" in the seed). Built on `AsyncLocalStorage`, so it follows the
 * callback across `await`, timers and promises it starts; nested scopes take the innermost, and
 * an explicit `agent` option always wins.
 */
import { AsyncLocalStorage } from 'node:async_hooks'
import { ApprovalError } from './errors.js'

const scope = new AsyncLocalStorage<string>()

/**
 * Runs `fn` with `name` as the agent of every approval requested inside it (and inside anything
 * it starts), unless a request names its own `agent`. Returns what `fn` returns (a promise stays
 * a promise). The name is checked fully when a request uses it; here only that it is a
 * non-empty string.
 */
export function withAgent<T>(name: string, fn: () => T): T {
  if (typeof name !== 'string' || name.trim() === '') {
    throw new ApprovalError('invalid_config', 'withAgent needs a non-empty agent name, e.g. withAgent("billing-agent", ...)')
  }
  if (typeof fn !== 'function') throw new ApprovalError('invalid_config', 'withAgent needs a function to run')
  return scope.run(name, fn)
}

/** The agent of the innermost `withAgent` scope around the caller, or `undefined` outside any. */
export function currentAgent(): string | undefined {
  return scope.getStore()
}
