/**
 * `/v1/audit`: the project's hash-chained audit trail — filtered list, streamed export
 * (NDJSON or CSV) and chain verification.
 */
import { Readable } from 'node:stream'
import type { FastifyInstance } from 'fastify'
import { AUDIT_CONTENT_TYPES, AUDIT_EXPORT_FORMATS, auditExportLines, type AuditExportFormat } from '../audit/audit-export.js'
import { callerOf } from './auth.js'
import { errorResponseSchema } from './wire.js'
import type { AuditEventType, AuditFilter, Store } from '../store/types.js'

const OUTCOMES: AuditEventType[] = ['created', 'approved', 'rejected', 'timed_out', 'cancelled']

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
    approval_id: { type: 'string' },
    action: { type: 'string' },
    agent: { type: ['string', 'null'] },
    actor: { type: 'string' },
    reason: { type: ['string', 'null'] },
    at: { type: 'string' },
    prev_hash: { type: 'string' },
    hash: { type: 'string' },
  },
} as const

const errors = { '4xx': errorResponseSchema }

export async function auditRoutes(app: FastifyInstance, options: { store: Store }): Promise<void> {
  const { store } = options

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

  app.get(
    '/audit/verify',
    {
      config: { scopes: ['decide'] },
      schema: {
        response: {
          200: {
            type: 'object',
            properties: {
              ok: { type: 'boolean' },
              events: { type: 'integer' },
              head: { type: 'string' },
              seq: { type: 'integer' },
              problem: { type: 'string' },
            },
          },
          ...errors,
        },
      },
    },
    async (request) => store.verifyAudit(callerOf(request).project.id),
  )
}
