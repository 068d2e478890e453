/**
 * Turns runner cancellation into an AbortSignal. When a run is cancelled the runner sends
 * SIGINT, then SIGTERM 7.5 s later, then kills the process. On the first signal the gate aborts
 * the core (which withdraws the request); a hard exit after `HARD_EXIT_MS` guarantees the
 * process is gone before the runner's grace ends, whatever is still in flight.
 */
import * as core from '@actions/core'

/** Deadline, from the first signal, for the process to exit by itself. */
export const HARD_EXIT_MS = 5_000
const SIGNALS = ['SIGINT', 'SIGTERM'] as const

export interface Cancellation {
  /** Aborted on the first SIGINT/SIGTERM; `signal.reason` is the signal's name. */
  readonly signal: AbortSignal
  /** Removes the signal handlers (the hard-exit timer, once started, is unref'd). */
  dispose(): void
}

/** Installs SIGINT/SIGTERM handlers. A second signal exits at once (someone insists). */
export function listenForCancellation(exit: (code: number) => never = process.exit): Cancellation {
  const controller = new AbortController()
  const onSignal = (name: NodeJS.Signals): void => {
    if (controller.signal.aborted) {
      core.info(`Received ${name} again: exiting now.`)
      exit(1)
    }
    core.info(`Received ${name}: withdrawing the approval request and stopping.`)
    const timer = setTimeout(() => {
      core.error(`Still running ${HARD_EXIT_MS / 1000}s after ${name}: exiting before the runner kills the step.`)
      exit(1)
    }, HARD_EXIT_MS)
    timer.unref() // a clean finish must not wait for it
    controller.abort(name)
  }
  for (const name of SIGNALS) process.on(name, onSignal)
  return {
    signal: controller.signal,
    dispose() {
      for (const name of SIGNALS) process.off(name, onSignal)
    },
  }
}
