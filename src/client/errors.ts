/**
 * Errors thrown by `requireApproval`. Callers branch on the class or on `code`,
 * never on message text (the way undici's errors work).
 */
import type { ApprovalRecord } from './types.js'

/** Machine-readable reasons for an `ApprovalError`. */
export type ApprovalErrorCode =
  | 'invalid_config' // bad option: missing key, malformed URL, bad context, bad timeout
  | 'unauthorized' // 401/403: missing, unknown or revoked API key
  | 'not_found' // 404: unknown approval id (or another project's)
  | 'create_failed' // the approval could not be created (4xx on create, or no id back)
  | 'bad_request' // another 4xx the server explained
  | 'bad_response' // a 2xx that is not JSON or lacks the expected fields
  | 'unknown_status' // a status this client does not know
  | 'cancelled' // the request was withdrawn on the server (status `cancelled`)
  | 'conflict' // 409: decide/cancel on an approval that is no longer pending (`record` holds it)
  | 'rate_limited' // 429 (`retryAfterMs` when the server said); `requestApproval` retries it
  | 'server_error' // 5xx (`retryAfterMs` when the server said); `requestApproval` retries it, 3 in a row end the wait
  | 'network_error' // no answer: connection refused/reset, DNS, or the per-request timeout; retried by `requestApproval`

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
export class ApprovalError extends Error {
  readonly code: ApprovalErrorCode
  /** HTTP status when the error came from a response. */
  readonly status?: number
  readonly approvalId?: string
  readonly retryAfterMs?: number
  readonly record?: ApprovalRecord

  constructor(code: ApprovalErrorCode, message: string, details: ApprovalErrorDetails = {}) {
    super(message, details.cause === undefined ? undefined : { cause: details.cause })
    this.name = 'ApprovalError'
    this.code = code
    this.status = details.status
    this.approvalId = details.approvalId
    this.retryAfterMs = details.retryAfterMs
    this.record = details.record
  }
}

/** A person rejected the request. `reason` is the note they entered, if any. */
export class ApprovalRejected extends Error {
  readonly approvalId: string
  readonly reason?: string
  /** Who rejected it, when the server says (our server's `decided_by`). */
  readonly decidedBy?: string

  /** The rejected record, when known. */
  readonly record?: ApprovalRecord

  constructor(approvalId: string, reason?: string, decidedBy?: string, record?: ApprovalRecord) {
    super(`Approval ${approvalId} was rejected${decidedBy ? ` by ${decidedBy}` : ''}${reason ? `: ${reason}` : ''}`)
    this.name = 'ApprovalRejected'
    this.approvalId = approvalId
    this.reason = reason
    this.decidedBy = decidedBy
    this.record = record
  }
}

/**
 * No decision before the deadline (`cause` undefined, or `'expired'` when the server expired it),
 * or the API answered 5xx three times in a row (`cause === 'server_error'`).
 */
export class ApprovalTimeout extends Error {
  readonly approvalId?: string
  readonly timeoutMs: number
  declare readonly cause?: 'server_error' | 'expired'

  constructor(timeoutMs: number, approvalId?: string, cause?: 'server_error' | 'expired') {
    super(
      cause === 'server_error'
        ? `Approval${approvalId ? ` ${approvalId}` : ''} failed: the API answered 5xx three times in a row`
        : cause === 'expired'
          ? `Approval ${approvalId} expired on the server before anyone decided`
          : `Approval${approvalId ? ` ${approvalId}` : ''} timed out after ${timeoutMs} ms without a decision`,
    )
    this.name = 'ApprovalTimeout'
    this.timeoutMs = timeoutMs
    this.approvalId = approvalId
    if (cause !== undefined) Object.defineProperty(this, 'cause', { value: cause, enumerable: false, writable: false })
  }
}

/** JamJet SDK names, for drop-in migration from `@jamjet/cloud`. */
export { ApprovalRejected as JamjetApprovalRejected, ApprovalTimeout as JamjetApprovalTimeout }
