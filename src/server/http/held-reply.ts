/**
 * Answering a request after Fastify has let go of it. A held long-poll waits up to a minute;
 * for that long Fastify's Request and Reply, the route handler's suspended call and its
 * promises would cost ~2 KB per waiter (docs/benchmarks.md, "Memory per waiting gate"). So the
 * route hijacks the reply and keeps only a `HeldReply`: the raw response (its request's
 * headers dropped), its request id and start time. The answer goes out with the status,
 * headers, body bytes and log line Fastify would have produced: the route's compiled response
 * serialisers, `errorAnswer`, `commonResponseHeaders` (what the app's `onSend` hook adds) and
 * `logAnswered`. Other `onSend`/`onResponse` hooks do not run for a held answer: the API scope
 * has none.
 */
import type { IncomingMessage, ServerResponse } from 'node:http'
import type { FastifyBaseLogger, FastifyReply, FastifyRequest } from 'fastify'
import { errorAnswer } from './errors.js'
import { logAnswered } from './request-log.js'
import { commonResponseHeaders } from './response-headers.js'

type Serialize = (payload: unknown) => string

/** One route's way of answering held requests: its serialisers and the app's logger, shared by all of them. */
export class HeldReplies {
  private serializers: Map<string, Serialize> | null = null

  constructor(private readonly log: FastifyBaseLogger) {}

  /**
   * Takes the response away from Fastify. After this the handler must return without
   * touching `reply`, and the caller answers through the returned `HeldReply`.
   */
  hold(request: FastifyRequest, reply: FastifyReply): HeldReply {
    this.serializers ??= routeSerializers(reply)
    const started = performance.now() - reply.elapsedTime
    void reply.hijack()
    releaseFastifyListeners(reply.raw)
    releaseHeaders(reply.raw.req)
    return new HeldReply(this, reply.raw, request.id, started)
  }

  /** @internal the serialiser Fastify would use for `status`: the exact status's, else its class's (`4xx`), else plain JSON. */
  serializerFor(status: number): Serialize {
    const serializers = this.serializers!
    return serializers.get(String(status)) ?? serializers.get(`${String(status)[0]}xx`) ?? JSON.stringify
  }

  /** @internal the request's logger, made when it is needed (Fastify's binds the request id the same way). */
  logOf(reqId: string): FastifyBaseLogger {
    return this.log.child({ reqId })
  }
}

/** A response held outside Fastify, answered once. */
export class HeldReply {
  constructor(
    private readonly replies: HeldReplies,
    private readonly raw: ServerResponse,
    private readonly reqId: string,
    private readonly started: number,
  ) {}

  /** Answers `status` with `payload` serialised as the route's schema says. */
  send(status: number, payload: unknown, headers: Readonly<Record<string, string>> = {}): void {
    if (this.raw.headersSent || this.raw.destroyed) return
    const body = this.replies.serializerFor(status)(payload)
    const url = this.raw.req.url ?? ''
    // Fastify's order: headers set before sending, content-type, the onSend hook's, content-length.
    this.raw.writeHead(status, {
      ...headers,
      'content-type': 'application/json; charset=utf-8',
      ...commonResponseHeaders(url),
      'content-length': String(Buffer.byteLength(body)),
    })
    this.raw.end(body)
    logAnswered(this.replies.logOf(this.reqId), this.raw.req.method ?? 'GET', url, status, performance.now() - this.started)
  }

  /** Answers `error` the way the app's error handler does. */
  fail(error: Error): void {
    const { status, headers, body } = errorAnswer(error)
    if (status >= 500) this.replies.logOf(this.reqId).error({ err: error }, 'request failed')
    this.send(status, body, headers)
  }
}

/** The route's compiled response serialisers by schema key (`200`, `4xx`), looked up while a reply exists. */
function routeSerializers(reply: FastifyReply): Map<string, Serialize> {
  const found = new Map<string, Serialize>()
  for (const key of Object.keys(reply.routeOptions.schema?.response ?? {})) {
    const serialize = reply.getSerializationFunction(key) as Serialize | undefined
    if (typeof serialize === 'function') found.set(key, serialize)
  }
  return found
}

/**
 * The request's headers are read by the time a wait is held, and answering needs only its
 * method and URL: Node would keep them (the bearer key among them) for the whole wait.
 */
function releaseHeaders(request: IncomingMessage): void {
  request.headers = {}
  request.rawHeaders = []
}

/**
 * Fastify's end-of-response listener (set when logging or `onResponse` hooks are on) keeps the
 * Reply, and through it the Request, until the response finishes: the held answer logs itself,
 * so the listener goes.
 */
function releaseFastifyListeners(raw: ServerResponse): void {
  for (const event of ['finish', 'error'] as const) {
    for (const listener of raw.listeners(event)) {
      if (listener.name === 'onResFinished') raw.removeListener(event, listener as (...args: unknown[]) => void)
    }
  }
}
