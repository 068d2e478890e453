/**
 * The one polling helper of the test suite: waits until `condition` holds and throws, naming
 * what it waited for, when it never does. A wait that gives up silently lets the test go on
 * as if the condition had come true, so every poll loop in `__tests__/` goes through here.
 */

export interface WaitUntilOptions {
  /** What is awaited, for the error message ("the server to hold 5 long-polls"). */
  what: string
  /** Give up after this long. Default 15 s: generous, so a loaded machine is not a failure. */
  timeoutMs?: number
  /** Pause between checks. Default 10 ms. */
  intervalMs?: number
}

/**
 * Polls `condition` until it returns a value other than `false`, `undefined` or `null`, and
 * resolves with that value. Rejects with `timed out after N ms waiting for <what>` (and the last
 * error `condition` threw, if any) when the time runs out. A condition that throws is retried:
 * a server that is still starting is not an answer.
 */
export async function waitUntil<T>(condition: () => T | false | undefined | null | Promise<T | false | undefined | null>, options: WaitUntilOptions): Promise<T> {
  const { what, timeoutMs = 15_000, intervalMs = 10 } = options
  const deadline = Date.now() + timeoutMs
  let lastError: unknown
  for (;;) {
    try {
      const value = await condition()
      if (value !== false && value !== undefined && value !== null) return value
      lastError = undefined
    } catch (error) {
      lastError = error
    }
    if (Date.now() >= deadline) {
      const detail = lastError === undefined ? '' : ` (last check threw: ${lastError instanceof Error ? lastError.message : String(lastError)})`
      throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}${detail}`)
    }
    await new Promise((resolve) => setTimeout(resolve, intervalMs))
  }
}
