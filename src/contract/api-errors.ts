/**
 * The error codes of the API's `{error: {code, message}}` body, as the wire contract defines
 * them. Clients branch on `code`, never on the message.
 */
export const API_ERROR_CODES = [
  /** 400: a field is missing or invalid; the message names it. */
  'invalid_request',
  /** 400: the body is not JSON, or empty while Content-Type says JSON. */
  'invalid_json',
  /** 401: missing, unknown or revoked API key. */
  'unauthorized',
  /** 401: a bearer JWT (workflow identity) does not verify: expired, wrong audience, bad signature, issuer unreachable; the message says which. */
  'oidc_invalid',
  /** 401: a bearer JWT verifies but no trust rule accepts it; the message names the claim that did not match. */
  'oidc_untrusted',
  /** 403: the key lacks the scope for this call. */
  'forbidden',
  /** 403: the decider may not decide this approval (it created it, or it triggered the run). */
  'self_approval',
  /** 403: the approval's policy rule does not count this decider (not in its groups or members; an API key where the rule names people); the message says who may. */
  'not_eligible',
  /** 403: the rule allows approving only inside its windows; the body's `opens_at` is the next opening (or `null`), the message says when. Rejecting is allowed. */
  'outside_window',
  /** 404: no such approval (or route) in this project. */
  'not_found',
  /** 409: already decided, cancelled or expired; the body carries the current `approval`. */
  'conflict',
  /** 409: this decider already voted on this approval (one vote per person); the body carries the current `approval`. */
  'already_voted',
  /** 413: the body or its `context` is larger than the server accepts. */
  'payload_too_large',
  /** 415: the body is not `application/json`. */
  'unsupported_media_type',
  /** 422: this `Idempotency-Key` was used (within 24 h) for a different request. */
  'idempotency_key_reused',
  /** 429: too many requests from this key; `Retry-After` says when to try again. */
  'rate_limited',
  /** 503: shutting down or starting; `Retry-After` says when to try again. */
  'service_unavailable',
  /**
   * 500: the record says approved, rejected, expired or cancelled but its audit event does not
   * prove it (the database was edited outside approval-gate); the message names the approval.
   * A failure, never a decision.
   */
  'integrity_error',
  /** 500: the server failed; its log says why. */
  'internal_error',
] as const

export type ApiErrorCode = (typeof API_ERROR_CODES)[number]
