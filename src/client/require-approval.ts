/**
 * `requireApproval`: ask a person, wait for the decision. Creates the approval (idempotently),
 * checks it at once, then long-polls (`?wait=`) so a decision resumes the caller within
 * milliseconds; spaces requests by `pollIntervalMs` when the server ignores `wait`. The
 * deadline is exact, transient failures are retried, and an abandoned request is withdrawn.
 */
import { randomUUID } from 'node:crypto'
import { performance } from 'node:perf_hooks'
import { abortError, sleep } from './abort.js'
import { ApprovalsClient, DEFAULT_REQUEST_TIMEOUT_MS, LONG_POLL_MARGIN_MS } from './client.js'
import { resolveApprovalOptions, type ResolvedApprovalOptions } from './config.js'
import { ApprovalError, ApprovalRejected, ApprovalTimeout } from './errors.js'
import { requireSameAction } from './record-parsing.js'
import { MAX_CONSECUTIVE_SERVER_ERRORS, retryDelay } from './retry-policy.js'
import type { ApprovalProgress, ApprovalRecord, RequireApprovalOptions, WithdrawalResult } from './types.js'
import { withdrawRequest, type WithdrawTarget } from './withdraw.js'
import { LONG_POLL_SECONDS } from '../contract/index.js'
import { formatDuration } from '../shared/duration.js'

// The `?wait=` asked for (30 s): 120 requests per waited hour, well under proxies' idle limits.
export { LONG_POLL_SECONDS }

/**
 * Asks for approval of `action` and waits for the decision.
 *
 * Resolves with the approval id once a person approves. Throws `ApprovalRejected` (with
 * `.reason`, `.decidedBy`), `ApprovalTimeout` (deadline passed; `.cause` `'expired'` when the
 * server expired it, `'server_error'` after 3 consecutive 5xx), `ApprovalError` (bad options,
 * auth, 4xx, malformed answers, withdrawn on the server; see `.code`), or a `DOMException`
 * `AbortError` as soon as `options.signal` aborts.
 */
export async function requireApproval(action: string, options: RequireApprovalOptions = {}): Promise<string> {
  return (await requestApproval(action, options)).id
}

/**
 * Same as `requireApproval`, but resolves with the approved record (`decided_by`, `reason`,
 * `url`, timestamps), for callers that report on the decision.
 */
export async function requestApproval(action: string, options: RequireApprovalOptions = {}): Promise<ApprovalRecord> {
  const config = resolveApprovalOptions(action, options)
  const { signal } = config
  if (signal?.aborted) throw abortError(signal.reason)

  const client = new ApprovalsClient({ apiUrl: config.apiUrl, apiKey: config.apiKey, settingNames: config.names })
  const target: WithdrawTarget = {}
  // Ends our own requests and sleeps; the caller's signal is listened to exactly once, here.
  const stop = new AbortController()
  let rejectAborted: (error: DOMException) => void = () => {}
  const aborted = new Promise<never>((_resolve, reject) => {
    rejectAborted = reject
  })
  const onAbort = (): void => {
    stop.abort()
    rejectAborted(abortError(signal?.reason))
  }
  signal?.addEventListener('abort', onAbort, { once: true })
  try {
    // The race makes the abort immediate, whatever the wait is doing at that moment.
    return await Promise.race([waitForDecision(client, config, target, stop.signal), aborted])
  } catch (error) {
    if (signal?.aborted) {
      handOver(config, withdrawRequest(client, target, 'the requester aborted the wait'))
      throw abortError(signal.reason)
    }
    if (error instanceof ApprovalTimeout && error.cause !== 'expired') {
      // Thrown at the deadline, not after the withdrawal: it runs alongside (bounded, and it
      // keeps the event loop alive), and a caller about to exit awaits it via `onWithdraw`.
      const reason = error.cause === 'server_error' ? 'the requester gave up after repeated server errors' : `no decision within ${formatDuration(config.timeoutMs)}`
      // Only a passed deadline is a timeout on the server too; giving up on 5xx is a withdrawal.
      handOver(config, withdrawRequest(client, target, reason, { timedOut: error.cause === undefined }))
    }
    throw error
  } finally {
    signal?.removeEventListener('abort', onAbort)
    stop.abort()
  }
}

/** Gives the withdrawal to `onWithdraw` (the action awaits it before exiting). */
function handOver(config: ResolvedApprovalOptions, withdrawal: Promise<WithdrawalResult>): void {
  try {
    config.onWithdraw?.(withdrawal)
  } catch {
    // The caller's hook failing must not change the outcome.
  }
}

/** Calls the progress callback; whatever it throws (or rejects with) is ignored. */
function emit(config: ResolvedApprovalOptions, event: ApprovalProgress): void {
  try {
    const result: unknown = config.onProgress?.(event)
    if (result instanceof Promise) result.catch(() => {})
  } catch {
    // Logging trouble must not end the wait.
  }
}

/**
 * One wait's clock and retry state: the deadline, the connect budget (until the API first
 * answers), and the counters that decide when retrying stops.
 */
class WaitState {
  readonly startedAt = performance.now()
  readonly deadline: number
  readonly idempotencyKey: string
  retries = 0
  serverErrors = 0
  /** Whether any HTTP answer came back yet; until then the connect budget applies. */
  reached = false

  constructor(
    readonly client: ApprovalsClient,
    readonly config: ResolvedApprovalOptions,
    readonly target: WithdrawTarget,
    readonly stop: AbortSignal,
  ) {
    this.deadline = this.startedAt + config.timeoutMs
    this.idempotencyKey = config.idempotencyKey ?? randomUUID()
  }

  remaining(): number {
    return this.deadline - performance.now()
  }

  /** Time left to reach the API at all (infinite once it has answered). */
  connectRemaining(): number {
    return this.reached ? Infinity : this.startedAt + this.config.connectTimeoutMs - performance.now()
  }

  /** Throws once the wait is over: aborted (the caller's race reports it) or past the deadline. */
  checkTime(): void {
    if (this.stop.aborted) throw abortError()
    if (this.remaining() <= 0) throw new ApprovalTimeout(this.config.timeoutMs, this.target.approvalId)
  }

  /** Sleeps, but never past the deadline; ends at once on abort. */
  async pause(ms: number): Promise<void> {
    await sleep(Math.min(ms, this.remaining()), this.stop)
    this.checkTime()
  }

  /** An answer came back: the API is reachable and the retry counters start over. */
  succeeded(): void {
    this.reached = true
    this.retries = 0
    this.serverErrors = 0
  }

  /** Transient failures wait and return (the caller retries); anything else is thrown. */
  async recover(error: unknown): Promise<void> {
    this.checkTime()
    if (!(error instanceof ApprovalError)) throw error
    if (error.status !== undefined) this.reached = true
    if (error.code === 'server_error') {
      this.serverErrors++
      if (this.serverErrors >= MAX_CONSECUTIVE_SERVER_ERRORS) throw new ApprovalTimeout(this.config.timeoutMs, this.target.approvalId, 'server_error')
    } else if (error.code !== 'rate_limited' && error.code !== 'network_error') {
      throw error
    }
    if (this.connectRemaining() <= 0) throw unreachable(this.config, error)
    this.retries++
    const delayMs = Math.max(0, Math.min(retryDelay(this.retries, error.retryAfterMs), this.remaining(), this.connectRemaining()))
    emit(this.config, { type: 'retrying', approvalId: this.target.approvalId, attempt: this.retries, delayMs, error: error.message })
    await this.pause(delayMs)
    if (this.connectRemaining() <= 0) throw unreachable(this.config, error)
  }
}

/** The API never answered within the connect budget. */
function unreachable(config: ResolvedApprovalOptions, last: ApprovalError): ApprovalError {
  return new ApprovalError(
    'unreachable',
    `Could not reach ${config.apiUrl} within ${formatDuration(config.connectTimeoutMs)} (last error: ${last.message}). Check ${config.names.apiUrl} and that the server is up`,
    { cause: last },
  )
}

/** The create-then-wait loop. Stops at the deadline, on a terminal status, or when `stop` aborts. */
async function waitForDecision(client: ApprovalsClient, config: ResolvedApprovalOptions, target: WithdrawTarget, stop: AbortSignal): Promise<ApprovalRecord> {
  const state = new WaitState(client, config, target, stop)
  const record = await createApproval(state)
  state.checkTime()
  emit(config, { type: 'created', approvalId: record.id, url: record.url ?? undefined, record })
  return pollUntilDecided(state, record)
}

/** Creates the approval, retrying transient failures with the same Idempotency-Key: never two approvals. */
async function createApproval(state: WaitState): Promise<ApprovalRecord> {
  const { client, config, target } = state
  for (;;) {
    state.checkTime()
    const createStop = new AbortController()
    // Not tied to `stop`: if the caller aborts now, the withdrawal still learns the id from it.
    const creating = client.create(
      { action: config.action, context: config.context, agent: config.agent, idempotencyKey: state.idempotencyKey, timeoutMs: config.timeoutMs },
      { signal: createStop.signal, timeoutMs: Math.max(1, Math.min(DEFAULT_REQUEST_TIMEOUT_MS, state.remaining(), state.connectRemaining())) },
    )
    target.pendingCreate = creating.catch(() => undefined)
    target.stopCreate = () => createStop.abort()
    try {
      const record = await creating
      target.approvalId = record.id
      state.succeeded()
      return record
    } catch (error) {
      await state.recover(error)
    } finally {
      target.pendingCreate = undefined
      target.stopCreate = undefined
    }
  }
}

/** Checks at once, then long-polls; paces itself when the server answers early (no long-poll). */
async function pollUntilDecided(state: WaitState, first: ApprovalRecord): Promise<ApprovalRecord> {
  const { config } = state
  let record = first
  for (;;) {
    if (record.status !== 'pending') return settle(config, record)
    state.checkTime()
    const waitSeconds = Math.min(LONG_POLL_SECONDS, state.remaining() / 1000)
    const requestStart = performance.now()
    const next = await checkOnce(state, record.id, waitSeconds)
    if (next === undefined) continue // a transient failure, already waited out
    record = next
    if (record.status !== 'pending') continue
    state.checkTime()
    emit(config, { type: 'waiting', approvalId: record.id, waitedMs: Math.round(performance.now() - state.startedAt), remainingMs: Math.max(0, Math.round(state.remaining())) })
    // A pending answer well before the asked wait means the server does not long-poll:
    // space request starts by pollIntervalMs instead of hammering it.
    const tookMs = performance.now() - requestStart
    if (tookMs < (waitSeconds * 1000) / 2) await state.pause(config.pollIntervalMs - tookMs)
  }
}

/** One status check (long-poll); `undefined` after a transient failure it has waited out. */
async function checkOnce(state: WaitState, approvalId: string, waitSeconds: number): Promise<ApprovalRecord | undefined> {
  let record: ApprovalRecord
  try {
    record = await state.client.get(approvalId, {
      waitSeconds,
      signal: state.stop,
      timeoutMs: Math.min(waitSeconds * 1000 + LONG_POLL_MARGIN_MS, state.remaining()),
    })
  } catch (error) {
    await state.recover(error)
    return undefined
  }
  state.succeeded()
  requireSameAction(record, state.config.action, `Checking approval ${approvalId}`)
  return record
}

/** Turns a non-pending record into the call's outcome. */
function settle(config: ResolvedApprovalOptions, record: ApprovalRecord): ApprovalRecord {
  switch (record.status) {
    case 'approved':
      emit(config, { type: 'decided', approvalId: record.id, record })
      return record
    case 'rejected':
      emit(config, { type: 'decided', approvalId: record.id, record })
      throw new ApprovalRejected(record.id, record.reason ?? undefined, record.decided_by ?? undefined, record)
    case 'expired':
      throw new ApprovalTimeout(config.timeoutMs, record.id, 'expired')
    case 'cancelled':
      throw new ApprovalError(
        'cancelled',
        `Approval ${record.id} was withdrawn on the server${record.decided_by ? ` by ${record.decided_by}` : ''}${record.reason ? `: ${record.reason}` : ''}`,
        { approvalId: record.id },
      )
    default:
      throw new ApprovalError('unknown_status', `Approval ${record.id} has status "${String(record.status)}", which this client does not know`, {
        approvalId: record.id,
      })
  }
}
