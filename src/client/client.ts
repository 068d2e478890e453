/**
 * The project's one HTTP client for an approvals API (ours or JamJet Cloud). It speaks the
 * wire contract (README, `src/contract/`) over one shared keep-alive undici dispatcher, bounds every
 * request with a timeout composed with the caller's signal, and turns every failure into an
 * `ApprovalError` with a code (or a `DOMException` `AbortError` when the caller aborted).
 * The API key never appears in a message.
 */
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib'
import { Agent, request, type Dispatcher } from 'undici'
import { abortError } from './abort.js'
import { MAX_TIMER_MS, resolveConnection } from './config.js'
import { ApprovalError, type ApprovalErrorCode } from './errors.js'
import { excerpt, parsePage, parseRecord, type ApprovalPage } from './record-parsing.js'
import { parseRetryAfter } from './retry-policy.js'
import { MAX_TIMEOUT_MS, MAX_WAIT_SECONDS, MIN_TIMEOUT_MS, type ApprovalFilter, type ApprovalRecord, type DecisionVerb } from '../contract/index.js'

export { MAX_WAIT_SECONDS }

/** Per-request timeout when the caller gives none (long-polls add their wait to it). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
/** How long past the asked wait a long-poll may take before we call it lost. */
export const LONG_POLL_MARGIN_MS = 5_000
/** Larger answers are refused: no approvals API needs more, and a hostile one could send gigabytes. */
const MAX_RESPONSE_BYTES = 4 * 1024 * 1024
const USER_AGENT = 'approval-gate'

let sharedAgent: Agent | undefined

/** The one keep-alive dispatcher every client shares (created on first use). */
export function sharedDispatcher(): Dispatcher {
  sharedAgent ??= new Agent({ keepAliveTimeout: 10_000, keepAliveMaxTimeout: 60_000, connect: { timeout: 10_000 } })
  return sharedAgent
}

export interface ApprovalsClientOptions {
  /** Default: `APPROVAL_GATE_API_URL`, then `JAMJET_API_URL`, then `https://api.jamjet.dev`. */
  apiUrl?: string
  /** Default: `APPROVAL_GATE_API_KEY`, then `JAMJET_API_KEY`. */
  apiKey?: string
  /** Timeout of each request without its own. Default 30 s. */
  requestTimeoutMs?: number
  /** Mostly for tests; default: the shared keep-alive agent. */
  dispatcher?: Dispatcher
}

/** Per-call options of every client method. */
export interface ClientRequestOptions {
  /** Aborting it rejects the call at once with a `DOMException` `AbortError`. */
  signal?: AbortSignal
  /** Overrides the request's timeout (ms). */
  timeoutMs?: number
}

export interface CreateApprovalRequest {
  action: string
  context?: Record<string, unknown>
  agent?: string
  /** Sent as the `Idempotency-Key` header: the same key gives back the same approval. */
  idempotencyKey?: string
  /** Asks the server to expire the approval after this long (extension `timeout_ms`, sent clamped to 1 s … 30 days). */
  timeoutMs?: number
}

export interface GetApprovalOptions extends ClientRequestOptions {
  /** Long-poll: ask the server to hold the answer up to this many seconds (0 < s ≤ 60) while pending. */
  waitSeconds?: number
}

/** The query of `list()`: the contract's approval filter. */
export type ListApprovalsFilter = ApprovalFilter

/** What `decide()` sends. */
export type Decision = DecisionVerb

type ResponseHeaders = Record<string, string | string[] | undefined>

interface RawResponse {
  status: number
  headers: ResponseHeaders
  text: string
}

async function readLimited(body: AsyncIterable<Buffer> & { destroy(): unknown }, what: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > MAX_RESPONSE_BYTES) {
      body.destroy()
      throw tooLarge(what)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

function tooLarge(what: string): ApprovalError {
  return new ApprovalError('bad_response', `${what}: the answer is larger than ${MAX_RESPONSE_BYTES} bytes`)
}

const DECODERS: Record<string, (data: Buffer, options: { maxOutputLength: number }) => Buffer> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
}

/**
 * The body as text. We never ask for compression, but some servers and proxies compress
 * anyway: undoes `Content-Encoding` (within the same size limit, so a small "zip bomb" cannot
 * exhaust memory) and drops a UTF-8 byte-order mark, which `JSON.parse` refuses.
 */
function decodeBody(raw: Buffer, contentEncoding: string | string[] | undefined, what: string): string {
  const encodings = (Array.isArray(contentEncoding) ? contentEncoding.join(',') : (contentEncoding ?? ''))
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '' && name !== 'identity')
  let data = raw
  // Encodings are listed in the order they were applied: undo them last to first.
  for (const encoding of encodings.reverse()) {
    const decode = DECODERS[encoding]
    if (!decode) throw new ApprovalError('bad_response', `${what}: the answer uses content encoding "${excerpt(encoding, 40)}", which this client cannot decode`)
    try {
      data = decode(data, { maxOutputLength: MAX_RESPONSE_BYTES })
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(what)
      throw new ApprovalError('bad_response', `${what}: the answer claims content encoding "${encoding}" but does not decode as such`)
    }
  }
  const text = data.toString('utf8')
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}

function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false }
  }
}

/** `{error:{code,message}}` from an error body, or an excerpt of a non-JSON one. */
function describeErrorBody(text: string): string {
  const parsed = parseJson(text)
  if (parsed.ok && typeof parsed.value === 'object' && parsed.value !== null) {
    const error = (parsed.value as { error?: unknown }).error
    if (typeof error === 'object' && error !== null) {
      const { code, message } = error as { code?: unknown; message?: unknown }
      const parts = [typeof code === 'string' ? code : undefined, typeof message === 'string' ? excerpt(message, 300) : undefined]
      const said = parts.filter(Boolean).join(': ')
      if (said) return said
    }
    if (typeof error === 'string') return excerpt(error, 300)
  }
  return text.trim() === '' ? 'no details given' : `body: ${excerpt(text, 120)}`
}

/** A record sent along with an error (e.g. `409` carries the current record), if any. */
function recordInErrorBody(text: string): ApprovalRecord | undefined {
  const parsed = parseJson(text)
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) return undefined
  const body = parsed.value as { approval?: unknown; record?: unknown }
  for (const candidate of [body.approval, body.record, parsed.value]) {
    try {
      return parseRecord(candidate, '')
    } catch {
      // not a record: try the next place
    }
  }
  return undefined
}

/**
 * An approvals API client. One instance per API/key; all instances share one keep-alive
 * connection pool. Safe to use concurrently.
 */
export class ApprovalsClient {
  /** The normalised base URL (no trailing slash). */
  readonly apiUrl: string
  readonly requestTimeoutMs: number
  // A private field: never shows up in console.log, JSON.stringify or error objects.
  readonly #apiKey: string
  readonly #dispatcher: Dispatcher

  /** Throws `ApprovalError('invalid_config')` for a bad URL, a missing key or a bad timeout. */
  constructor(options: ApprovalsClientOptions = {}) {
    const connection = resolveConnection(options)
    this.apiUrl = connection.apiUrl
    this.#apiKey = connection.apiKey
    const timeout = options.requestTimeoutMs ?? DEFAULT_REQUEST_TIMEOUT_MS
    if (typeof timeout !== 'number' || !Number.isFinite(timeout) || timeout <= 0) {
      throw new ApprovalError('invalid_config', 'requestTimeoutMs must be a positive, finite number of milliseconds')
    }
    this.requestTimeoutMs = Math.min(timeout, MAX_TIMER_MS)
    this.#dispatcher = options.dispatcher ?? sharedDispatcher()
  }

  /** `POST /v1/approvals`. Failures other than auth/network/5xx/429 are `create_failed`. */
  async create(input: CreateApprovalRequest, options: ClientRequestOptions = {}): Promise<ApprovalRecord> {
    const what = `Creating approval "${excerpt(String(input.action), 60)}"`
    const body: Record<string, unknown> = { action: input.action, context: input.context ?? {} }
    if (input.agent !== undefined) body.agent = input.agent
    if (input.timeoutMs !== undefined) {
      // The server refuses values outside its range (a 400 would fail the create): clamp instead.
      // Shorter: it expires the request a little after we give up (we withdraw it then anyway).
      body.timeout_ms = Math.min(MAX_TIMEOUT_MS, Math.max(MIN_TIMEOUT_MS, Math.round(input.timeoutMs)))
    }
    const headers: Record<string, string> = {}
    if (input.idempotencyKey !== undefined) headers['idempotency-key'] = input.idempotencyKey
    try {
      const record = await this.#call('POST', '/v1/approvals', what, options, { body, headers })
      return parseRecord(record, what, { status: 'pending' })
    } catch (error) {
      throw this.#asCreateFailure(error)
    }
  }

  /** `GET /v1/approvals/{id}`, optionally long-polling with `?wait=`. */
  async get(id: string, options: GetApprovalOptions = {}): Promise<ApprovalRecord> {
    let query = ''
    let timeoutMs = options.timeoutMs
    if (options.waitSeconds !== undefined) {
      const wait = Math.min(MAX_WAIT_SECONDS, Math.max(0.001, Math.round(options.waitSeconds * 1000) / 1000))
      if (!Number.isFinite(wait)) throw new ApprovalError('invalid_config', 'waitSeconds must be a finite number of seconds')
      query = `?wait=${wait}`
      timeoutMs ??= wait * 1000 + LONG_POLL_MARGIN_MS
    }
    const what = `Checking approval ${excerpt(id, 80)}`
    const body = await this.#call('GET', `${this.#approvalPath(id)}${query}`, what, { ...options, timeoutMs }, { approvalId: id })
    return parseRecord(body, what, { id })
  }

  /** `POST /v1/approvals/{id}/decision`. A decided approval gives `ApprovalError('conflict')` with `.record`. */
  async decide(id: string, decision: Decision, reason?: string, options: ClientRequestOptions = {}): Promise<ApprovalRecord> {
    if (decision !== 'approve' && decision !== 'reject') {
      throw new ApprovalError('invalid_config', `decision must be "approve" or "reject", not "${excerpt(String(decision), 40)}"`)
    }
    const what = `Deciding approval ${excerpt(id, 80)}`
    const body = reason === undefined ? { decision } : { decision, reason }
    return parseRecord(await this.#call('POST', `${this.#approvalPath(id)}/decision`, what, options, { body, approvalId: id }), what, { id })
  }

  /**
   * `POST /v1/approvals/{id}/cancel`: withdraw a pending request. Decided → `ApprovalError('conflict')`.
   * `timedOut` (extension) says the requester gave up at its deadline: our server records it as
   * expired (audit `timed_out`) rather than cancelled.
   */
  async cancel(id: string, reason?: string, options: ClientRequestOptions & { timedOut?: boolean } = {}): Promise<ApprovalRecord> {
    const what = `Withdrawing approval ${excerpt(id, 80)}`
    const body: { reason?: string; timed_out?: true } = {}
    if (reason !== undefined) body.reason = reason
    if (options.timedOut) body.timed_out = true
    return parseRecord(await this.#call('POST', `${this.#approvalPath(id)}/cancel`, what, options, { body, approvalId: id }), what, { id })
  }

  /** `GET /v1/approvals?…`, newest first. */
  async list(filter: ListApprovalsFilter = {}, options: ClientRequestOptions = {}): Promise<ApprovalPage> {
    const params = new URLSearchParams()
    for (const [name, value] of Object.entries(filter)) {
      if (value !== undefined && value !== null && value !== '') params.set(name, String(value))
    }
    const query = params.size > 0 ? `?${params}` : ''
    return parsePage(await this.#call('GET', `/v1/approvals${query}`, 'Listing approvals', options, {}), 'Listing approvals')
  }

  #approvalPath(id: string): string {
    if (typeof id !== 'string' || id === '') throw new ApprovalError('invalid_config', 'approval id must be a non-empty string')
    return `/v1/approvals/${encodeURIComponent(id)}`
  }

  /** Sends a request and returns the parsed JSON of a 2xx answer; maps everything else to errors. */
  async #call(
    method: 'GET' | 'POST',
    path: string,
    what: string,
    options: ClientRequestOptions,
    extra: { body?: unknown; headers?: Record<string, string>; approvalId?: string },
  ): Promise<unknown> {
    const response = await this.#send(method, path, what, options, extra)
    const { status, text } = response
    if (status >= 200 && status < 300) {
      if (text.trim() === '') throw this.#error('bad_response', `${what}: HTTP ${status} with an empty body (expected JSON)`, { status, approvalId: extra.approvalId })
      const parsed = parseJson(text)
      if (!parsed.ok) {
        throw this.#error('bad_response', `${what}: HTTP ${status} but the body is not JSON (${excerpt(text, 80)}). Is ${this.apiUrl} an approvals API?`, {
          status,
          approvalId: extra.approvalId,
        })
      }
      return parsed.value
    }
    const said = describeErrorBody(text)
    const details = { status, approvalId: extra.approvalId }
    const retryAfterMs = parseRetryAfter(response.headers['retry-after'])
    let code: ApprovalErrorCode
    let message: string
    if (status === 401 || status === 403) {
      code = 'unauthorized'
      message =
        status === 401
          ? `${what}: ${this.apiUrl} refused the API key (HTTP 401: ${said}). Check apiKey / APPROVAL_GATE_API_KEY and that the key is not revoked`
          : `${what}: the API key is not allowed to do this (HTTP 403: ${said}). Use a key with the needed scope`
    } else if (status === 404) {
      code = 'not_found'
      message = extra.approvalId
        ? `${what}: no such approval (HTTP 404: ${said}); it does not exist or belongs to another project`
        : `${what}: HTTP 404 from ${this.apiUrl}${path.split('?')[0]} (${said}). Check apiUrl`
    } else if (status === 409) {
      code = 'conflict'
      message = `${what}: the approval is no longer pending (HTTP 409: ${said})`
    } else if (status === 429) {
      code = 'rate_limited'
      message = `${what}: rate limited (HTTP 429: ${said})`
    } else if (status >= 300 && status < 400 && status !== 304) {
      // Never followed: the Authorization header must not travel to wherever a server points.
      const location = response.headers.location
      const target = typeof location === 'string' && location !== '' ? ` to ${excerpt(location, 200)}` : ''
      code = 'bad_request'
      message = `${what}: HTTP ${status} redirect${target}, not followed so the API key goes nowhere else. Set apiUrl to the API's final address`
    } else if (status >= 500) {
      code = 'server_error'
      message = `${what}: the API failed (HTTP ${status}: ${said})`
    } else {
      code = 'bad_request'
      message = `${what}: HTTP ${status}: ${said}`
    }
    throw this.#error(code, message, { ...details, retryAfterMs, record: status === 409 ? recordInErrorBody(text) : undefined })
  }

  async #send(
    method: 'GET' | 'POST',
    path: string,
    what: string,
    options: ClientRequestOptions,
    extra: { body?: unknown; headers?: Record<string, string>; approvalId?: string },
  ): Promise<RawResponse> {
    const { signal } = options
    if (signal?.aborted) throw abortError(signal.reason)
    const timeoutMs = Math.min(Math.max(1, options.timeoutMs ?? this.requestTimeoutMs), MAX_TIMER_MS)
    // One controller per request: it ends the request on the caller's abort or on our timeout.
    const controller = new AbortController()
    let timedOut = false
    const onAbort = (): void => controller.abort(signal?.reason)
    signal?.addEventListener('abort', onAbort, { once: true })
    const timer = setTimeout(() => {
      timedOut = true
      controller.abort(new Error('request timed out'))
    }, timeoutMs)
    try {
      const headers: Record<string, string> = {
        authorization: `Bearer ${this.#apiKey}`,
        accept: 'application/json',
        'user-agent': USER_AGENT,
        ...extra.headers,
      }
      let body: string | undefined
      if (extra.body !== undefined) {
        body = JSON.stringify(extra.body)
        headers['content-type'] = 'application/json'
      }
      const response = await request(`${this.apiUrl}${path}`, { method, headers, body, dispatcher: this.#dispatcher, signal: controller.signal })
      const raw = await readLimited(response.body, what)
      let text: string
      try {
        text = decodeBody(raw, response.headers['content-encoding'], what)
      } catch (error) {
        // An error answer stays what its status says (a 503 is still a 5xx); only its details are lost.
        if (response.statusCode >= 200 && response.statusCode < 300) throw error
        text = ''
      }
      return { status: response.statusCode, headers: response.headers, text }
    } catch (error) {
      if (signal?.aborted) throw abortError(signal.reason)
      if (error instanceof ApprovalError) throw error
      if (timedOut) {
        throw this.#error('network_error', `${what}: no answer from ${this.apiUrl} within ${timeoutMs} ms`, { approvalId: extra.approvalId })
      }
      const reason = error instanceof Error ? `${(error as { code?: unknown }).code ?? error.name}: ${error.message}` : String(error)
      throw this.#error('network_error', `${what}: could not reach ${this.apiUrl} (${reason})`, { approvalId: extra.approvalId, cause: error })
    } finally {
      clearTimeout(timer)
      signal?.removeEventListener('abort', onAbort)
    }
  }

  /** Builds an error whose message cannot leak the key, even if a hostile server echoed it. */
  #error(code: ApprovalErrorCode, message: string, details: ConstructorParameters<typeof ApprovalError>[2]): ApprovalError {
    return new ApprovalError(code, this.redact(message), details)
  }

  /** Replaces the API key wherever it appears in `text`. */
  redact(text: string): string {
    return this.#apiKey.length >= 4 ? text.split(this.#apiKey).join('[redacted]') : text
  }

  /** On create, an answer that is neither transient nor about auth means "could not create". */
  #asCreateFailure(error: unknown): unknown {
    if (!(error instanceof ApprovalError)) return error
    if (!['not_found', 'bad_request', 'bad_response', 'conflict', 'unknown_status'].includes(error.code)) return error
    return new ApprovalError('create_failed', error.message, { status: error.status, cause: error, retryAfterMs: error.retryAfterMs })
  }
}
