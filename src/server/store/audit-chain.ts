/**
 * The audit trail's hash chain, independent of any database. Each project's events form a
 * chain: event `seq` n carries `prev_hash` = hash of event n-1 (64 zeros for the first) and
 * `hash` = sha256(prev_hash, canonical event fields). Editing an event breaks its hash;
 * deleting one leaves a seq gap; deleting the last ones is caught against the chain head
 * (last seq + hash) that the store keeps in a separate row updated in the same transaction.
 *
 * What this cannot catch: someone with write access who rewrites the whole chain and the
 * head consistently. Recording `head` from `verify` elsewhere (a ticket, a log) anchors it.
 */
import { createHash } from 'node:crypto'
import type { AuditEvent, AuditVerification } from './types.js'

/** `prev_hash` of a project's first event. */
export const GENESIS_HASH = '0'.repeat(64)

/** The last event of a project's chain, as the store records it. */
export interface ChainHead {
  seq: number
  hash: string
}

/** What a caller supplies for a new event; the chain adds `seq`, `prev_hash` and `hash`. */
export type AuditEventInput = Omit<AuditEvent, 'seq' | 'prev_hash' | 'hash'>

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
 * Canonical serialisation: a JSON array in a fixed field order. JSON string escaping is
 * deterministic and the array avoids any dependence on object key order.
 */
function canonicalFields(event: Omit<AuditEvent, 'prev_hash' | 'hash'>): string {
  const fields = [event.project_id, event.seq, event.type, event.approval_id, event.action, event.agent, event.actor, event.reason, event.at]
  return JSON.stringify(fields, asStored)
}

/** sha256 hex over the previous hash and the event's canonical fields. */
export function hashAuditEvent(event: Omit<AuditEvent, 'hash'>): string {
  return createHash('sha256').update(event.prev_hash).update('\n').update(canonicalFields(event)).digest('hex')
}

/** The next event of a chain whose current head is `head` (`null` for an empty chain). */
export function chainAuditEvent(head: ChainHead | null, input: AuditEventInput): AuditEvent {
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
    prev_hash: head ? head.hash : GENESIS_HASH,
  }
  return { ...unhashed, hash: hashAuditEvent(unhashed) }
}

/**
 * Checks a chain fed oldest first, one event at a time, so a backend can stream events
 * from a cursor instead of loading them all. Stops at the first problem.
 */
export class AuditChainVerifier {
  private expectedSeq = 1
  private prevHash = GENESIS_HASH
  private count = 0
  private failure: AuditVerification | null = null

  /** Feeds the next event; returns false once a problem is found (further events are ignored). */
  add(event: AuditEvent): boolean {
    if (this.failure) return false
    this.count++
    if (event.seq !== this.expectedSeq) {
      // Events arrive ordered by seq, so a jump means the ones in between were deleted.
      return this.fail(this.expectedSeq, 'missing_event')
    }
    if (event.prev_hash !== this.prevHash) return this.fail(event.seq, 'broken_link')
    if (hashAuditEvent(event) !== event.hash) return this.fail(event.seq, 'hash_mismatch')
    this.expectedSeq = event.seq + 1
    this.prevHash = event.hash
    return true
  }

  /** The verdict, comparing the last event seen with the recorded chain head. */
  finish(head: ChainHead | null): AuditVerification {
    if (this.failure) return this.failure
    const lastSeq = this.expectedSeq - 1
    const events = this.count
    if (head === null) {
      // Events without a head row: the head was deleted or events were inserted by hand.
      return lastSeq === 0 ? { ok: true, events, head: GENESIS_HASH } : { ok: false, events, seq: 1, problem: 'broken_link' }
    }
    if (head.seq > lastSeq) return { ok: false, events, seq: lastSeq + 1, problem: 'missing_event' }
    if (head.seq < lastSeq) return { ok: false, events, seq: head.seq + 1, problem: 'broken_link' }
    if (head.hash !== this.prevHash) return { ok: false, events, seq: lastSeq, problem: 'hash_mismatch' }
    return { ok: true, events, head: head.hash }
  }

  private fail(seq: number, problem: 'hash_mismatch' | 'broken_link' | 'missing_event'): false {
    this.failure = { ok: false, events: this.count, seq, problem }
    return false
  }
}

/** Verifies a whole chain given oldest first. */
export function verifyAuditChain(events: Iterable<AuditEvent>, head: ChainHead | null): AuditVerification {
  const verifier = new AuditChainVerifier()
  for (const event of events) {
    if (!verifier.add(event)) break
  }
  return verifier.finish(head)
}
