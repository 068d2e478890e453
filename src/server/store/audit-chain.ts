/**
 * The audit trail's chain, independent of any database. Each project's events form a chain
 * with two links per event:
 *
 * - `hash` = sha256(prev_hash, canonical fixed fields): the original, unkeyed chain (schema
 *   version 1). Anyone can recompute it from an export, so it only shows accidental damage:
 *   whoever can write the database can recompute every hash after an edit.
 * - `mac` = HMAC-SHA256(audit key, every field of the event but `mac`, including
 *   `prev_mac`, `hash`, the approval's `context_hash` and, for `created` events since schema 6,
 *   the `claims_hash` of its verified requester claims): the keyed chain. The key lives
 *   outside the database (see `audit-key.ts`), so an edit, an insertion or a
 *   forged decision is detected even when the editor recomputes every hash.
 *
 * The MAC is generic over the event's fields (sorted names, null fields left out), so new
 * event types and new nullable columns need no change here. Deleting the newest events is
 * caught against the chain head (last seq, hash and a keyed `mac` of the head) that the store
 * keeps in a separate row; an attacker holding an old head row can still truncate, which is
 * what `audit checkpoint` anchors outside the server.
 *
 * Events written before the chain was keyed (databases created before schema version 3)
 * were given their `mac` when the upgrade ran, and carry `sealed_at`: edits made before that
 * moment cannot be detected by the key, and verification reports them as legacy.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { AuditKey } from './audit-key.js'
import type { Approval, AuditCheckpoint, AuditEvent, AuditVerification } from './types.js'

export type { AuditCheckpoint }

/** `prev_hash` and `prev_mac` of a project's first event. */
export const GENESIS_HASH = '0'.repeat(64)

/** The last event of a project's chain, as the store records it. */
export interface ChainHead {
  seq: number
  hash: string
  /** Keyed MAC of the head (`headMac`); null only in a database that was never keyed. */
  mac?: string | null
}

/** What a caller supplies for a new event; the chain adds seq, the links and the MAC. */
export type AuditEventInput = Omit<AuditEvent, 'seq' | 'prev_hash' | 'hash' | 'prev_mac' | 'mac' | 'sealed_at'>

/** A lone surrogate (the `u` flag makes a valid pair one code point, which does not match). */
const LONE_SURROGATE = /[\uD800-\uDFFF]/gu

/**
 * Strings as the database stores them: UTF-8 text, where a lone surrogate becomes U+FFFD.
 * Hashing that form makes the hash taken when writing match the one recomputed from the
 * stored row; well-formed strings (all real text) are unchanged, so existing chains verify.
 */
function asStored(_key: string, value: unknown): unknown {
  return typeof value === 'string' ? value.replace(LONE_SURROGATE, '\uFFFD') : value
}

/**
 * Canonical serialisation of the unkeyed hash: a JSON array in a fixed field order. JSON
 * string escaping is deterministic and the array avoids any dependence on object key order.
 */
/** The fields the unkeyed hash covers (its definition is fixed: schema version 1). */
type HashedFields = Pick<AuditEvent, 'project_id' | 'seq' | 'type' | 'approval_id' | 'action' | 'agent' | 'actor' | 'reason' | 'at' | 'prev_hash'>

function canonicalFields(event: HashedFields): string {
  const fields = [event.project_id, event.seq, event.type, event.approval_id, event.action, event.agent, event.actor, event.reason, event.at]
  return JSON.stringify(fields, asStored)
}

/** sha256 hex over the previous hash and the event's canonical fields (the unkeyed chain). */
export function hashAuditEvent(event: HashedFields): string {
  return createHash('sha256').update(event.prev_hash).update('\n').update(canonicalFields(event)).digest('hex')
}

/** sha256 hex of an approval's context as stored (its JSON text). */
export function contextHash(context: Record<string, unknown>): string {
  return createHash('sha256').update(JSON.stringify(context), 'utf8').digest('hex')
}

/**
 * sha256 hex of an approval's verified requester claims as stored (their JSON text, `null`
 * when an API key asked), so claims added, edited or removed later are detected too.
 */
export function claimsHash(claims: Approval['requester_claims']): string {
  return createHash('sha256').update(JSON.stringify(claims ?? null), 'utf8').digest('hex')
}

/** A value as the database stores it (see `asStored`), without a replacer call per value. */
function storedValue(value: unknown): unknown {
  return typeof value === 'string' && LONE_SURROGATE_TEST.test(value) ? value.replace(LONE_SURROGATE, '\uFFFD') : value
}

const LONE_SURROGATE_TEST = /[\uD800-\uDFFF]/u

/** Every field but `mac`, by sorted name, null and absent fields left out: generic over event types and new columns. */
function macInput(event: Readonly<Record<string, unknown>>): string {
  const fields: unknown[] = []
  for (const name of Object.keys(event).sort()) {
    const value = event[name]
    if (name === 'mac' || value === null || value === undefined) continue
    fields.push([name, storedValue(value)])
  }
  return `approval-gate audit event\n${JSON.stringify(fields)}`
}

/** The keyed MAC of an event (over every field but `mac`). */
export function macAuditEvent(key: AuditKey, event: Omit<AuditEvent, 'mac'> | AuditEvent): string {
  return key.mac(macInput(event as unknown as Record<string, unknown>))
}

/** The keyed MAC of a chain head: its project, seq and the last event's MAC. */
export function headMac(key: AuditKey, projectId: string, seq: number, lastMac: string): string {
  return key.mac(`approval-gate audit head\n${JSON.stringify([projectId, seq, lastMac], asStored)}`)
}

/** Constant-time comparison of two hex MACs. */
export function sameMac(a: string | null | undefined, b: string): boolean {
  if (typeof a !== 'string' || a.length !== b.length) return false
  return timingSafeEqual(Buffer.from(a), Buffer.from(b))
}

/** The next event of a chain whose current head is `head` (`null` for an empty chain). */
export function chainAuditEvent(key: AuditKey, head: ChainHead | null, lastMac: string | null, input: AuditEventInput): AuditEvent {
  const unhashed = {
    project_id: input.project_id,
    seq: head ? head.seq + 1 : 1,
    type: input.type,
    approval_id: input.approval_id,
    action: input.action,
    agent: input.agent,
    actor: input.actor,
    reason: input.reason,
    at: input.at,
    context_hash: input.context_hash,
    claims_hash: input.claims_hash ?? null,
    prev_hash: head ? head.hash : GENESIS_HASH,
  }
  const hashed = { ...unhashed, hash: hashAuditEvent(unhashed), prev_mac: lastMac ?? GENESIS_HASH, sealed_at: null }
  return { ...hashed, mac: macAuditEvent(key, hashed) }
}

/** Where a verification starts: the chain's beginning, or the last event already verified. */
export interface VerifiedPosition {
  seq: number
  hash: string
  mac: string
  /** Events up to `seq`, and how many of them are legacy (sealed at the upgrade). */
  events: number
  legacy: number
}

export const CHAIN_START: VerifiedPosition = { seq: 0, hash: GENESIS_HASH, mac: GENESIS_HASH, events: 0, legacy: 0 }

type ChainProblem = 'hash_mismatch' | 'broken_link' | 'missing_event' | 'mac_mismatch'

/**
 * Checks a chain fed oldest first, one event at a time, so a backend can stream events from
 * a cursor instead of loading them all, and resume from a verified position. Stops at the
 * first problem.
 */
export class AuditChainVerifier {
  private position: VerifiedPosition
  private failure: AuditVerification | null = null

  constructor(
    private readonly key: AuditKey,
    /** The chain's project: the head MAC covers it. */
    private readonly projectId: string,
    start: VerifiedPosition = CHAIN_START,
  ) {
    this.position = { ...start }
  }

  /** Feeds the next event; returns false once a problem is found (further events are ignored). */
  add(event: AuditEvent): boolean {
    if (this.failure) return false
    const expected = this.position.seq + 1
    // Events arrive ordered by seq, so a jump means the ones in between were deleted.
    if (event.seq !== expected) return this.fail(expected, 'missing_event')
    if (event.prev_hash !== this.position.hash) return this.fail(event.seq, 'broken_link')
    if (hashAuditEvent(event) !== event.hash) return this.fail(event.seq, 'hash_mismatch')
    if (event.prev_mac !== this.position.mac) return this.fail(event.seq, 'broken_link')
    if (!sameMac(event.mac, macAuditEvent(this.key, event))) return this.fail(event.seq, 'mac_mismatch')
    this.position = {
      seq: event.seq,
      hash: event.hash,
      mac: event.mac as string,
      events: this.position.events + 1,
      legacy: this.position.legacy + (event.sealed_at ? 1 : 0),
    }
    return true
  }

  /** True once a problem was found. */
  finishedEarly(): boolean {
    return this.failure !== null
  }

  /** The last event verified so far. */
  verified(): VerifiedPosition {
    return { ...this.position }
  }

  /** The verdict, comparing the last event seen with the recorded chain head. */
  finish(head: ChainHead | null): AuditVerification {
    if (this.failure) return this.failure
    const { seq: lastSeq, events } = this.position
    const legacy = this.position.legacy > 0 ? { legacy_events: this.position.legacy } : {}
    if (head === null || head.seq === 0) {
      // Events without a head row: the head was deleted or events were inserted by hand.
      return lastSeq === 0 ? { ok: true, events, head: GENESIS_HASH } : { ok: false, events, seq: 1, problem: 'broken_link' }
    }
    if (head.seq > lastSeq) return { ok: false, events, seq: lastSeq + 1, problem: 'missing_event' }
    if (head.seq < lastSeq) return { ok: false, events, seq: head.seq + 1, problem: 'broken_link' }
    if (head.hash !== this.position.hash) return { ok: false, events, seq: lastSeq, problem: 'hash_mismatch' }
    if (!sameMac(head.mac, headMac(this.key, this.projectId, lastSeq, this.position.mac))) return { ok: false, events, seq: lastSeq, problem: 'mac_mismatch' }
    return { ok: true, events, head: head.hash, ...legacy }
  }

  private fail(seq: number, problem: ChainProblem): false {
    // The event that failed counts as checked.
    this.failure = { ok: false, events: this.position.events + 1, seq, problem }
    return false
  }
}

/** Verifies a whole chain given oldest first. */
export function verifyAuditChain(key: AuditKey, projectId: string, events: Iterable<AuditEvent>, head: ChainHead | null): AuditVerification {
  const verifier = new AuditChainVerifier(key, projectId)
  for (const event of events) {
    if (!verifier.add(event)) break
  }
  return verifier.finish(head)
}

/** The audit event type that records each final status. */
export const EVENT_FOR_STATUS = { approved: 'approved', rejected: 'rejected', expired: 'timed_out', cancelled: 'cancelled' } as const

/**
 * Whether `event` (the approval's settling event, or null) proves the record's final status:
 * it exists, its MAC verifies, and it says what the row says (status, who, why, when, action,
 * agent, context). Returns null when proven, else a sentence naming what disagrees. Without a
 * `key` only the fields are compared (for events whose MAC was already checked).
 * A pending record needs no proof (it passes no gate).
 */
export function decisionProblem(key: AuditKey | null, approval: Approval, event: AuditEvent | null, approvalContextHash?: string): string | null {
  if (approval.status === 'pending') return event ? `it is pending in the database, but audit event #${event.seq} records it ${event.type}` : null
  if (!event) return `it is ${approval.status} in the database, but no audit event records that decision`
  if (key && !sameMac(event.mac, macAuditEvent(key, event))) return `its decision event #${event.seq} fails the audit key check (edited or forged)`
  if (event.approval_id !== approval.id || event.project_id !== approval.project_id) return `audit event #${event.seq} belongs to another approval`
  const expected = EVENT_FOR_STATUS[approval.status as keyof typeof EVENT_FOR_STATUS]
  if (event.type !== expected) return `it is ${approval.status} in the database, but audit event #${event.seq} records ${event.type}`
  const differs: string[] = []
  if (event.actor !== approval.decided_by) differs.push('decided_by')
  if (event.reason !== approval.reason) differs.push('reason')
  if (event.at !== approval.decided_at) differs.push('decided_at')
  if (event.action !== approval.action) differs.push('action')
  if (event.agent !== approval.agent) differs.push('agent')
  if (key && event.context_hash !== null && event.context_hash !== (approvalContextHash ?? contextHash(approval.context))) differs.push('context')
  if (differs.length > 0) return `its ${differs.join(', ')} in the database differ${differs.length === 1 ? 's' : ''} from audit event #${event.seq}`
  return null
}

/**
 * Whether `event` proves `approval` when both came out of the same committed write of this
 * process (the store returned them together): the event was never read back from the database,
 * so its MAC, computed here, needs no re-check; the fields and the context are compared as
 * `decisionProblem` does for a stored event. Null when proven.
 */
export function ownDecisionProblem(approval: Approval, event: AuditEvent): string | null {
  const problem = decisionProblem(null, approval, event)
  if (problem !== null || approval.status === 'pending') return problem
  if (event.context_hash !== null && event.context_hash !== contextHash(approval.context)) return `its context in the database differs from audit event #${event.seq}`
  return null
}

function checkpointInput(checkpoint: Omit<AuditCheckpoint, 'mac'>): string {
  return `approval-gate audit checkpoint\n${JSON.stringify([checkpoint.project, checkpoint.seq, checkpoint.head, checkpoint.at])}`
}

/** Signs a checkpoint with the audit key. */
export function signCheckpoint(key: AuditKey, checkpoint: Omit<AuditCheckpoint, 'mac'>): AuditCheckpoint {
  const unsigned = { project: checkpoint.project, seq: checkpoint.seq, head: checkpoint.head, at: checkpoint.at }
  return { ...unsigned, mac: key.mac(checkpointInput(unsigned)) }
}

/** A parsed checkpoint, or a sentence saying why it is not one signed with this key. */
export function readCheckpoint(key: AuditKey, value: unknown): AuditCheckpoint | string {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return 'the checkpoint is not a JSON object'
  const c = value as Record<string, unknown>
  if (typeof c.project !== 'string' || typeof c.seq !== 'number' || !Number.isSafeInteger(c.seq) || c.seq < 0 || typeof c.head !== 'string' || typeof c.at !== 'string' || typeof c.mac !== 'string') {
    return 'the checkpoint must have project, seq, head, at and mac'
  }
  const checkpoint = { project: c.project, seq: c.seq, head: c.head, at: c.at, mac: c.mac }
  if (!sameMac(checkpoint.mac, signCheckpoint(key, checkpoint).mac)) return 'the checkpoint signature does not verify: it was edited, or signed with another audit key'
  return checkpoint
}
