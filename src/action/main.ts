/**
 * The main step: settings → request approval and wait → outputs, job summary, and the step's
 * result. Every failure ends in `core.setFailed`; nothing here throws.
 */
import * as core from '@actions/core'
import { ApprovalError, ApprovalRejected, ApprovalTimeout, requestApproval, type ApprovalRecord, type RequireApprovalOptions, type WithdrawalResult } from '../client/index.js'
import { formatDuration } from '../shared/duration.js'
import { ACTION_SETTING_NAMES, getSettings, InvalidInputsError } from './inputs.js'
import { logLine } from '../shared/log-text.js'
import { approvedOutcome, failedOutcome, isAbortError, type GateOutcome, type OutcomeFacts } from './outcome.js'
import { createProgressReporter } from './progress.js'
import type { GateSettings } from './settings.js'
import { oidcBearer } from './oidc-token.js'
import { markApprovalSettled, recordPendingApproval, recordPullRequestComment } from './state.js'
import { writeSummary } from './summary.js'
import { createPullRequestComment, type PullRequestComment } from './pull-request-comment.js'

/** Longest the step waits for the core's withdrawal after a cancellation or timeout (the core bounds it too). */
export const WITHDRAWAL_WAIT_MS = 2_000
/** Longest the step waits, once the gate has ended, for the pull request comment to show the outcome. */
export const COMMENT_WAIT_MS = 10_000
/** The same after a cancellation: the runner kills the step soon (see `HARD_EXIT_MS`). */
export const CANCELLED_COMMENT_WAIT_MS = 1_500

export interface RunOptions {
  /** Aborted when the runner cancels the step; its `reason` names the signal. */
  signal?: AbortSignal
}

/** Runs the gate. Resolves when the step's result has been reported; never rejects. */
export async function run(options: RunOptions = {}): Promise<void> {
  try {
    let settings: GateSettings
    try {
      settings = getSettings()
    } catch (error) {
      // Invalid inputs: report them all and stop before any request.
      if (error instanceof InvalidInputsError) return core.setFailed(error.message)
      throw error
    }
    if (settings.auth === 'oidc') {
      // The workflow's OIDC token is the bearer, asked again before each expiry.
      const provider = oidcBearer(settings.oidcAudience ?? '')
      try {
        settings = { ...settings, apiKey: await provider.next(), bearer: provider.next }
      } catch (error) {
        return core.setFailed(`Could not get the workflow's OIDC token: ${error instanceof Error ? error.message : String(error)}`)
      }
      core.info(logLine(`Authenticating as this workflow (OIDC token for audience ${settings.oidcAudience ?? ''}).`))
    }
    const comment = settings.pullRequestComment ? createPullRequestComment(settings.pullRequestComment, settings.action, { onPosted: recordPullRequestComment }) : undefined
    const outcome = await awaitOutcome(settings, options.signal, comment)
    await report(settings, outcome)
    // After the result is set: the comment can only delay the step's end, never change it.
    if (comment) await showOnPullRequest(comment, outcome, options.signal?.aborted ? CANCELLED_COMMENT_WAIT_MS : COMMENT_WAIT_MS)
  } catch (error) {
    core.setFailed(`Approval gate failed unexpectedly: ${error instanceof Error ? error.message : String(error)}`)
  }
}

/** Asks for approval and waits; every ending becomes a `GateOutcome`. */
async function awaitOutcome(settings: GateSettings, signal: AbortSignal | undefined, comment: PullRequestComment | undefined): Promise<GateOutcome> {
  const startedAt = Date.now()
  const progress = createProgressReporter({ action: settings.action, timeoutMs: settings.timeoutMs })
  let created: { approvalId: string; url?: string } | undefined
  let withdrawal: Promise<WithdrawalResult> | undefined
  let lastApiError: string | undefined

  const facts = (): OutcomeFacts => ({
    action: settings.action,
    timeoutMs: settings.timeoutMs,
    waitedMs: Date.now() - startedAt,
    approvalId: created?.approvalId,
    url: created?.url,
    failOnReject: settings.failOnReject,
    failOnTimeout: settings.failOnTimeout,
    cancelledBy: typeof signal?.reason === 'string' ? signal.reason : undefined,
    lastApiError,
  })

  try {
    const record: ApprovalRecord = await requestApproval(settings.action, {
      ...coreOptions(settings, signal),
      onProgress: (event) => {
        lastApiError = event.type === 'retrying' ? event.error : undefined
        if (event.type === 'created' && created === undefined) {
          created = { approvalId: event.approvalId, url: event.url ?? event.record.url ?? undefined }
          // Saved before waiting: if this process dies, the post step withdraws it.
          recordPendingApproval(event.approvalId, settings.apiUrl)
          comment?.waiting(created.approvalId, created.url)
        }
        progress.onProgress(event)
      },
      onWithdraw: (promise) => {
        withdrawal = promise
      },
    })
    markApprovalSettled()
    return approvedOutcome(record, facts())
  } catch (error) {
    const endFacts = facts()
    // On abort and timeout the core hands over its withdrawal; let that callback run, then
    // wait for it (bounded) so the card has left the dashboard before the step reports.
    const abandoned = isAbortError(error) || error instanceof ApprovalTimeout
    if (abandoned) await new Promise((resolve) => setImmediate(resolve))
    if (abandoned && withdrawal !== undefined) endFacts.withdrawal = await withinOrLate(withdrawal, WITHDRAWAL_WAIT_MS, 'failed')
    // Nothing left pending on the server: the post step has nothing to withdraw.
    if (settledOnServer(error) || endFacts.withdrawal === 'withdrawn' || endFacts.withdrawal === 'not_pending') markApprovalSettled()
    return failedOutcome(error, endFacts)
  } finally {
    progress.stop()
  }
}

/** The core's options from the settings (the callbacks are added by the caller). */
function coreOptions(settings: GateSettings, signal: AbortSignal | undefined): RequireApprovalOptions {
  return {
    context: settings.context,
    timeoutMs: settings.timeoutMs,
    pollIntervalMs: settings.pollIntervalMs,
    connectTimeoutMs: settings.connectTimeoutMs,
    settingNames: ACTION_SETTING_NAMES,
    apiUrl: settings.apiUrl,
    apiKey: settings.apiKey,
    bearer: settings.bearer,
    agent: settings.agent,
    idempotencyKey: settings.idempotencyKey,
    signal,
  }
}

/** Sets the outputs, writes the summary and the log line, and fails the step when it should. */
async function report(settings: GateSettings, outcome: GateOutcome): Promise<void> {
  core.setOutput('approval-id', outcome.approvalId ?? '')
  core.setOutput('decision', outcome.decision ?? '')
  core.setOutput('approver', outcome.approver ?? '')
  core.setOutput('reason', outcome.reason ?? '')
  core.setOutput('decided-at', outcome.decidedAt ?? '')
  core.setOutput('waited-seconds', String(Math.round(outcome.waitedMs / 1000)))
  core.setOutput('url', outcome.url ?? '')

  if (settings.jobSummary && outcome.decision !== undefined) await writeSummary(settings.action, outcome, settings.context)

  if (outcome.decision === 'approved') {
    const by = outcome.approver ? ` by ${outcome.approver}` : ''
    const why = outcome.reason ? `: ${outcome.reason}` : ''
    core.info(logLine(`"${settings.action}" was approved${by} after ${formatDuration(outcome.waitedMs)}${why}`))
  }
  if (outcome.warning) core.warning(outcome.warning)
  if (outcome.failure) core.setFailed(outcome.failure)
}

/**
 * Whether the server already shows the request as finished (decided, expired, withdrawn), so
 * the post step has nothing to withdraw. After an abort or a deadline the core withdraws it
 * itself; should that fail, the post step's retry is the safety net (a 409 when it is moot).
 */
function settledOnServer(error: unknown): boolean {
  return (
    error instanceof ApprovalRejected ||
    (error instanceof ApprovalTimeout && error.cause === 'expired') ||
    (error instanceof ApprovalError && error.code === 'cancelled')
  )
}

/** Updates the pull request comment with the outcome, waiting at most `ms` for GitHub. */
async function showOnPullRequest(comment: PullRequestComment, outcome: GateOutcome, ms: number): Promise<void> {
  const shown = await withinOrLate(comment.decided(outcome), ms, undefined)
  if (shown === 'late') core.warning(`The pull request comment was not updated within ${ms / 1000}s; the gate's result stands.`)
}

/** `promise`'s value (`onError` if it rejects), or `'late'` when it has not settled within `ms`; never keeps the process alive. */
async function withinOrLate<T>(promise: Promise<T>, ms: number, onError: T): Promise<T | 'late'> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<'late'>((resolve) => {
    timer = setTimeout(() => resolve('late'), ms)
    timer.unref()
  })
  try {
    return await Promise.race([promise.catch(() => onError), late])
  } finally {
    clearTimeout(timer)
  }
}
