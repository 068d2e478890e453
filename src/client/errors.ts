/**
 * Errors thrown by the core. All extend `ApprovalGateError` and carry a stable `code`
 * (listed once in `src/contract/client-errors.ts`); callers branch on the class or on `code`,
 * never on message text (the way undici's errors work).
 */
import type { ApprovalErrorCode, ClientErrorCode } from '../contract/index.js'
import { formatDuration } from '../shared/duration.js'
import type { ApprovalRecord } from './types.js'

export type { ApprovalErrorCode, ClientErrorCode } from '../contract/index.js'

/** The base of every error the core throws (aborts are the web-standard `AbortError` instead). */
export class ApprovalGateError extends Error {
  readonly code: ClientErrorCode
  readonly approvalId?: string

  constructor(code: ClientErrorCode, message: string, approvalId?: string, options?: ErrorOptions) {
    super(message, options)
    this.name = 'ApprovalGateError'
    this.code = code
    this.approvalId = approvalId
  }
}

/** Extra facts an `ApprovalError` may carry. */
export interface ApprovalErrorDetails {
  status?: number
  approvalId?: string
  cause?: unknown
  /** From a `Retry-After` header (429/503), in ms from when the answer arrived. */
  retryAfterMs?: number
  /** The current record, when the server sent one (e.g. with a `409`). */
  record?: ApprovalRecord
}

/** Anything that is neither a decision nor a timeout: configuration, auth, 4xx, malformed responses. */
export class ApprovalError extends ApprovalGateError {
  declare readonly code: ApprovalErrorCode
  /** HTTP status when the error came from a response. */
  readonly status?: number
  readonly retryAfterMs?: number
  readonly record?: ApprovalRecord

  constructor(code: ApprovalErrorCode, message: string, details: ApprovalErrorDetails = {}) {
    super(code, message, details.approvalId, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'ApprovalError'
    this.status = details.status
    this.retryAfterMs = details.retryAfterMs
    this.record = details.record
  }
}

/** A person rejected the request (`code` `'rejected'`). `reason` is the note they entered, if any. */
export class ApprovalRejected extends ApprovalGateError {
  declare readonly code: 'rejected'
  declare readonly approvalId: string
  readonly reason?: string
  /** Who rejected it, when the server says (our server's `decided_by`). */
  readonly decidedBy?: string

  /** The rejected record, when known. */
  readonly record?: ApprovalRecord

  constructor(approvalId: string, reason?: string, decidedBy?: string, record?: ApprovalRecord) {
    super('rejected', `Approval ${approvalId} was rejected${decidedBy ? ` by ${decidedBy}` : ''}${reason ? `: ${reason}` : ''}`, approvalId)
    this.name = 'ApprovalRejected'
    this.reason = reason
    this.decidedBy = decidedBy
    this.record = record
  }
}

/**
 * No decision before the deadline (`code` `'timed_out'`; `cause` undefined, or `'expired'` when
 * the server expired it), or the API answered 5xx three times in a row (`cause === 'server_error'`).
 */
export class ApprovalTimeout extends ApprovalGateError {
  declare readonly code: 'timed_out'
  readonly timeoutMs: number
  declare readonly cause?: 'server_error' | 'expired'

  constructor(timeoutMs: number, approvalId?: string, cause?: 'server_error' | 'expired') {
    super('timed_out', timeoutMessage(timeoutMs, approvalId, cause), approvalId)
    this.name = 'ApprovalTimeout'
    this.timeoutMs = timeoutMs
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, enumerable: false, writable: false })
  }
}

function timeoutMessage(timeoutMs: number, approvalId: string | undefined, cause: 'server_error' | 'expired' | undefined): string {
  const subject = `Approval${approvalId ? ` ${approvalId}` : ''}`
  if (cause === 'server_error') return `${subject} failed: the API answered 5xx three times in a row`
  if (cause === 'expired') return `${subject} expired on the server before anyone decided`
  return `${subject} timed out after ${formatDuration(timeoutMs)} without a decision`
}

/** JamJet SDK names, for drop-in migration from `@jamjet/cloud`. */
export { ApprovalRejected as JamjetApprovalRejected, ApprovalTimeout as JamjetApprovalTimeout }
