/**
 * Verification of a project's audit trail, shared by both backends. Each backend supplies an
 * `AuditReader` (a few indexed reads); this module checks the keyed chain and every
 * approval's row against its events, in chunks that yield to the event loop so a long chain
 * never holds the server (`/healthz`, decisions) for more than one chunk.
 *
 * Incremental: the last verified position of each project is remembered in memory, so the
 * next verification only reads newer events (`full` starts again from the first event). The
 * remembered event is re-read first: if it changed or went away, the whole chain is re-verified.
 * The approvals check always covers every approval (one read per chunk of 1,000 and one HMAC
 * per settled approval), because a row can be edited without touching any event.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import type { AuditKey } from './audit-key.js'
import {
  AuditChainVerifier,
  CHAIN_START,
  claimsHash,
  contextHash,
  decisionProblem,
  EVENT_FOR_STATUS,
  macAuditEvent,
  readCheckpoint,
  sameMac,
  signCheckpoint,
  type AuditCheckpoint,
  type ChainHead,
  type VerifiedPosition,
} from './audit-chain.js'
import type { Approval, AuditEvent, AuditVerification, AuditVerifyOptions, CheckpointVerification } from './types.js'
import { policyNote } from './record-builders.js'

/** The event types that give an approval its final status; other types (admin changes, future ones) never do. */
export const SETTLING_TYPES: ReadonlySet<string> = new Set(Object.values(EVENT_FOR_STATUS))

/** Events read and checked per chunk before yielding to the event loop (~25 µs each). */
export const VERIFY_CHUNK = 1000
/** Approvals per chunk: each costs up to two MACs and a context hash, so fewer per chunk. */
export const APPROVAL_CHUNK = 250

/** The reads a backend provides for verification. */
export interface AuditReader {
  head(projectId: string): Promise<ChainHead | null>
  /** Events with `after < seq <= upTo`, oldest first, at most `limit`. */
  events(projectId: string, after: number, upTo: number, limit: number): Promise<AuditEvent[]>
  event(projectId: string, seq: number): Promise<AuditEvent | null>
  /** Approvals after the internal position `after`, oldest first, at most `limit`, with their internal position. */
  approvals(projectId: string, after: number, limit: number): Promise<Array<{ position: number; approval: Approval }>>
  /** Every audit event of these approvals (of this project). */
  eventsOfApprovals(projectId: string, approvalIds: string[]): Promise<AuditEvent[]>
  /** The events that settled one approval (`SETTLING_TYPES`), oldest first, at most 2. */
  settlingEvents(projectId: string, approvalId: string): Promise<AuditEvent[]>
}

export class AuditVerifications {
  private readonly verified = new Map<string, VerifiedPosition>()
  /** Verifications in flight per project and mode: concurrent callers share one. */
  private readonly running = new Map<string, Promise<AuditVerification>>()

  constructor(
    private readonly key: AuditKey,
    private readonly reader: AuditReader,
  ) {}

  verify(projectId: string, options: AuditVerifyOptions = {}): Promise<AuditVerification> {
    const id = `${options.full ? 'full' : 'incremental'}:${projectId}`
    let run = this.running.get(id)
    if (!run) {
      run = this.run(projectId, options.full === true).finally(() => this.running.delete(id))
      this.running.set(id, run)
    }
    return run
  }

  async decisionProblem(projectId: string, approval: Approval): Promise<string | null> {
    if (approval.status === 'pending') return null
    const settling = await this.reader.settlingEvents(projectId, approval.id)
    if (settling.length > 1) return `audit events #${settling[0].seq} and #${settling[1].seq} both settle it`
    return decisionProblem(this.key, approval, settling[0] ?? null)
  }

  async checkpoint(projectId: string): Promise<AuditCheckpoint> {
    const result = await this.verify(projectId)
    if (!result.ok) throw new Error(`the audit chain does not verify (${result.problem} at #${result.seq}); no checkpoint signed`)
    const position = this.verified.get(projectId) ?? CHAIN_START
    return signCheckpoint(this.key, { project: projectId, seq: position.seq, head: position.hash, at: new Date().toISOString() })
  }

  async verifyCheckpoint(projectId: string, value: unknown): Promise<CheckpointVerification> {
    const checkpoint = readCheckpoint(this.key, value)
    if (typeof checkpoint === 'string') return { ok: false, problem: checkpoint }
    if (checkpoint.project !== projectId) return { ok: false, problem: `the checkpoint is of project ${checkpoint.project}, not this one` }
    const verification = await this.verify(projectId, { full: true })
    if (checkpoint.seq > 0) {
      const event = await this.reader.event(projectId, checkpoint.seq)
      if (!event) return { ok: false, problem: `event #${checkpoint.seq} of the checkpoint no longer exists: the chain was cut back`, verification }
      if (event.hash !== checkpoint.head) return { ok: false, problem: `event #${checkpoint.seq} no longer has the checkpoint's head: history up to it was rewritten`, verification }
    }
    if (!verification.ok) return { ok: false, problem: `the chain does not verify after the checkpoint (${verification.problem} at #${verification.seq})`, verification }
    return { ok: true, checkpoint, verification }
  }

  private async run(projectId: string, full: boolean): Promise<AuditVerification> {
    // The head first: events appended while this runs lie beyond it and are left for next time.
    const head = await this.reader.head(projectId)
    let start = full ? CHAIN_START : (this.verified.get(projectId) ?? CHAIN_START)
    if (start.seq > (head?.seq ?? 0) || (start.seq > 0 && !(await this.stillThere(projectId, start)))) start = CHAIN_START
    const result = await this.verifyChain(projectId, head, start)
    if (!result.ok) return result
    const mismatch = await this.checkApprovals(projectId, start.seq === 0)
    if (!mismatch) return result
    // An approval disagrees with an event verified earlier: if that event was edited since,
    // a full pass names the event itself, which says more than the approval.
    if (start.seq > 0) {
      const again = await this.verifyChain(projectId, head, CHAIN_START)
      if (!again.ok) return again
    }
    return { ok: false, events: result.events, problem: 'approval_mismatch', ...mismatch }
  }

  /** The chain from `start` to `head`, one chunk at a time; remembers how far it is intact. */
  private async verifyChain(projectId: string, head: ChainHead | null, start: VerifiedPosition): Promise<AuditVerification> {
    const upTo = head?.seq ?? 0
    const verifier = new AuditChainVerifier(this.key, projectId, start)
    for (let after = start.seq; after < upTo; ) {
      const batch = await this.reader.events(projectId, after, upTo, VERIFY_CHUNK)
      for (const event of batch) if (!verifier.add(event)) break
      if (batch.length === 0 || verifier.finishedEarly()) break
      after = batch[batch.length - 1].seq
      await yieldToEventLoop()
    }
    const result = verifier.finish(head)
    if (result.ok) this.verified.set(projectId, verifier.verified())
    else this.verified.delete(projectId)
    return result
  }

  /** The remembered last verified event is still the same (hash and MAC). */
  private async stillThere(projectId: string, position: VerifiedPosition): Promise<boolean> {
    const event = await this.reader.event(projectId, position.seq)
    return event !== null && event.hash === position.hash && event.mac === position.mac
  }

  /**
   * The first approval whose row disagrees with its events. `thorough` (a pass from the first
   * event) also re-checks each event's MAC and the context hash; otherwise the events' MACs
   * were checked by this or an earlier pass, and only the fields are compared (no crypto).
   */
  private async checkApprovals(projectId: string, thorough: boolean): Promise<{ approval_id: string; seq: number; detail: string } | null> {
    for (let after = 0; ; ) {
      const batch = await this.reader.approvals(projectId, after, APPROVAL_CHUNK)
      if (batch.length === 0) return null
      const events = await this.reader.eventsOfApprovals(
        projectId,
        batch.map((b) => b.approval.id),
      )
      const byApproval = new Map<string, AuditEvent[]>()
      for (const event of events) {
        const list = byApproval.get(event.approval_id) ?? []
        list.push(event)
        byApproval.set(event.approval_id, list)
      }
      for (const { approval } of batch) {
        const found = approvalProblem(thorough ? this.key : null, approval, byApproval.get(approval.id) ?? [])
        if (found) return { approval_id: approval.id, ...found }
      }
      if (batch.length < APPROVAL_CHUNK) return null
      after = batch[batch.length - 1].position
      await yieldToEventLoop()
    }
  }
}

/**
 * What is wrong between one approval's row and its events (oldest first), or null. With a
 * `key`, each event's MAC and the context hash are checked too; without, only the fields.
 */
export function approvalProblem(key: AuditKey | null, approval: Approval, events: AuditEvent[]): { seq: number; detail: string } | null {
  const created = events.filter((e) => e.type === 'created')
  const settling = events.filter((e) => SETTLING_TYPES.has(e.type))
  if (created.length !== 1) return { seq: created[1]?.seq ?? 0, detail: created.length === 0 ? 'no audit event records its creation' : 'two audit events record its creation' }
  const [first] = created
  if (key && !sameMac(first.mac, macAuditEvent(key, first))) return { seq: first.seq, detail: `its created event #${first.seq} fails the audit key check` }
  if (first.action !== approval.action || first.agent !== approval.agent || first.actor !== approval.requested_by) {
    return { seq: first.seq, detail: `its action, agent or requester in the database differs from its created event #${first.seq}` }
  }
  if ((first.reason ?? null) !== policyNote(approval.applied_policy)) {
    return { seq: first.seq, detail: `its policy rule in the database differs from the one its created event #${first.seq} recorded` }
  }
  const hashed = key ? contextHash(approval.context) : null
  if (hashed !== null && first.context_hash !== null && first.context_hash !== hashed) {
    return { seq: first.seq, detail: `its context in the database differs from the one its created event #${first.seq} recorded` }
  }
  if (key && first.claims_hash && first.claims_hash !== claimsHash(approval.requester_claims)) {
    return { seq: first.seq, detail: `its requester_claims in the database differ from the verified claims its created event #${first.seq} recorded` }
  }
  if (settling.length > 1) return { seq: settling[1].seq, detail: `audit events #${settling[0].seq} and #${settling[1].seq} both settle it` }
  const problem = decisionProblem(key, approval, settling[0] ?? null, hashed ?? undefined)
  return problem ? { seq: settling[0]?.seq ?? 0, detail: problem } : null
}
