/**
 * Request logs: one line per answered request at `info` (`/healthz` at `debug`, so a load
 * balancer's probes stay out of an info log), never headers or the query string; errors
 * as Fastify logs them. A held long-poll answered outside Fastify logs the same line.
 */
import { LogController, type FastifyBaseLogger, type FastifyReply, type FastifyRequest } from 'fastify'

export class OneLineRequestLog extends LogController {
  override incomingRequest(): void {}

  override requestCompleted(error: Error | null | undefined, request: FastifyRequest, reply: FastifyReply): void {
    if (error) return super.requestCompleted(error, request, reply)
    logAnswered(reply.log, request.method, request.url, reply.statusCode, reply.elapsedTime)
  }
}

/** The one line for an answered request. */
export function logAnswered(log: FastifyBaseLogger, method: string, url: string, status: number, elapsedMs: number): void {
  const path = url.split('?')[0].slice(0, 200)
  const fields = { method, path, status, ms: Math.round(elapsedMs) }
  const message = `${method} ${path} ${status}`
  if (path === '/healthz') log.debug(fields, message)
  else log.info(fields, message)
}
