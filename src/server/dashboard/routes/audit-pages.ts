/** The Audit Trail page and its exports (NDJSON, CSV), authorised by the dashboard session. */
import { Readable } from 'node:stream'
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { AUDIT_CONTENT_TYPES, auditExportLines, type AuditExportFormat } from '../../audit/audit-export.js'
import type { AuditEventType, AuditFilter } from '../../store/types.js'
import { auditPage, OUTCOMES, type AuditFilterForm } from '../views/audit-view.js'
import { requireViewer, sendPage, type DashboardDeps } from './common.js'

const PAGE_SIZE = 50
const DATE = /^\d{4}-\d{2}-\d{2}$/
const MAX_FILTER_CHARS = 200

/** Reads the filter form from the query string; `error` names the first unusable value. */
export function readAuditFilters(query: Record<string, unknown>): { form: AuditFilterForm; filter: Omit<AuditFilter, 'cursor' | 'limit'>; error?: string } {
  const value = (name: string) => {
    const v = query[name]
    return typeof v === 'string' ? v.trim().slice(0, MAX_FILTER_CHARS) : ''
  }
  const form: AuditFilterForm = { action: value('action'), agent: value('agent'), approver: value('approver'), outcome: value('outcome'), from: value('from'), to: value('to') }
  const filter: Omit<AuditFilter, 'cursor' | 'limit'> = {}
  if (form.action) filter.action = form.action
  if (form.agent) filter.agent = form.agent
  if (form.approver) filter.approver = form.approver
  let error: string | undefined
  if (form.outcome) {
    if ((OUTCOMES as readonly string[]).includes(form.outcome)) filter.outcome = form.outcome as AuditEventType
    else error = `Unknown outcome: choose one of ${OUTCOMES.join(', ')}.`
  }
  for (const bound of ['from', 'to'] as const) {
    const text = form[bound]
    if (!text) continue
    if (!DATE.test(text) || Number.isNaN(Date.parse(`${text}T00:00:00Z`))) {
      error ??= `"${bound}" must be a date like 2025-01-31.`
      continue
    }
    // Dates are whole UTC days, both ends inclusive.
    filter[bound] = bound === 'from' ? `${text}T00:00:00.000Z` : `${text}T23:59:59.999Z`
  }
  return { form, filter, error }
}

function exportFileName(projectName: string, extension: string): string {
  const safe = projectName.replace(/[^A-Za-z0-9._-]+/g, '-').slice(0, 60) || 'project'
  return `audit-${safe}.${extension}`
}

export function registerAuditRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  app.get('/audit', async (request, reply) => {
    const viewer = await requireViewer(deps, request, reply)
    if (!viewer) return reply
    const query = request.query as Record<string, unknown>
    const { form, filter, error } = readAuditFilters(query)
    const cursor = typeof query.cursor === 'string' && query.cursor.length < 500 ? query.cursor : undefined
    const [page, verification] = await Promise.all([
      error ? Promise.resolve({ items: [], next_cursor: null }) : deps.store.listAudit(viewer.project.id, { ...filter, cursor, limit: PAGE_SIZE }),
      deps.auditVerifications.verification(viewer.project.id),
    ])
    return sendPage(deps, reply, error ? 400 : 200, {
      title: 'Audit trail',
      viewer,
      section: 'audit',
      wide: true,
      main: auditPage({ filters: form, events: page.items, nextCursor: page.next_cursor, isFirstPage: !cursor, verification, now: deps.auditVerifications.now(), error }),
    })
  })

  const exportRoute = (format: AuditExportFormat) => async (request: FastifyRequest, reply: FastifyReply) => {
    const viewer = await requireViewer(deps, request, reply)
    if (!viewer) return reply
    const { filter, error } = readAuditFilters(request.query as Record<string, unknown>)
    if (error) return reply.code(400).type('text/plain; charset=utf-8').send(error)
    reply.type(AUDIT_CONTENT_TYPES[format]).header('content-disposition', `attachment; filename="${exportFileName(viewer.project.name, format)}"`)
    return reply.send(Readable.from(auditExportLines(deps.store.exportAudit(viewer.project.id, filter), format)))
  }
  app.get('/audit/export.ndjson', exportRoute('ndjson'))
  app.get('/audit/export.csv', exportRoute('csv'))
}
