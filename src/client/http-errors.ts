/**
 * What a non-2xx answer means for the caller: one `ApprovalError` code per kind of answer, and a
 * message that says what to do, naming the caller's own settings (`--api-key` in the CLI, the
 * `api-key` input in the action, `apiKey` in the library).
 */
import { WIRE_ERROR_CODES, type ApprovalErrorCode } from '../contract/index.js'
import type { SettingNames } from './config.js'
import { ApprovalError } from './errors.js'
import { describeErrorBody, errorBodyFields, recordInErrorBody, type RawResponse } from './http-response.js'
import { excerpt } from './record-parsing.js'
import { parseRetryAfter } from './retry-policy.js'

/** Where an answer came from, for its error message. */
export interface AnswerSource {
  /** `Creating approval "deploy"`, `Checking approval apr_…`. */
  what: string
  apiUrl: string
  /** The request path with its query. */
  path: string
  /** The approval the request was about (get, decide, cancel). */
  approvalId?: string
  names: SettingNames
}

/** The error for a non-2xx answer. */
export function errorForAnswer(response: RawResponse, source: AnswerSource): ApprovalError {
  const { status, text } = response
  const [code, message] = classify(response, source, describeErrorBody(text))
  return new ApprovalError(code, message, {
    status,
    approvalId: source.approvalId,
    retryAfterMs: parseRetryAfter(response.headers['retry-after']),
    record: status === 409 ? recordInErrorBody(text) : undefined,
  })
}

function classify(response: RawResponse, source: AnswerSource, said: string): [ApprovalErrorCode, string] {
  const { status } = response
  const { what, apiUrl, names } = source
  const wireCode = errorBodyFields(response.text).code
  if (status === 401) return ['unauthorized', `${what}: ${apiUrl} refused the API key (HTTP 401: ${said}). Check ${names.apiKey} and that the key is not revoked`]
  if (status === 403 && wireCode === 'self_approval') {
    return ['unauthorized', `${what}: the server does not let this decider approve its own request (HTTP 403: ${said}). Someone else must decide it, in the dashboard or with their own key`]
  }
  if (status === 403 && (wireCode === 'not_eligible' || wireCode === 'outside_window')) {
    return ['unauthorized', `${what}: the project's approval policy does not accept this decision now (HTTP 403: ${said})`]
  }
  if (status === 403) return ['unauthorized', `${what}: the API key is not allowed to do this (HTTP 403: ${said}). Use a key with the needed scope`]
  if (status === 404) return ['not_found', notFoundMessage(source, said)]
  if (status === 409 && wireCode === 'already_voted') return ['conflict', `${what}: this decider already voted on this approval; one vote per person (HTTP 409: ${said})`]
  if (status === 409) return ['conflict', `${what}: the approval is no longer pending (HTTP 409: ${said})`]
  if (status === 422 && wireCode === WIRE_ERROR_CODES.idempotencyKeyReused) {
    return [
      'idempotency_key_reused',
      `${what}: the idempotency key was already used for a different request (HTTP 422: ${said}). Use a new key for a new request; the earlier approval does not cover this one`,
    ]
  }
  if (status === 429) return ['rate_limited', `${what}: rate limited (HTTP 429: ${said})`]
  if (status >= 300 && status < 400 && status !== 304) return ['bad_request', redirectMessage(response, source)]
  if (status >= 500 && wireCode === WIRE_ERROR_CODES.integrityError) {
    return [
      'integrity_error',
      `${what}: the server could not prove this approval's decision (HTTP ${status}: ${said}). Treated as not approved: ask the server's operator to run "approval-gate audit verify"`,
    ]
  }
  if (status >= 500) return ['server_error', `${what}: the API failed (HTTP ${status}: ${said})`]
  return ['bad_request', `${what}: HTTP ${status}: ${said}`]
}

function notFoundMessage(source: AnswerSource, said: string): string {
  const { what, apiUrl, path, approvalId, names } = source
  if (approvalId) return `${what}: no such approval (HTTP 404: ${said}); it does not exist or belongs to another project`
  const hint = /\/v1$/i.test(apiUrl)
    ? `Drop the trailing /v1 from ${names.apiUrl}: use ${apiUrl.replace(/\/v1$/i, '')}`
    : `Check ${names.apiUrl}: it should be the server's base URL, e.g. https://approvals.example.com`
  return `${what}: HTTP 404 from ${apiUrl}${path.split('?')[0]} (${said}). ${hint}`
}

/** Redirects are never followed: the Authorization header must not travel to wherever a server points. */
function redirectMessage(response: RawResponse, source: AnswerSource): string {
  const location = response.headers.location
  const target = typeof location === 'string' && location !== '' ? ` to ${excerpt(location, 200)}` : ''
  return `${source.what}: HTTP ${response.status} redirect${target}, not followed so the API key goes nowhere else. Set ${source.names.apiUrl} to the API's final address`
}
