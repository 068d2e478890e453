/**
 * Turns how the wait ended (an approved record, or an error from the core) into what the step
 * reports: the `decision` output, the other outputs, and the failure message, if any.
 * One place decides which endings fail the step, so outputs, summary and exit code agree.
 */
import { ApprovalError, ApprovalRejected, ApprovalTimeout, type ApprovalRecord, type WithdrawalResult } from '../client/index.js'
import { formatDuration } from '../shared/duration.js'

/**
 * Values of the `decision` output: how the gate ended. (Not the core's `Decision`, the verb a
 * decider sends.) Empty when the gate failed for another reason (auth, API, config).
 */
export type DecisionOutput = 'approved' | 'rejected' | 'timed_out' | 'cancelled'

export interface GateOutcome {
  decision?: DecisionOutput
  approvalId?: string
  approver?: string
  reason?: string
  url?: string
  decidedAt?: string
  waitedMs: number
  /** Why the step fails; `undefined` when it succeeds. */
  failure?: string
  /** A note for the log when the step succeeds without approval (`fail-on-reject: false`). */
  warning?: string
}

/** What was known when the wait ended, besides the result itself. */
export interface OutcomeFacts {
  action: string
  timeoutMs: number
  waitedMs: number
  /** From the core's `created` progress event. */
  approvalId?: string
  url?: string
  failOnReject: boolean
  failOnTimeout: boolean
  /** The signal name when the runner cancelled the step (the abort reason). */
  cancelledBy?: string
  /** How the core's withdrawal ended after an abort or timeout; `late` when the step stopped waiting for it. */
  withdrawal?: WithdrawalResult | 'late'
  /** The API's error when the last thing the core did was retry (unreachable, 5xx, 429). */
  lastApiError?: string
}

/** The approved record → a successful outcome. */
export function approvedOutcome(record: ApprovalRecord, facts: OutcomeFacts): GateOutcome {
  return {
    decision: 'approved',
    approvalId: record.id,
    approver: record.decided_by ?? undefined,
    reason: record.reason ?? undefined,
    url: record.url ?? facts.url,
    decidedAt: record.decided_at ?? undefined,
    waitedMs: facts.waitedMs,
  }
}

/** What every failed outcome starts from. */
type OutcomeBase = Pick<GateOutcome, 'approvalId' | 'url' | 'waitedMs'>

/** `"deploy" (approval apr_1)`: the gate's subject in messages. */
function describe(facts: OutcomeFacts, approvalId = facts.approvalId): string {
  return `"${facts.action}"${approvalId ? ` (approval ${approvalId})` : ''}`
}

/** Any error thrown by the core (or by the step around it) → the outcome to report. */
export function failedOutcome(error: unknown, facts: OutcomeFacts): GateOutcome {
  const base: OutcomeBase = { approvalId: facts.approvalId, url: facts.url, waitedMs: facts.waitedMs }
  const subject = describe(facts)
  if (error instanceof ApprovalRejected) return rejectedOutcome(error, facts, base)
  if (error instanceof ApprovalTimeout) return timedOutOutcome(error, facts, base)

  if (isAbortError(error)) {
    const by = facts.cancelledBy ? ` (${facts.cancelledBy})` : ''
    return { ...base, decision: 'cancelled', failure: `The step was cancelled${by} while waiting for approval of ${subject}; ${withdrawalText(facts.withdrawal)}` }
  }
  if (!(error instanceof ApprovalError)) {
    const message = error instanceof Error ? error.message : String(error)
    return { ...base, failure: `Approval gate failed: ${message}` }
  }
  const approvalId = error.approvalId ?? base.approvalId
  switch (error.code) {
    case 'cancelled':
      return { ...base, approvalId, decision: 'cancelled', failure: `${subject} was withdrawn on the server before anyone decided: ${error.message}` }
    case 'integrity_error':
      return { ...base, approvalId, failure: `The approvals server could not prove the decision on ${subject}, so the gate does not pass (integrity_error): ${error.message}` }
    default: {
      const said = sentence(`Approval gate failed (${error.code}${error.status ? `, HTTP ${error.status}` : ''}): ${error.message}`)
      return { ...base, approvalId, failure: `${said}${hintFor(error)}` }
    }
  }
}

function rejectedOutcome(error: ApprovalRejected, facts: OutcomeFacts, base: OutcomeBase): GateOutcome {
  const by = error.decidedBy ? ` by ${error.decidedBy}` : ''
  const why = error.reason ? `: ${error.reason}` : ' (no reason given)'
  const message = `${describe(facts, error.approvalId)} was rejected${by}${why}`
  const outcome = {
    ...base,
    approvalId: error.approvalId,
    decision: 'rejected' as const,
    approver: error.decidedBy,
    reason: error.reason,
    url: error.record?.url ?? base.url,
    decidedAt: error.record?.decided_at ?? undefined,
  }
  return facts.failOnReject ? { ...outcome, failure: message } : { ...outcome, warning: `${message}. Continuing because fail-on-reject is false.` }
}

function timedOutOutcome(error: ApprovalTimeout, facts: OutcomeFacts, base: OutcomeBase): GateOutcome {
  const subject = describe(facts)
  const approvalId = error.approvalId ?? base.approvalId
  const outcome = { ...base, approvalId, decision: 'timed_out' as const }
  if (error.cause === 'server_error') {
    // An outage is never an acceptable "no": it fails even with fail-on-timeout: false.
    return { ...outcome, failure: `The approvals API failed while waiting for ${subject}: it answered with server errors (5xx) three times in a row. Check the server's health and re-run the job.` }
  }
  if (approvalId === undefined) {
    // Nothing was ever created: an unreachable API, not a person who did not decide.
    const last = facts.lastApiError ? ` Last error: ${facts.lastApiError}.` : ''
    return { ...outcome, failure: `Could not create the approval request for "${facts.action}" within ${formatDuration(error.timeoutMs)}: the approvals API did not answer.${last} Check api-url and that the server is up.` }
  }
  const message =
    error.cause === 'expired'
      ? `${subject} expired on the server before anyone decided.`
      : `No decision on ${subject} within ${formatDuration(error.timeoutMs)}; ${withdrawalText(facts.withdrawal)}${facts.lastApiError ? ` The API was failing at the end: ${facts.lastApiError}.` : ' Raise the timeout input if approvers need longer.'}`
  return facts.failOnTimeout ? { ...outcome, failure: message } : { ...outcome, warning: `${message} Continuing because fail-on-timeout is false.` }
}

/** `DOMException` `AbortError`, as the core throws on abort (checked by name: realms differ). */
export function isAbortError(error: unknown): boolean {
  return typeof error === 'object' && error !== null && (error as { name?: unknown }).name === 'AbortError'
}

/** Ends a message with a full stop unless it already ends a sentence. */
function sentence(text: string): string {
  return /[.!?]$/.test(text.trimEnd()) ? text.trimEnd() : `${text.trimEnd()}.`
}

/** What the core's message (which already names the input) leaves out. */
function hintFor(error: ApprovalError): string {
  switch (error.code) {
    case 'unauthorized':
      return error.status === 401 ? ' Also check that the secret behind it exists and that api-url points at the server that issued the key.' : ''
    case 'invalid_config':
      return ' Check the action inputs.'
    default:
      return ''
  }
}

/** What became of the pending request after an abort or timeout, for the failure message. */
function withdrawalText(withdrawal: OutcomeFacts['withdrawal']): string {
  switch (withdrawal) {
    case 'withdrawn':
      return 'the approval request was withdrawn.'
    case 'not_pending':
      return 'by then it had already been decided or closed on the server, so there was nothing left to withdraw.'
    case 'nothing_created':
      return 'no approval request had been created yet.'
    case 'failed':
      return 'the request could not be withdrawn (the API did not accept the cancel); the post step will try again.'
    case 'late':
      return 'the withdrawal did not finish in time; the post step will try again.'
    default:
      return 'the approval request is being withdrawn.'
  }
}
