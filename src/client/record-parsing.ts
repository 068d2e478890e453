/**
 * Turns untrusted response bodies into typed approval records. Anything without the
 * fields we rely on becomes a clear `ApprovalError`, never a `TypeError` later on.
 */
import { APPROVAL_STATUSES, REQUESTER_FIELDS, type ApprovalRequester, type ApprovalVote } from '../contract/index.js'
import { ApprovalError } from './errors.js'
import type { ApprovalRecord, ApprovalStatus } from './types.js'

const KNOWN_STATUSES: ReadonlySet<string> = new Set<ApprovalStatus>(APPROVAL_STATUSES)

/** A page of `GET /v1/approvals`. */
export interface ApprovalPage {
  items: ApprovalRecord[]
  /** Pass back as `cursor` for the next (older) page; `null` on the last page. */
  next_cursor: string | null
}

function isObject(value: unknown): value is Record<string, unknown> {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

const stringOrNull = (value: unknown): string | null | undefined =>
  typeof value === 'string' ? value : value === null ? null : undefined

/** A short, single-line excerpt of a body for error messages. */
export function excerpt(text: string, max = 120): string {
  const flat = text.replace(/\s+/g, ' ').trim()
  return flat.length > max ? `${flat.slice(0, max)}…` : flat
}

/**
 * Validates one approval record: an `id` (non-empty string) and a known `status` are required;
 * optional fields are kept only when they have the documented type. JamJet's own API may
 * answer a create with just `{id}` and a status check with just `{status, reason}`: `known`
 * supplies what the request already tells us (the id we asked about, `pending` for a create).
 */
export function parseRecord(body: unknown, what: string, known: { id?: string; status?: ApprovalStatus } = {}): ApprovalRecord {
  const id = isObject(body) && body.id !== undefined ? body.id : known.id
  const status = isObject(body) && body.status !== undefined ? body.status : known.status
  if (!isObject(body) || typeof id !== 'string' || id === '' || typeof status !== 'string') {
    throw new ApprovalError('bad_response', `${what}: the answer is JSON but not an approval record (it needs a string "id" and "status")`)
  }
  // An answer about another approval must not settle this one (a confused proxy or cache).
  if (known.id !== undefined && id !== known.id) {
    throw new ApprovalError('bad_response', `${what}: the answer is about approval ${excerpt(id, 80)}, not ${excerpt(known.id, 80)}`, { approvalId: known.id })
  }
  if (!KNOWN_STATUSES.has(status)) {
    throw new ApprovalError(
      'unknown_status',
      `${what}: approval ${excerpt(id, 80)} has status "${excerpt(status, 40)}", which this client does not know (expected pending, approved, rejected, expired or cancelled)`,
      { approvalId: id },
    )
  }
  const record: ApprovalRecord = { id, status: status as ApprovalStatus }
  if (typeof body.action === 'string') record.action = body.action
  if (isObject(body.context)) record.context = body.context
  for (const field of ['agent', 'reason', 'decided_by', 'decided_at', 'expires_at', 'url'] as const) {
    const value = stringOrNull(body[field])
    if (value !== undefined) record[field] = value
  }
  if (typeof body.created_at === 'string') record.created_at = body.created_at
  if (body.requester === null) record.requester = null
  else if (isObject(body.requester)) {
    const claims = body.requester
    record.requester = Object.fromEntries(REQUESTER_FIELDS.map((field) => [field, typeof claims[field] === 'string' ? claims[field] : null])) as ApprovalRequester
  }
  if (typeof body.required_approvals === 'number' && Number.isSafeInteger(body.required_approvals) && body.required_approvals >= 0) record.required_approvals = body.required_approvals
  if (Array.isArray(body.votes)) record.votes = body.votes.filter(isVote).map((vote) => ({ by: vote.by, decision: vote.decision, reason: vote.reason, at: vote.at, groups: vote.groups }))
  if (body.policy === null) record.policy = null
  else if (isObject(body.policy) && typeof body.policy.version === 'number' && typeof body.policy.rule === 'string') record.policy = { version: body.policy.version, rule: body.policy.rule }
  return record
}

/** A vote with the documented types; malformed entries are dropped (they decide nothing: the status does). */
function isVote(value: unknown): value is ApprovalVote {
  return (
    isObject(value) &&
    typeof value.by === 'string' &&
    (value.decision === 'approve' || value.decision === 'reject') &&
    (value.reason === null || typeof value.reason === 'string') &&
    typeof value.at === 'string' &&
    Array.isArray(value.groups) &&
    value.groups.every((group) => typeof group === 'string')
  )
}

/** Validates a list page (`{items, next_cursor}`; `approvals` or `data` are accepted for `items`). */
export function parsePage(body: unknown, what: string): ApprovalPage {
  const items = isObject(body) ? (body.items ?? body.approvals ?? body.data) : undefined
  if (!Array.isArray(items)) throw new ApprovalError('bad_response', `${what}: the answer has no "items" list of approvals`)
  const cursor = isObject(body) ? body.next_cursor : undefined
  return {
    items: items.map((item) => parseRecord(item, what)),
    next_cursor: typeof cursor === 'string' && cursor !== '' ? cursor : null,
  }
}

/**
 * Throws `bad_response` when the record names an action other than the one asked for: a reused
 * idempotency key, a confused proxy or a hostile server must not pass one request's approval
 * off as another's. JamJet may omit `action`; then there is nothing to compare.
 */
export function requireSameAction(record: ApprovalRecord, action: string, what: string): void {
  if (record.action === undefined || record.action === action) return
  throw new ApprovalError(
    'bad_response',
    `${what}: the server answered with approval ${excerpt(record.id, 80)} for action "${excerpt(record.action, 80)}", not "${excerpt(action, 80)}"; refusing it`,
    { approvalId: record.id },
  )
}
