/**
 * The API's one error shape, `{error: {code, message}}`, and the mapping of every failure —
 * our own, Fastify's (validation, JSON parsing, body size) and the store's — onto it.
 */
import type { Socket } from 'node:net'
import type { FastifyError, FastifyReply, FastifyRequest } from 'fastify'
import type { ApiErrorCode } from '../../contract/index.js'
import { ApprovalRuleError } from '../approvals/contracts.js'
import { isStoreError } from '../store/errors.js'

export type { ApiErrorCode }

export interface ApiErrorBody {
  error: { code: ApiErrorCode; message: string }
}

/** An error a route throws on purpose; the error handler answers it as-is. */
export class ApiError extends Error {
  constructor(
    readonly statusCode: number,
    readonly code: ApiErrorCode,
    message: string,
    /** Extra top-level fields of the body (a 409 carries the current `approval`). */
    readonly extra: Record<string, unknown> = {},
    /** Extra response headers (`Retry-After` of a 429). */
    readonly headers: Record<string, string> = {},
  ) {
    super(message)
    this.name = 'ApiError'
  }
}

/** The body of an error response. */
export function errorBody(code: ApiErrorCode, message: string): ApiErrorBody {
  return { error: { code, message } }
}

/** What an error answers: status, the headers it adds, and the body. */
export interface ErrorAnswer {
  status: number
  headers: Record<string, string>
  body: ApiErrorBody & Record<string, unknown>
}

/** The answer to any thrown error (the error handler's, and a held long-poll's: `held-reply.ts`). */
export function errorAnswer(error: FastifyError | Error): ErrorAnswer {
  const { status, code, message, extra } = describe(error)
  const headers: Record<string, string> = error instanceof ApiError ? { ...error.headers } : {}
  if (status === 503) headers['retry-after'] = '5'
  if (status === 401) headers['www-authenticate'] = 'Bearer'
  return { status, headers, body: { ...errorBody(code, message), ...extra } }
}

/** Fastify error handler: every thrown error leaves as `{error:{code,message}}`. */
export function handleError(error: FastifyError | Error, request: FastifyRequest, reply: FastifyReply): void {
  const { status, headers, body } = errorAnswer(error)
  if (status >= 500) request.log.error({ err: error }, 'request failed')
  void reply.headers(headers).code(status).send(body)
}

/**
 * Fastify `frameworkErrors`: a URL the router cannot decode (`%ZZ`) or a path parameter over
 * the router's limit, answered in the API's shape instead of Fastify's own.
 */
export function handleFrameworkError(error: FastifyError, request: FastifyRequest, reply: FastifyReply): void {
  // Fastify's messages quote the whole path back; name the problem instead.
  const known =
    error.code === 'FST_ERR_BAD_URL'
      ? new ApiError(400, 'invalid_request', 'the URL path contains a malformed percent-encoding')
      : error.code === 'FST_ERR_MAX_PARAM_LENGTH'
        ? new ApiError(414, 'invalid_request', 'a path segment (such as an id) is longer than the server accepts')
        : error
  handleError(known, request, reply)
}

/**
 * Node `clientError` (what never became a request: oversized headers, a request line that is
 * not HTTP, a header timeout), answered on the raw socket in the API's shape.
 */
export function handleClientError(error: Error & { code?: string }, socket: Socket): void {
  // A reset or already closed connection has nobody to answer.
  if (error.code === 'ECONNRESET' || socket.destroyed) return
  const [status, reason, message] =
    error.code === 'ERR_HTTP_REQUEST_TIMEOUT'
      ? [408, 'Request Timeout', 'the request was not received in time']
      : error.code === 'HPE_HEADER_OVERFLOW'
        ? [431, 'Request Header Fields Too Large', 'the request headers are larger than the server accepts']
        : [400, 'Bad Request', 'the request is not valid HTTP']
  const body = JSON.stringify(errorBody('invalid_request', message))
  if (!socket.writable) return void socket.destroy()
  // Answer, then close gently: destroying a socket with unread request bytes resets the
  // connection, and the client would lose the answer. A short grace period bounds the wait.
  socket.end(`HTTP/1.1 ${status} ${reason}\r\nContent-Type: application/json; charset=utf-8\r\nContent-Length: ${Buffer.byteLength(body)}\r\nConnection: close\r\n\r\n${body}`)
  setTimeout(() => socket.destroy(), CLIENT_ERROR_LINGER_MS).unref()
}

/** How long a connection that sent garbage may stay open after its answer. */
const CLIENT_ERROR_LINGER_MS = 2_000

function describe(error: FastifyError | Error): { status: number; code: ApiErrorCode; message: string; extra: Record<string, unknown> } {
  const none = {}
  if (error instanceof ApiError) return { status: error.statusCode, code: error.code, message: error.message, extra: error.extra }
  if (error instanceof ApprovalRuleError) return { status: error.code === 'idempotency_key_reused' ? 422 : 400, code: error.code, message: error.message, extra: none }
  if (isStoreError(error)) {
    const byCode = { invalid: [400, 'invalid_request'], not_found: [404, 'not_found'], conflict: [409, 'conflict'] } as const
    const [status, code] = byCode[error.code]
    return { status, code, message: error.message, extra: none }
  }
  const fastify = error as FastifyError
  if (fastify.validation) {
    return { status: 400, code: 'invalid_request', message: validationMessage(fastify), extra: none }
  }
  switch (fastify.code) {
    case 'FST_ERR_CTP_INVALID_JSON_BODY':
      return { status: 400, code: 'invalid_json', message: 'the request body is not valid JSON', extra: none }
    case 'FST_ERR_CTP_EMPTY_JSON_BODY':
      return { status: 400, code: 'invalid_json', message: 'the request body is empty but Content-Type says application/json', extra: none }
    case 'FST_ERR_CTP_BODY_TOO_LARGE':
      return { status: 413, code: 'payload_too_large', message: 'the request body is larger than the server accepts', extra: none }
    case 'FST_ERR_CTP_INVALID_MEDIA_TYPE':
      return { status: 415, code: 'unsupported_media_type', message: 'send the request body as application/json', extra: none }
  }
  const status = typeof fastify.statusCode === 'number' && fastify.statusCode >= 400 && fastify.statusCode < 600 ? fastify.statusCode : 500
  if (status === 413) return { status, code: 'payload_too_large', message: 'the request body is larger than the server accepts', extra: none }
  if (status < 500) return { status, code: 'invalid_request', message: fastify.message || 'bad request', extra: none }
  // Never echo internal error text to clients.
  return { status: 500, code: 'internal_error', message: 'the server failed to handle this request; see its log', extra: none }
}

/**
 * One sentence naming the offending field: `body.action must NOT have more than 200 characters`,
 * `query.wait must be <= 60`, `body must have required property 'decision'`.
 */
function validationMessage(error: FastifyError): string {
  const first = error.validation?.[0]
  const part = partName(error.validationContext)
  if (!first) return error.message
  const path = (first.instancePath ?? '')
    .split('/')
    .filter(Boolean)
    .map((segment) => segment.replace(/~1/g, '/').replace(/~0/g, '~'))
    .join('.')
  const field = path ? `${part}.${path}` : part
  const params = first.params as Record<string, unknown>
  if (first.keyword === 'required') return `${field}.${String(params.missingProperty)} is required`
  if (first.keyword === 'pattern') return `${field} contains characters that are not allowed (control or invisible characters) or has no visible letter, digit, punctuation or symbol`
  if (first.keyword === 'enum') return `${field} must be one of: ${(params.allowedValues as unknown[]).join(', ')}`
  return `${field} ${first.message ?? 'is invalid'}`
}

function partName(context: string | undefined): string {
  switch (context) {
    case 'querystring':
      return 'query'
    case 'headers':
      return 'header'
    case 'params':
      return 'path'
    default:
      return context ?? 'request'
  }
}
