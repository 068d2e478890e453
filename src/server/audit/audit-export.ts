/**
 * Audit trail export as NDJSON or CSV, shared by `GET /v1/audit/export` and
 * `approval-gate audit export`. CSV cells are quoted when needed and made safe to open in a
 * spreadsheet: a cell that starts like a formula gets a leading `'` (CSV injection).
 */
import type { AuditEvent } from '../store/types.js'

export type AuditExportFormat = 'ndjson' | 'csv'

export const AUDIT_EXPORT_FORMATS: readonly AuditExportFormat[] = ['ndjson', 'csv']

/** Column order of the CSV export (every field of an event). */
export const AUDIT_CSV_COLUMNS = ['seq', 'at', 'type', 'approval_id', 'action', 'agent', 'actor', 'reason', 'prev_hash', 'hash'] as const

export const AUDIT_CONTENT_TYPES: Record<AuditExportFormat, string> = {
  ndjson: 'application/x-ndjson; charset=utf-8',
  csv: 'text/csv; charset=utf-8',
}

/** The export as text chunks: one line per event (CSV starts with a header line). */
export async function* auditExportLines(events: AsyncIterable<AuditEvent>, format: AuditExportFormat): AsyncGenerator<string> {
  if (format === 'csv') yield `${AUDIT_CSV_COLUMNS.join(',')}\r\n`
  for await (const event of events) {
    yield format === 'csv' ? `${AUDIT_CSV_COLUMNS.map((column) => csvCell(event[column])).join(',')}\r\n` : `${JSON.stringify(event)}\n`
  }
}

/** Characters that make spreadsheets treat a cell as a formula (OWASP CSV injection list). */
const FORMULA_START = /^[=+\-@\t\r]/

/** One CSV cell: formula-safe, quoted when it holds a comma, quote or line break. */
export function csvCell(value: unknown): string {
  if (value === null || value === undefined) return ''
  let text = String(value)
  if (FORMULA_START.test(text)) text = `'${text}`
  return /[",\r\n]/.test(text) ? `"${text.replace(/"/g, '""')}"` : text
}
