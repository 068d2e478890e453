/**
 * Every error code a client of the wire contract (the core, and through it the CLI and the
 * action) reports, written once. Callers branch on these codes, never on message text.
 */
import type { ApiErrorCode } from './api-errors.js'

/** Codes of `ApprovalError`: the request did not end in a decision, for the reason named. */
export const APPROVAL_ERROR_CODES = [
  'invalid_config', // bad option: missing key, malformed URL, bad context, bad timeout, a self-hosted key without an API URL
  'unauthorized', // 401/403: missing, unknown or revoked API key
  'not_found', // 404: unknown approval id (or another project's)
  'create_failed', // the approval could not be created (4xx on create, or no id back)
  'idempotency_key_reused', // 422 on create: the Idempotency-Key was used before for a different request
  'bad_request', // another 4xx the server explained
  'bad_response', // a 2xx that is not JSON, lacks the expected fields, or is about another action or approval
  'unknown_status', // a status this client does not know
  'cancelled', // the request was withdrawn on the server (status `cancelled`)
  'conflict', // 409: decide/cancel on an approval that is no longer pending (`record` holds it)
  'rate_limited', // 429 (`retryAfterMs` when the server said); `requestApproval` retries it
  'server_error', // 5xx (`retryAfterMs` when the server said); `requestApproval` retries it, 3 in a row end the wait
  'integrity_error', // 500 `integrity_error`: the server could not prove the decision; never retried, never approved
  'network_error', // no answer: connection refused/reset, DNS, or the per-request timeout; retried by `requestApproval`
  'unreachable', // the API was never reached within the connect budget (`connectTimeoutMs`)
] as const
export type ApprovalErrorCode = (typeof APPROVAL_ERROR_CODES)[number]

/** Codes of the two outcomes that are not failures of the client: a person said no, or nobody decided. */
export const OUTCOME_ERROR_CODES = ['rejected', 'timed_out'] as const
export type OutcomeErrorCode = (typeof OUTCOME_ERROR_CODES)[number]

/** The `code` of every error the core throws (besides the web-standard `AbortError`). */
export type ClientErrorCode = ApprovalErrorCode | OutcomeErrorCode

/** Error codes of the server's `{error: {code}}` bodies (`api-errors.ts`) that the client treats specially. */
export const WIRE_ERROR_CODES = {
  /** `422` on create: same `Idempotency-Key`, different request. */
  idempotencyKeyReused: 'idempotency_key_reused' satisfies ApiErrorCode,
  /**
   * `500`: the server cannot prove the approval's decision (its audit event is missing or its
   * MAC does not verify, or it disagrees with the record).
   */
  integrityError: 'integrity_error' satisfies ApiErrorCode,
} as const
