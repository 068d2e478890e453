/**
 * What the step log shows while a gate waits: one notice with the dashboard link when the
 * request is created, then a progress line about once a minute (waited, remaining) — never a
 * line per poll. Retries are reported once per minute at most, with the latest error.
 */
import * as core from '@actions/core'
import type { ApprovalProgress } from '../client/index.js'
import { formatDuration } from '../shared/duration.js'
import { logLine } from '../shared/log-text.js'

/** How often a "still waiting" line is printed. */
export const PROGRESS_INTERVAL_MS = 60_000

export interface ProgressReporter {
  /** Pass as the core's `onProgress`. */
  onProgress(event: ApprovalProgress): void
  /** Stops the periodic line (call when the wait is over, whatever the outcome). */
  stop(): void
}

/** Log calls, so tests can capture lines without mocking the whole `@actions/core`. */
export interface ProgressLog {
  info(message: string): void
  notice(message: string, properties?: { title?: string }): void
  warning(message: string): void
}

export interface ProgressOptions {
  action: string
  timeoutMs: number
  /** Milliseconds clock; default `Date.now`. */
  now?: () => number
  log?: ProgressLog
  intervalMs?: number
}

/** Starts the clock now: `waited` and `remaining` are measured from this call. */
export function createProgressReporter(options: ProgressOptions): ProgressReporter {
  const now = options.now ?? Date.now
  const log = options.log ?? core
  const intervalMs = options.intervalMs ?? PROGRESS_INTERVAL_MS
  const startedAt = now()
  let approvalId: string | undefined
  let timer: NodeJS.Timeout | undefined
  let lastRetryLogAt = -Infinity

  const printWaiting = (): void => {
    const waited = now() - startedAt
    const remaining = Math.max(0, options.timeoutMs - waited)
    log.info(logLine(`Still waiting for approval ${approvalId} of "${options.action}": waited ${formatDuration(waited)}, ${formatDuration(remaining)} left.`))
  }

  return {
    onProgress(event) {
      switch (event.type) {
        case 'created': {
          if (approvalId !== undefined) return // a repeated create (idempotent retry) is not news
          approvalId = event.approvalId
          const where = event.url ? `: ${event.url}` : ` (approval id ${event.approvalId})`
          log.notice(`Waiting for someone to approve "${options.action}"${where}`, { title: 'Approval requested' })
          log.info(logLine(`Created approval ${event.approvalId}; waiting up to ${formatDuration(options.timeoutMs)}.`))
          // Our own clock, not the core's poll cadence: one line a minute whether the server long-polls or not.
          timer = setInterval(printWaiting, intervalMs)
          timer.unref()
          return
        }
        case 'retrying': {
          const at = now()
          if (at - lastRetryLogAt < intervalMs) return
          lastRetryLogAt = at
          log.warning(`The approvals API is not answering normally (${event.error}); retrying in ${formatDuration(event.delayMs)} (attempt ${event.attempt}).`)
          return
        }
        case 'decided':
        case 'waiting':
          return
      }
    },
    stop() {
      if (timer !== undefined) clearInterval(timer)
      timer = undefined
    },
  }
}
