/**
 * `/v1/audit`: the project's hash-chained audit trail — filtered list, streamed export
 * (NDJSON or CSV) and chain verification.
 */
import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { AUDIT_CONTENT_TYPES, AUDIT_EXPORT_FORMATS, auditExportLines, type AuditExportFormat } from '../audit/audit-export.js'
import { callerOf } from './auth.js'
import { ApiError } from './errors.js'
import { errorResponseSchema } from './wire.js'
import type { AuditEventType, AuditFilter, Store } from '../store/types.js'

const OUTCOMES: AuditEventType[] = ['created', 'vote_approve', 'vote_reject', 'approved', 'rejected', 'timed_out', 'cancelled']

const filterProperties = {
  action: { type: 'string', maxLength: 200 },
  agent: { type: 'string', maxLength: 200 },
  approver: { type: 'string', maxLength: 320 },
  outcome: { type: 'string', enum: OUTCOMES },
  from: { type: 'string', format: 'date-time' },
  to: { type: 'string', format: 'date-time' },
} as const

const auditEventSchema = {
  type: 'object',
  properties: {
    seq: { type: 'integer' },
    type: { type: 'string' },
    approval_id: { type: ['string', 'null'] },
    action: { type: 'string' },
    agent: { type: ['string', 'null'] },
    actor: { type: 'string' },
    reason: { type: ['string', 'null'] },
    at: { type: 'string' },
    context_hash: { type: ['string', 'null'] },
    claims_hash: { type: ['string', 'null'] },
    prev_hash: { type: 'string' },
    hash: { type: 'string' },
    prev_mac: { type: ['string', 'null'] },
    mac: { type: ['string', 'null'] },
    sealed_at: { type: ['string', 'null'] },
  },
} as const

const errors = { '4xx': errorResponseSchema }

/** Verifications each API key may start per window, and the window. */
export const VERIFY_LIMIT = { perKey: 10, windowMs: 60_000 }

/**
 * Per-key limit of `GET /audit/verify`: one in flight at a time and `perKey` per window, so
 * nobody can keep the server busy re-verifying (each one reads the whole approvals table).
 */
export class VerifyLimiter {
  private readonly started = new Map<string, number[]>()
  private readonly running = new Set<string>()

  constructor(
    private readonly limit = VERIFY_LIMIT,
    private readonly now: () => number = Date.now,
  ) {}

  /** Seconds to wait before trying again, or 0 when `key` may start one now (and it is counted). */
  tryStart(key: string): number {
    if (this.running.has(key)) return 1
    const now = this.now()
    const recent = (this.started.get(key) ?? []).filter((at) => now - at < this.limit.windowMs)
    if (recent.length >= this.limit.perKey) return Math.max(1, Math.ceil((recent[0] + this.limit.windowMs - now) / 1000))
    recent.push(now)
    this.started.set(key, recent)
    this.running.add(key)
    return 0
  }

  finish(key: string): void {
    this.running.delete(key)
  }
}

/** Registers `/audit`, `/audit/export` and `/audit/verify`, each readable by decide keys. */
export async function auditRoutes(app: FastifyInstance, options: { store: Store; verifyLimit?: typeof VERIFY_LIMIT }): Promise<void> {
  const limiter = new VerifyLimiter(options.verifyLimit ?? VERIFY_LIMIT)
  listAuditRoute(app, options.store)
  exportAuditRoute(app, options.store)
  verifyAuditRoute(app, options.store, limiter)
}

const verificationSchema = {
  type: 'object',
  properties: {
    ok: { type: 'boolean' },
    events: { type: 'integer' },
    head: { type: 'string' },
    seq: { type: 'integer' },
    problem: { type: 'string' },
    legacy_events: { type: 'integer' },
    approval_id: { type: 'string' },
    detail: { type: 'string' },
  },
} as const

function listAuditRoute(app: FastifyInstance, store: Store): void {
  app.get<{ Querystring: AuditFilter }>(
    '/audit',
    {
      config: { scopes: ['decide'] },
      schema: {
        querystring: {
          type: 'object',
          properties: { ...filterProperties, cursor: { type: 'string', maxLength: 200 }, limit: { type: 'integer', minimum: 1, maximum: 200 } },
        },
        response: {
          200: { type: 'object', properties: { items: { type: 'array', items: auditEventSchema }, next_cursor: { type: ['string', 'null'] } } },
          ...errors,
        },
      },
    },
    async (request) => store.listAudit(callerOf(request).project.id, request.query),
  )
}

function exportAuditRoute(app: FastifyInstance, store: Store): void {
  app.get<{ Querystring: Omit<AuditFilter, 'cursor' | 'limit'> & { format?: AuditExportFormat } }>(
    '/audit/export',
    {
      config: { scopes: ['decide'] },
      schema: {
        querystring: { type: 'object', properties: { ...filterProperties, format: { type: 'string', enum: AUDIT_EXPORT_FORMATS } } },
        response: errors,
      },
    },
    async (request, reply) => {
      const { project } = callerOf(request)
      const { format = 'ndjson', ...filter } = request.query
      const events = store.exportAudit(project.id, filter)
      const extension = format === 'csv' ? 'csv' : 'ndjson'
      return reply
        .type(AUDIT_CONTENT_TYPES[format])
        .header('content-disposition', `attachment; filename="audit-${project.name.replace(/[^A-Za-z0-9._-]/g, '_')}.${extension}"`)
        .send(Readable.from(auditExportLines(events, format)))
    },
  )
}

function verifyAuditRoute(app: FastifyInstance, store: Store, limiter: VerifyLimiter): void {
  app.get<{ Querystring: { full?: boolean } }>(
    '/audit/verify',
    {
      config: { scopes: ['decide'] },
      schema: {
        querystring: { type: 'object', properties: { full: { type: 'boolean' } } },
        response: { 200: verificationSchema, ...errors },
      },
    },
    // Incremental from the last verified event (`?full=true` re-verifies all), in chunks that
    // yield to the event loop, one at a time per key.
    async (request, reply) => {
      const caller = callerOf(request)
      const wait = limiter.tryStart(caller.limitKey)
      if (wait > 0) {
        reply.header('retry-after', String(wait))
        throw new ApiError(429, 'rate_limited', `this API key verifies the audit trail too often; retry in ${wait} s`)
      }
      try {
        return await store.verifyAudit(caller.project.id, { full: request.query.full === true })
      } finally {
        limiter.finish(caller.limitKey)
      }
    },
  )
}
