/**
 * The project's one HTTP client for an approvals API (ours or JamJet Cloud). It speaks the
 * wire contract (README, `src/contract/`) over one shared keep-alive undici dispatcher, bounds every
 * request with a timeout composed with the caller's signal, and turns every failure into an
 * `ApprovalError` with a code (or a `DOMException` `AbortError` when the caller aborted).
 * The API key never appears in a message.
 */
import { Agent, request, type Dispatcher } from 'undici'
import { abortError } from './abort.js'
import { MAX_TIMER_MS, resolveConnection, settingNames, type SettingNames } from './config.js'
import { ApprovalError, type ApprovalErrorCode } from './errors.js'
import { errorForAnswer } from './http-errors.js'
import { decodeBody, parseJson, readLimited, type RawResponse } from './http-response.js'
import { excerpt, parsePage, parseRecord, requireSameAction, type ApprovalPage } from './record-parsing.js'
import { formatDuration } from '../shared/duration.js'
import { MAX_TIMEOUT_MS, MAX_WAIT_SECONDS, MIN_TIMEOUT_MS, type ApprovalFilter, type ApprovalRecord, type DecisionVerb } from '../contract/index.js'

export { MAX_WAIT_SECONDS }

/** Per-request timeout when the caller gives none (long-polls add their wait to it). */
export const DEFAULT_REQUEST_TIMEOUT_MS = 30_000
/** How long past the asked wait a long-poll may take before we call it lost. */
export const LONG_POLL_MARGIN_MS = 5_000
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
  /** How error hints name the URL and key settings (e.g. `--api-url`). Default: these options' names. */
  settingNames?: Partial<SettingNames>
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

/** What a request carries besides its method and path. */
interface RequestExtras {
  body?: unknown
  headers?: Record<string, string>
  /** The approval the request is about, for error messages and `ApprovalError.approvalId`. */
  approvalId?: string
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
  readonly #names: SettingNames

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
    this.#names = settingNames(options.settingNames)
  }

  /**
   * `POST /v1/approvals`. Failures other than auth/network/5xx/429 are `create_failed`; a reused
   * idempotency key is `idempotency_key_reused`; an answer about another action is `bad_response`.
   */
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
    let record: ApprovalRecord
    try {
      record = parseRecord(await this.#call('POST', '/v1/approvals', what, options, { body, headers }), what, { status: 'pending' })
    } catch (error) {
      throw this.#asCreateFailure(error)
    }
    // Not a failure to create: an answer about another request must never pass as this one.
    requireSameAction(record, input.action, what)
    return record
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
  async #call(method: 'GET' | 'POST', path: string, what: string, options: ClientRequestOptions, extra: RequestExtras): Promise<unknown> {
    const response = await this.#send(method, path, what, options, extra)
    const { status, text } = response
    if (status < 200 || status >= 300) {
      throw this.#redacted(errorForAnswer(response, { what, apiUrl: this.apiUrl, path, approvalId: extra.approvalId, names: this.#names }))
    }
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

  async #send(method: 'GET' | 'POST', path: string, what: string, options: ClientRequestOptions, extra: RequestExtras): Promise<RawResponse> {
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
        throw this.#error('network_error', `${what}: no answer from ${this.apiUrl} within ${formatDuration(timeoutMs)}`, { approvalId: extra.approvalId })
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

  #redacted(error: ApprovalError): ApprovalError {
    const message = this.redact(error.message)
    if (message === error.message) return error
    return new ApprovalError(error.code, message, { status: error.status, approvalId: error.approvalId, retryAfterMs: error.retryAfterMs, record: error.record })
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
