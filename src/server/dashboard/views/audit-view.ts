/** The Audit Trail: filter form, chain status, events table, pagination and export links. */
import type { AuditEvent } from '../../store/types.js'
import type { TimedVerification } from '../audit-verification-cache.js'
import { html, type SafeHtml } from '../html.js'
import { breakable, sinceTag, statusBadge, timeTag } from './format.js'

/** Filter values exactly as typed in the form (validated separately). */
export interface AuditFilterForm {
  action: string
  agent: string
  approver: string
  outcome: string
  from: string
  to: string
}

export const OUTCOMES = ['created', 'vote_approve', 'vote_reject', 'approved', 'rejected', 'timed_out', 'cancelled'] as const
const OUTCOME_LABELS: Record<string, string> = {
  created: 'Requested',
  vote_approve: 'Voted to approve',
  vote_reject: 'Voted to reject',
  approved: 'Approved',
  rejected: 'Rejected',
  timed_out: 'Timed out',
  cancelled: 'Cancelled',
}

/** Query string of the active filters (no cursor), for pagination and export links. */
export function filterQuery(filters: AuditFilterForm): string {
  const params = new URLSearchParams()
  for (const [name, value] of Object.entries(filters)) if (value) params.set(name, value)
  return params.toString()
}

function verifyStatus({ result, verifiedAt }: TimedVerification, now: number): SafeHtml {
  // Verifications are reused for a while (see AuditVerificationCache), so say how old this one is.
  const age = html` <span class="muted">(verified ${sinceTag(new Date(verifiedAt).toISOString(), now)} ago)</span>`
  if (result.ok) {
    return html`<p class="chain chain-ok" role="status"><span class="badge badge-approved">Verified</span> Hash chain intact: ${String(result.events)} events, head <code>${result.head.slice(0, 16)}</code>${age}</p>`
  }
  const problems: Record<string, string> = {
    hash_mismatch: 'was edited after it was written',
    broken_link: 'does not link to the event before it',
    missing_event: 'is missing (deleted)',
    mac_mismatch: 'was changed without the audit key (edited or forged)',
  }
  if (result.problem === 'approval_mismatch') {
    return html`<p class="chain chain-broken" role="alert"><span class="badge badge-rejected">Tampered</span> Approval <code>${result.approval_id}</code> disagrees with its audit events: ${result.detail}.${age}</p>`
  }
  return html`<p class="chain chain-broken" role="alert"><span class="badge badge-rejected">Tampered</span> Hash chain broken: event #${String(result.seq)} ${problems[result.problem] ?? result.problem}.${age}</p>`
}

function filterForm(filters: AuditFilterForm): SafeHtml {
  const field = (name: keyof AuditFilterForm, label: string, type = 'text', placeholder = '') =>
    html`<div class="field"><label for="f-${name}">${label}</label><input id="f-${name}" name="${name}" type="${type}" value="${filters[name]}" placeholder="${placeholder}"></div>`
  const active = (Object.keys(filters) as Array<keyof AuditFilterForm>).filter((name) => filters[name] !== '').length
  // A <details> so the form folds away on a phone without any script; it opens by itself when
  // filters are set. Wider screens always show the form (CSS, `::details-content`).
  return html`<details class="filter-box"${active > 0 ? html` open` : ''}>
<summary>Filters${active > 0 ? ` (${active} active)` : ''}</summary>
<form method="get" action="/audit" class="filters" aria-label="Filter the audit trail">
${field('action', 'Action', 'text', 'production_deploy')}
${field('agent', 'Agent')}
${field('approver', 'Approver', 'text', 'email or key:name')}
<div class="field"><label for="f-outcome">Outcome</label><select id="f-outcome" name="outcome"><option value="">Any</option>${OUTCOMES.map(
    (o) => html`<option value="${o}"${filters.outcome === o ? html` selected` : ''}>${OUTCOME_LABELS[o]}</option>`,
  )}</select></div>
${field('from', 'From (UTC date)', 'date')}
${field('to', 'To (UTC date)', 'date')}
<div class="field field-buttons"><button type="submit" class="btn btn-primary">Filter</button> <a href="/audit" class="btn btn-quiet">Clear</a></div>
</form>
</details>`
}

/**
 * One event. Each cell carries its column name (`data-label`), shown beside the value when
 * narrow screens lay rows out as cards. The approval id is shown in full in the markup (so
 * selecting and copying it copies all of it) and shortened by CSS, with the full id on hover.
 */
function eventRow(event: AuditEvent): SafeHtml {
  const id = event.approval_id
  return html`<tr>
<td class="num" data-label="#">${String(event.seq)}</td>
<td class="time" data-label="Time">${timeTag(event.at)}</td>
<td class="event" data-label="Event">${statusBadge(event.type)}</td>
<td class="name" data-label="Action">${breakable(event.action)}</td>
<td class="id" data-label="Approval">${id ? html`<a href="/approvals/${id}" title="${id}"><code class="short-id">${id}</code></a>` : html`<span class="muted">admin</span>`}</td>
<td class="name" data-label="Agent">${event.agent === null ? html`<span class="muted">—</span>` : breakable(event.agent)}</td>
<td class="name" data-label="By">${breakable(event.actor)}</td>
<td class="reason" data-label="Reason">${event.reason ?? ''}</td>
</tr>`
}

export function auditPage(input: {
  filters: AuditFilterForm
  events: AuditEvent[]
  nextCursor: string | null
  isFirstPage: boolean
  verification: TimedVerification
  /** The clock the verification age is measured against (epoch ms); default now. */
  now?: number
  error?: string
}): SafeHtml {
  const query = filterQuery(input.filters)
  const withQuery = (path: string, extra?: string) => {
    const parts = [query, extra].filter(Boolean).join('&')
    return parts ? `${path}?${parts}` : path
  }
  return html`<div class="page-head"><h1>Audit trail</h1>
<p class="muted">Every request and its outcome, and every change to members, keys and settings, append-only and hash-chained.</p></div>
${verifyStatus(input.verification, input.now ?? Date.now())}
${filterForm(input.filters)}
${input.error ? html`<div class="notice notice-error" role="alert">${input.error}</div>` : ''}
<p class="exports">Export ${query ? 'these results' : 'everything'}: <a href="${withQuery('/audit/export.ndjson')}" download>NDJSON</a> · <a href="${withQuery('/audit/export.csv')}" download>CSV</a></p>
${input.events.length === 0
    ? html`<p class="empty-small">No events match these filters.</p>`
    : html`<div class="table-wrap audit-wrap"><table class="audit"><caption class="visually-hidden">Audit events, newest first</caption>
<thead><tr><th scope="col">#</th><th scope="col">Time</th><th scope="col">Event</th><th scope="col">Action</th><th scope="col">Approval</th><th scope="col">Agent</th><th scope="col">By</th><th scope="col">Reason</th></tr></thead>
<tbody>${input.events.map(eventRow)}</tbody></table></div>`}
<nav class="pager" aria-label="Pages">${input.isFirstPage ? '' : html`<a href="${withQuery('/audit')}">← Newest</a>`}${
    input.nextCursor ? html`<a href="${withQuery('/audit', `cursor=${encodeURIComponent(input.nextCursor)}`)}">Older →</a>` : ''
  }</nav>`
}
