/**
 * A scriptable approvals API on a real loopback port, for tests of every client of the wire
 * contract (the polling core, the action's process tests, the CLI, end-to-end runs).
 *
 * It keeps approvals in memory and answers the wire contract (README "Wire contract", `src/contract/`):
 *
 *   POST /v1/approvals                  {action, context?, agent?, timeout_ms?} → 201 pending record
 *                                       (`Idempotency-Key` seen before → 200 with the same record, or
 *                                       422 `idempotency_key_reused` when the body differs)
 *   GET  /v1/approvals/:id[?wait=N]     the record; with `wait` (0 < N ≤ 60 s) held until it leaves
 *                                       `pending` or N seconds pass (unless `honourWait` is false)
 *   POST /v1/approvals/:id/decision     {decision: approve|reject, reason?} → record; 409 once decided
 *   POST /v1/approvals/:id/cancel       {reason?, timed_out?} → record with status `cancelled` (`expired`
 *                                       with `timed_out: true`); 409 once decided
 *   GET  /v1/approvals?status=&action=&agent=&decided_by=&cursor=&limit=  → {items, next_cursor}
 *
 * Every request needs `Authorization: Bearer <apiKey>` (401 otherwise) unless `apiKey: null`.
 * Errors are `{error: {code, message}}`.
 *
 * Faults are scripted per request: `script(match, ...faults)` queues faults that the next
 * matching requests consume in order (one fault per request), e.g.
 *
 *   server.script('get', reply(503, undefined, { 'retry-after': '1' }), { kind: 'drop' })
 *
 * makes the next GET answer 503 with Retry-After and the one after that lose its connection;
 * later GETs are served normally. Every request is recorded (`requests`), and tests can await
 * one (`waitForRequest`) to act "while a request is in flight".
 *
 * Usage:
 *   const server = await startScriptedServer()
 *   ... requireApproval('deploy', { apiUrl: server.url, apiKey: server.apiKey }) ...
 *   server.decide(id, 'approve')
 *   await server.close()
 */
import { randomBytes } from 'node:crypto'
import { createServer, type IncomingHttpHeaders, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo, Socket } from 'node:net'

/** Which route of the contract a request hit (`unknown` for anything else). */
export type RouteName = 'create' | 'get' | 'list' | 'decision' | 'cancel' | 'unknown'

/** One request as the server received it. */
export interface RecordedRequest {
  /** Position in `requests` (0-based). */
  index: number
  route: RouteName
  method: string
  /** Path without the query string, as sent (still percent-encoded). */
  path: string
  /** Approval id from the path, percent-decoded (for get/decision/cancel). */
  approvalId?: string
  query: Record<string, string>
  headers: IncomingHttpHeaders
  /** Raw request body ('' when none). */
  body: string
  /** The body parsed as JSON, or `undefined` when empty or not JSON. */
  json?: unknown
  /** `Date.now()` when the body had been read. */
  receivedAt: number
}

/** A record as this server stores and returns it. `status` may be forced to anything by `setStatus`. */
export interface ScriptedApproval {
  id: string
  status: string
  action: string
  context: Record<string, unknown>
  agent: string | null
  reason: string | null
  decided_by: string | null
  decided_at: string | null
  created_at: string
  expires_at: string
  url: string
  idempotency_key: string | null
  /** The policy fields, as the real server sends them for a project without a policy. */
  required_approvals: number
  votes: Array<{ by: string; decision: 'approve' | 'reject'; reason: string | null; at: string; groups: string[] }>
  policy: { version: number; rule: string } | null
}

/**
 * What a scripted request does instead of (or before) the normal handling.
 * - `reply`: answer with this status; `body` is sent as JSON, `rawBody` as-is (e.g. non-JSON).
 * - `hang`: never answer (the connection stays open until the client gives up or `close()`).
 * - `drop`: destroy the connection without an answer (a network error for the client).
 * - `delay`: wait `ms`, then handle the request normally.
 * - `ignoreWait`: handle normally but answer at once, as a server without long-poll would.
 * - `loseAnswer`: handle normally (the state changes, e.g. the approval is created) but cut the
 *   connection instead of answering, as when a response is lost on the way back.
 * - `handle`: full control over the raw response.
 */
export type ScriptedFault =
  | { kind: 'reply'; status: number; body?: unknown; rawBody?: string; headers?: Record<string, string> }
  | { kind: 'hang' }
  | { kind: 'drop' }
  | { kind: 'delay'; ms: number }
  | { kind: 'ignoreWait' }
  | { kind: 'loseAnswer' }
  | { kind: 'handle'; handler: (req: RecordedRequest, res: ServerResponse) => void }

/** Which requests a scripted fault applies to: a route name, or any predicate. */
export type RequestMatcher = RouteName | 'any' | ((req: RecordedRequest) => boolean)

export interface ScriptedServerOptions {
  /** Bearer key the server accepts. `null` turns auth off. Default `'test-key'`. */
  apiKey?: string | null
  /** Whether `?wait=N` holds the request (long-poll). Default `true`. */
  honourWait?: boolean
  /** Expiry stamped on records when create sends no `timeout_ms`. Default 1 h. (Never enforced.) */
  defaultExpiryMs?: number
  /** Who `POST …/decision` and `…/cancel` record as `decided_by`. Default `'key:test'`. */
  keyLabel?: string
}

export interface ScriptedServer {
  /** Base URL, e.g. `http://127.0.0.1:54321` (no trailing slash). */
  readonly url: string
  readonly port: number
  /** The accepted bearer key (`null` when auth is off). */
  readonly apiKey: string | null
  /** Every request received, in order. */
  readonly requests: RecordedRequest[]
  /** Approvals by id. */
  readonly approvals: Map<string, ScriptedApproval>
  /** Long-poll requests currently held open. */
  readonly activeWaits: number
  /** Queue faults for the next requests matching `match` (one fault per request, in order). */
  script(match: RequestMatcher, ...faults: ScriptedFault[]): void
  /** Faults queued and not yet consumed. */
  pendingFaults(): number
  /** Switch long-poll support on or off from now on. */
  setHonourWait(honour: boolean): void
  /** Decide a pending approval as a person would in the dashboard; wakes long-polls. */
  decide(id: string, decision: 'approve' | 'reject', reason?: string, decidedBy?: string): ScriptedApproval
  /** Force any status (including unknown ones such as `'weird'`) and wake long-polls. */
  setStatus(id: string, status: string, fields?: Partial<Omit<ScriptedApproval, 'id' | 'status'>>): ScriptedApproval
  /** Add an approval directly (no request recorded), e.g. for CLI `decide` tests. */
  addApproval(fields?: Partial<ScriptedApproval>): ScriptedApproval
  /** Requests matching `match` received so far. */
  requestsTo(match: RequestMatcher): RecordedRequest[]
  /**
   * Resolves with the first request matching `match` whose index is ≥ `fromIndex` (default 0, so
   * one already received counts); rejects after `timeoutMs` (default 10 s).
   */
  waitForRequest(match: RequestMatcher, options?: { fromIndex?: number; timeoutMs?: number }): Promise<RecordedRequest>
  /** Stop listening and cut every connection (clients see network errors); state is kept. */
  pause(): Promise<void>
  /** Listen again on the same port after `pause()`. */
  resume(): Promise<void>
  /** Stop for good: answer nothing more, cut connections, free the port. */
  close(): Promise<void>
}

/** A `reply` fault: answer `status` with a JSON `body` (or none) and extra headers. */
export function reply(status: number, body?: unknown, headers?: Record<string, string>): ScriptedFault {
  return { kind: 'reply', status, body, headers }
}

/** A `reply` fault with a body sent verbatim (e.g. an HTML error page). */
export function replyRaw(status: number, rawBody: string, headers: Record<string, string> = { 'content-type': 'text/html' }): ScriptedFault {
  return { kind: 'reply', status, rawBody, headers }
}

/** The contract's error body. */
export function errorBody(code: string, message: string): { error: { code: string; message: string } } {
  return { error: { code, message } }
}

const MAX_WAIT_SECONDS = 60
const MAX_BODY_BYTES = 1024 * 1024

/** Starts a scripted approvals API on 127.0.0.1, on a free port. */
export async function startScriptedServer(options: ScriptedServerOptions = {}): Promise<ScriptedServer> {
  const apiKey = options.apiKey === undefined ? 'test-key' : options.apiKey
  const defaultExpiryMs = options.defaultExpiryMs ?? 3_600_000
  const keyLabel = options.keyLabel ?? 'key:test'
  let honourWait = options.honourWait ?? true

  const requests: RecordedRequest[] = []
  const approvals = new Map<string, ScriptedApproval>()
  const idByIdempotencyKey = new Map<string, string>()
  const fingerprintByIdempotencyKey = new Map<string, string>()
  const queue: Array<{ match: RequestMatcher; fault: ScriptedFault }> = []
  /** Long-poll wake-ups by approval id. */
  const waiters = new Map<string, Set<() => void>>()
  /** Callbacks of `waitForRequest`, checked on every new request. */
  const requestListeners = new Set<(req: RecordedRequest) => void>()
  const sockets = new Set<Socket>()
  const timers = new Set<NodeJS.Timeout>()
  let activeWaits = 0
  let closed = false
  let baseUrl = ''

  const matches = (match: RequestMatcher, req: RecordedRequest): boolean =>
    typeof match === 'function' ? match(req) : match === 'any' || match === req.route

  const later = (ms: number, fn: () => void): NodeJS.Timeout => {
    const timer = setTimeout(() => {
      timers.delete(timer)
      fn()
    }, ms)
    timers.add(timer)
    return timer
  }

  const wake = (id: string): void => {
    const set = waiters.get(id)
    if (!set) return
    waiters.delete(id)
    for (const fn of set) fn()
  }

  const send = (res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void => {
    if (res.writableEnded || res.destroyed || res.socket?.destroyed) return
    const text = body === undefined ? '' : JSON.stringify(body)
    res.writeHead(status, { 'content-type': 'application/json; charset=utf-8', 'content-length': Buffer.byteLength(text), ...headers })
    res.end(text)
  }

  const newApproval = (fields: Partial<ScriptedApproval>): ScriptedApproval => {
    const now = Date.now()
    const id = fields.id ?? `apr_${randomBytes(12).toString('hex')}`
    const approval: ScriptedApproval = {
      id,
      status: 'pending',
      action: 'test_action',
      context: {},
      agent: null,
      reason: null,
      decided_by: null,
      decided_at: null,
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + defaultExpiryMs).toISOString(),
      url: `${baseUrl}/approvals/${encodeURIComponent(id)}`,
      idempotency_key: null,
      required_approvals: 1,
      votes: [],
      policy: null,
      ...fields,
    }
    approvals.set(id, approval)
    return approval
  }

  /** The record as the API shows it (the idempotency key stays server-side). */
  const publicView = (approval: ScriptedApproval): Omit<ScriptedApproval, 'idempotency_key'> => {
    const { idempotency_key: _hidden, ...rest } = approval
    return rest
  }

  const applyDecision = (approval: ScriptedApproval, status: string, reason: string | null, by: string): void => {
    approval.status = status
    approval.reason = reason
    approval.decided_by = by
    approval.decided_at = new Date().toISOString()
    // Without a policy the one decision is the one vote that settles it, as on the real server.
    if (status === 'approved' || status === 'rejected') {
      approval.votes = [...approval.votes, { by, decision: status === 'approved' ? 'approve' : 'reject', reason, at: approval.decided_at, groups: ['approvers'] }]
    }
    wake(approval.id)
  }

  const classify = (method: string, path: string): { route: RouteName; approvalId?: string } => {
    const parts = path.split('/').filter(Boolean)
    if (parts[0] !== 'v1' || parts[1] !== 'approvals') return { route: 'unknown' }
    if (parts.length === 2) return { route: method === 'POST' ? 'create' : method === 'GET' ? 'list' : 'unknown' }
    let approvalId: string
    try {
      approvalId = decodeURIComponent(parts[2])
    } catch {
      return { route: 'unknown' }
    }
    if (parts.length === 3 && method === 'GET') return { route: 'get', approvalId }
    if (parts.length === 4 && method === 'POST' && parts[3] === 'decision') return { route: 'decision', approvalId }
    if (parts.length === 4 && method === 'POST' && parts[3] === 'cancel') return { route: 'cancel', approvalId }
    return { route: 'unknown', approvalId }
  }

  /** The contract's normal behaviour, once faults are out of the way. */
  const serve = (req: RecordedRequest, res: ServerResponse, ignoreWait: boolean): void => {
    if (apiKey !== null && req.headers.authorization !== `Bearer ${apiKey}`) {
      send(res, 401, errorBody('unauthorized', 'missing or invalid API key'))
      return
    }
    const body = (req.json ?? {}) as Record<string, unknown>
    const isObject = typeof req.json === 'object' && req.json !== null && !Array.isArray(req.json)
    switch (req.route) {
      case 'create': {
        if (!isObject || typeof body.action !== 'string' || body.action.length === 0) {
          send(res, 400, errorBody('bad_request', 'body must be a JSON object with a non-empty "action"'))
          return
        }
        const key = req.headers['idempotency-key']
        const idemKey = typeof key === 'string' && key.length > 0 ? key : null
        const existing = idemKey ? approvals.get(idByIdempotencyKey.get(idemKey) ?? '') : undefined
        // As the real server: the key is bound to the request it first came with.
        const fingerprint = JSON.stringify([body.action, body.context ?? {}, body.agent ?? null, body.timeout_ms ?? null])
        if (existing && fingerprintByIdempotencyKey.get(idemKey as string) !== fingerprint) {
          send(res, 422, errorBody('idempotency_key_reused', 'this Idempotency-Key was used for a different request'))
          return
        }
        if (existing) {
          send(res, 200, publicView(existing))
          return
        }
        const timeoutMs = typeof body.timeout_ms === 'number' && body.timeout_ms > 0 ? body.timeout_ms : defaultExpiryMs
        const approval = newApproval({
          action: body.action,
          context: typeof body.context === 'object' && body.context !== null ? (body.context as Record<string, unknown>) : {},
          agent: typeof body.agent === 'string' ? body.agent : null,
          expires_at: new Date(Date.now() + timeoutMs).toISOString(),
          idempotency_key: idemKey,
        })
        if (idemKey) {
          idByIdempotencyKey.set(idemKey, approval.id)
          fingerprintByIdempotencyKey.set(idemKey, fingerprint)
        }
        send(res, 201, publicView(approval))
        return
      }
      case 'get': {
        const approval = approvals.get(req.approvalId ?? '')
        if (!approval) {
          send(res, 404, errorBody('not_found', 'no such approval'))
          return
        }
        const waitParam = req.query.wait
        if (waitParam === undefined || approval.status !== 'pending' || ignoreWait || !honourWait) {
          send(res, 200, publicView(approval))
          return
        }
        const waitSeconds = Number(waitParam)
        if (!Number.isFinite(waitSeconds) || waitSeconds <= 0 || waitSeconds > MAX_WAIT_SECONDS) {
          send(res, 400, errorBody('bad_request', `wait must be a number of seconds in (0, ${MAX_WAIT_SECONDS}]`))
          return
        }
        holdLongPoll(approval, waitSeconds * 1000, res)
        return
      }
      case 'decision': {
        const approval = approvals.get(req.approvalId ?? '')
        if (!approval) {
          send(res, 404, errorBody('not_found', 'no such approval'))
          return
        }
        if (!isObject || (body.decision !== 'approve' && body.decision !== 'reject')) {
          send(res, 400, errorBody('bad_request', 'decision must be "approve" or "reject"'))
          return
        }
        if (approval.status !== 'pending') {
          send(res, 409, { ...errorBody('conflict', `approval is already ${approval.status}`), approval: publicView(approval) })
          return
        }
        applyDecision(approval, body.decision === 'approve' ? 'approved' : 'rejected', typeof body.reason === 'string' ? body.reason : null, keyLabel)
        send(res, 200, publicView(approval))
        return
      }
      case 'cancel': {
        const approval = approvals.get(req.approvalId ?? '')
        if (!approval) {
          send(res, 404, errorBody('not_found', 'no such approval'))
          return
        }
        if (approval.status !== 'pending') {
          send(res, 409, { ...errorBody('conflict', `approval is already ${approval.status}`), approval: publicView(approval) })
          return
        }
        // A requester that says its deadline passed (`timed_out`) ends it `expired`, as the real server does.
        applyDecision(approval, body.timed_out === true ? 'expired' : 'cancelled', typeof body.reason === 'string' ? body.reason : null, keyLabel)
        send(res, 200, publicView(approval))
        return
      }
      case 'list': {
        const { status, action, agent, decided_by: decidedBy } = req.query
        const all = [...approvals.values()]
          .reverse() // insertion order is creation order: newest first
          .filter((a) => (status === undefined || a.status === status) && (action === undefined || a.action === action))
          .filter((a) => (agent === undefined || a.agent === agent) && (decidedBy === undefined || a.decided_by === decidedBy))
        const start = Number(req.query.cursor ?? 0) || 0
        const limit = Math.min(Math.max(Number(req.query.limit ?? 50) || 50, 1), 200)
        const items = all.slice(start, start + limit).map(publicView)
        send(res, 200, { items, next_cursor: start + limit < all.length ? String(start + limit) : null })
        return
      }
      default:
        send(res, 404, errorBody('not_found', `no route ${req.method} ${req.path}`))
    }
  }

  const holdLongPoll = (approval: ScriptedApproval, ms: number, res: ServerResponse): void => {
    activeWaits++
    let done = false
    const finish = (): void => {
      if (done) return
      done = true
      activeWaits--
      clearTimeout(timer)
      timers.delete(timer)
      waiters.get(approval.id)?.delete(onChange)
      res.off('close', finish)
      send(res, 200, publicView(approval))
    }
    const onChange = (): void => finish()
    const timer = later(ms, finish)
    const set = waiters.get(approval.id) ?? new Set()
    set.add(onChange)
    waiters.set(approval.id, set)
    // The client went away: stop holding (send() is a no-op on a destroyed response).
    res.on('close', finish)
  }

  const handle = async (incoming: IncomingMessage, res: ServerResponse): Promise<void> => {
    const chunks: Buffer[] = []
    let size = 0
    for await (const chunk of incoming as AsyncIterable<Buffer>) {
      size += chunk.length
      if (size > MAX_BODY_BYTES) {
        send(res, 413, errorBody('too_large', 'body too large'))
        return
      }
      chunks.push(chunk)
    }
    if (closed) return
    const body = Buffer.concat(chunks).toString('utf8')
    const parsedUrl = new URL(incoming.url ?? '/', 'http://scripted.invalid')
    const method = incoming.method ?? 'GET'
    const { route, approvalId } = classify(method, parsedUrl.pathname)
    let json: unknown
    try {
      json = body.length > 0 ? JSON.parse(body) : undefined
    } catch {
      json = undefined
    }
    const recorded: RecordedRequest = {
      index: requests.length,
      route,
      method,
      path: (incoming.url ?? '/').split('?')[0],
      approvalId,
      query: Object.fromEntries(parsedUrl.searchParams),
      headers: incoming.headers,
      body,
      json,
      receivedAt: Date.now(),
    }
    requests.push(recorded)
    for (const listener of [...requestListeners]) listener(recorded)

    const queued = queue.findIndex((entry) => matches(entry.match, recorded))
    const fault = queued >= 0 ? queue.splice(queued, 1)[0].fault : undefined
    switch (fault?.kind) {
      case undefined:
        serve(recorded, res, false)
        return
      case 'reply': {
        if (fault.rawBody !== undefined) {
          res.writeHead(fault.status, { 'content-length': Buffer.byteLength(fault.rawBody), ...fault.headers })
          res.end(fault.rawBody)
        } else send(res, fault.status, fault.body, fault.headers)
        return
      }
      case 'hang':
        return
      case 'drop':
        incoming.socket.destroy()
        return
      case 'delay':
        later(fault.ms, () => serve(recorded, res, false))
        return
      case 'ignoreWait':
        serve(recorded, res, true)
        return
      case 'loseAnswer':
        incoming.socket.destroy()
        serve(recorded, res, true)
        return
      case 'handle':
        fault.handler(recorded, res)
        return
    }
  }

  const server: Server = createServer((incoming, res) => {
    handle(incoming, res).catch((error: unknown) => {
      if (!res.headersSent) send(res, 500, errorBody('internal', String(error)))
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  const listen = (port: number): Promise<void> =>
    new Promise((resolve, reject) => {
      server.once('error', reject)
      server.listen(port, '127.0.0.1', () => {
        server.off('error', reject)
        resolve()
      })
    })

  const stopListening = async (): Promise<void> => {
    if (!server.listening) return
    const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
    for (const socket of sockets) socket.destroy()
    await stopped
  }

  await listen(0)
  const port = (server.address() as AddressInfo).port
  baseUrl = `http://127.0.0.1:${port}`

  return {
    url: baseUrl,
    port,
    apiKey,
    requests,
    approvals,
    get activeWaits() {
      return activeWaits
    },
    script(match, ...faults) {
      for (const fault of faults) queue.push({ match, fault })
    },
    pendingFaults: () => queue.length,
    setHonourWait(honour) {
      honourWait = honour
    },
    decide(id, decision, reason, decidedBy = 'alice@example.com') {
      const approval = approvals.get(id)
      if (!approval) throw new Error(`scripted server: no approval ${id}`)
      if (approval.status !== 'pending') throw new Error(`scripted server: approval ${id} is already ${approval.status}`)
      applyDecision(approval, decision === 'approve' ? 'approved' : 'rejected', reason ?? null, decidedBy)
      return approval
    },
    setStatus(id, status, fields = {}) {
      const approval = approvals.get(id)
      if (!approval) throw new Error(`scripted server: no approval ${id}`)
      Object.assign(approval, fields, { status })
      wake(id)
      return approval
    },
    addApproval: (fields = {}) => newApproval(fields),
    requestsTo: (match) => requests.filter((req) => matches(match, req)),
    waitForRequest(match, { fromIndex = 0, timeoutMs = 10_000 } = {}) {
      const seen = requests.find((req) => req.index >= fromIndex && matches(match, req))
      if (seen) return Promise.resolve(seen)
      return new Promise((resolve, reject) => {
        const timer = later(timeoutMs, () => {
          requestListeners.delete(listener)
          reject(new Error(`scripted server: no matching request within ${timeoutMs} ms`))
        })
        const listener = (req: RecordedRequest): void => {
          if (req.index < fromIndex || !matches(match, req)) return
          requestListeners.delete(listener)
          clearTimeout(timer)
          timers.delete(timer)
          resolve(req)
        }
        requestListeners.add(listener)
      })
    },
    pause: stopListening,
    resume: () => listen(port),
    async close() {
      closed = true
      for (const timer of timers) clearTimeout(timer)
      timers.clear()
      waiters.clear()
      requestListeners.clear()
      await stopListening()
    },
  }
}
