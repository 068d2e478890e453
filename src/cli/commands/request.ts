/**
 * `approval-gate request ACTION`: a gate for any CI system. Asks for approval through the
 * core and waits; the exit code says what happened (0 approved, 1 rejected, 2 timed out,
 * 3 error, 130 cancelled/interrupted). Progress goes to stderr; stdout gets the approval id
 * (approved) or the reason (rejected), so scripts can capture them.
 */
import {
  ApprovalError,
  ApprovalRejected,
  ApprovalTimeout,
  MAX_ACTION_LENGTH,
  MAX_CONTEXT_BYTES,
  requestApproval,
  type ApprovalProgress,
  type WithdrawalResult,
} from '../../client/index.js'
import { hostname, userInfo } from 'node:os'
import { formatDuration, InvalidDurationError, parseDuration } from '../../shared/duration.js'
import { logLine } from '../../shared/log-text.js'
import { EXIT, line, parseCommand, UsageError, type CliIo, type Command } from '../cli-kit.js'
import { API_FLAGS, apiConnection, apiHelp, CLI_SETTING_NAMES } from './api-flags.js'

/** Spacing of "still waiting" lines on stderr. */
const WAITING_LOG_EVERY_MS = 30_000

const REQUEST_USAGE =
  'Usage: approval-gate request ACTION [--context JSON] [--timeout 10m] [--agent NAME] [--api-url URL] [--api-key KEY]'

export const requestCommand: Command = {
  name: 'request',
  summary: 'ask for approval and wait (exit 0 approved, 1 rejected, 2 timed out)',
  help: `
${REQUEST_USAGE}

Asks for approval of ACTION and waits for a person to decide in the dashboard.

Exit codes:
  0    approved (stdout: the approval id)
  1    rejected (stdout: the reason, if one was given, on one line)
  2    timed out: no decision in time, or the server expired the request
  3    error: bad key, unreachable server, repeated 5xx, bad or unprovable answer
  64   bad command line
  130  cancelled: interrupted by SIGINT/SIGTERM (the request is withdrawn first), or
       withdrawn on the server

Options:
  --context JSON            a JSON object shown to the approver (default {})
  --timeout DURATION        how long to wait: 90 (seconds), 500ms, 30s, 10m, 1h30m (default 1h)
  --connect-timeout DUR     give up when the server cannot be reached at all (default 30s)
  --agent NAME              who is asking, shown on the card (default cli:<user>@<host>)
  --idempotency-key K       reuse the same approval when the command is retried with the same K
  --poll-interval DUR       spacing of checks against a server without long-poll (default 5s)
${apiHelp(28)}
  -h, --help                show this help
`,
  async run(args, io) {
    const parsed = parseCommand(
      requestCommand,
      args,
      io,
      {
        ...API_FLAGS,
        context: { type: 'string', short: 'c' },
        timeout: { type: 'string', short: 't' },
        'connect-timeout': { type: 'string' },
        agent: { type: 'string' },
        'idempotency-key': { type: 'string' },
        'poll-interval': { type: 'string' },
      },
      { min: 1, max: 1 },
    )
    if (!parsed) return EXIT.ok
    const { values } = parsed
    const action = checkAction(parsed.positionals[0])
    const context = parseContext(values.context)
    const timeoutMs = optionalDuration('--timeout', values.timeout)
    const pollIntervalMs = optionalDuration('--poll-interval', values['poll-interval'])
    const connectTimeoutMs = optionalDuration('--connect-timeout', values['connect-timeout'])

    // SIGINT/SIGTERM withdraw the request, then exit 130.
    const controller = new AbortController()
    const onSignal = () => controller.abort()
    process.once('SIGINT', onSignal)
    process.once('SIGTERM', onSignal)
    let withdrawal: Promise<WithdrawalResult> | undefined
    const progress = progressLogger(io)
    try {
      const record = await requestApproval(action, {
        ...apiConnection(values, io.env),
        settingNames: CLI_SETTING_NAMES,
        context,
        timeoutMs,
        pollIntervalMs,
        connectTimeoutMs,
        agent: values.agent ?? defaultAgent(),
        idempotencyKey: values['idempotency-key'],
        signal: controller.signal,
        onProgress: progress.onProgress,
        onWithdraw: (promise) => {
          withdrawal = promise
        },
      })
      say(io, `approval-gate: approved${record.decided_by ? ` by ${record.decided_by}` : ''}${record.reason ? `: ${record.reason}` : ''}`)
      line(io.stdout, logLine(record.id))
      return EXIT.ok
    } catch (error) {
      if (controller.signal.aborted) return reportInterrupted(io, progress.created(), withdrawal)
      return reportFailure(io, error)
    } finally {
      process.off('SIGINT', onSignal)
      process.off('SIGTERM', onSignal)
    }
  },
}

/** After SIGINT/SIGTERM: says what became of the request (withdrawal is only claimed for one that exists). */
async function reportInterrupted(io: CliIo, created: boolean, withdrawal: Promise<WithdrawalResult> | undefined): Promise<number> {
  if (created) say(io, 'approval-gate: interrupted; withdrawing the request…')
  const result = await withdrawal
  if (created) {
    if (result === 'failed') say(io, 'approval-gate: the request could not be withdrawn; it stays pending until it expires')
  } else if (result === 'withdrawn') {
    say(io, 'approval-gate: interrupted; the request that was being created was withdrawn')
  } else if (result === 'failed') {
    say(io, 'approval-gate: interrupted while creating the request; the server did not answer, so if it was created it stays pending until it expires')
  } else {
    say(io, 'approval-gate: interrupted before any request was created')
  }
  return EXIT.interrupted
}

/** `cli:<user>@<host>`, so cards from different machines and people can be told apart. */
export function defaultAgent(): string | undefined {
  try {
    return logLine(`cli:${userInfo().username}@${hostname()}`).slice(0, MAX_ACTION_LENGTH)
  } catch {
    return undefined // no user entry (some containers): the server shows no agent
  }
}

/** One line on stderr; server-sent text in it cannot start another line, a workflow command or an escape sequence. */
function say(io: CliIo, text: string): void {
  line(io.stderr, logLine(text))
}

/** Maps the core's errors onto exit codes, explaining each on stderr. */
function reportFailure(io: CliIo, error: unknown): number {
  if (error instanceof ApprovalRejected) {
    say(io, `approval-gate: ${error.message}`)
    if (error.reason) line(io.stdout, logLine(error.reason))
    return EXIT.rejected
  }
  if (error instanceof ApprovalTimeout) {
    if (error.approvalId === undefined && error.cause === undefined) {
      // Nothing was ever created: an unreachable API, not a person who did not decide.
      say(io, `approval-gate: could not create the approval request within ${formatDuration(error.timeoutMs)}: the API did not answer (see the retries above)`)
      return EXIT.error
    }
    say(io, `approval-gate: ${error.message}`)
    // Repeated 5xx is a broken server, not a person who did not answer.
    return error.cause === 'server_error' ? EXIT.error : EXIT.timeout
  }
  if (error instanceof ApprovalError) {
    say(io, `approval-gate: ${error.message}`)
    return error.code === 'cancelled' ? EXIT.interrupted : EXIT.error
  }
  throw error
}

/** Progress lines on stderr: created (with the link), a waiting line every 30 s, retries, decided. */
function progressLogger(io: CliIo): { onProgress: (event: ApprovalProgress) => void; created: () => boolean } {
  let lastWaitingLog = 0
  let created = false
  const onProgress = (event: ApprovalProgress): void => {
    switch (event.type) {
      case 'created':
        created = true
        say(io, `approval-gate: waiting for approval ${event.approvalId}${event.url ? ` — decide at ${event.url}` : ''}`)
        lastWaitingLog = Date.now()
        break
      case 'waiting':
        if (Date.now() - lastWaitingLog >= WAITING_LOG_EVERY_MS) {
          lastWaitingLog = Date.now()
          say(io, `approval-gate: still waiting (${formatDuration(event.waitedMs)} so far, ${formatDuration(event.remainingMs)} left)`)
        }
        break
      case 'retrying':
        say(io, `approval-gate: ${event.error}; retrying in ${formatDuration(event.delayMs)} (attempt ${event.attempt})`)
        break
      case 'decided':
        break
    }
  }
  return { onProgress, created: () => created }
}

function parseContext(text: string | undefined): Record<string, unknown> {
  if (text === undefined) return {}
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch (error) {
    throw new UsageError(`--context is not valid JSON (${(error as Error).message})`, 'request')
  }
  if (typeof value !== 'object' || value === null || Array.isArray(value)) throw new UsageError('--context must be a JSON object, like {"service":"api"}', 'request')
  const bytes = Buffer.byteLength(JSON.stringify(value))
  if (bytes > MAX_CONTEXT_BYTES) throw new UsageError(`--context is ${bytes} bytes as JSON; the limit is ${MAX_CONTEXT_BYTES} (64 KB)`, 'request')
  return value as Record<string, unknown>
}

/** ACTION is part of the command line: a bad one is a usage error (64), like a bad flag. */
function checkAction(action: string): string {
  if (action.trim() === '') throw new UsageError('ACTION must not be empty', 'request')
  if (action.length > MAX_ACTION_LENGTH) throw new UsageError(`ACTION is ${action.length} characters long; the limit is ${MAX_ACTION_LENGTH}`, 'request')
  if (/\p{Cc}/u.test(action)) throw new UsageError('ACTION must not contain control characters (line breaks, tabs, ...)', 'request')
  return action
}

function optionalDuration(flag: string, text: string | undefined): number | undefined {
  if (text === undefined) return undefined
  try {
    return parseDuration(text)
  } catch (error) {
    if (error instanceof InvalidDurationError) throw new UsageError(`${flag}: ${error.message}`, 'request')
    throw error
  }
}
