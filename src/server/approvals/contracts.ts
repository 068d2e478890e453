/**
 * The seams between the server's parts: the notifier that wakes long-polls and live pages,
 * and the approval service that every state change goes through (API routes, dashboard,
 * expiry), so rules, audit and notifications are applied in one place.
 */
import type { Approval, AuditEvent, ChangeResult, Decision, Project, RequesterClaims } from '../store/types.js'

/** `voted`: a vote was counted and the approval stays pending (live pages re-render its card; long-polls keep waiting). */
export type ApprovalEventType = 'created' | 'voted' | 'approved' | 'rejected' | 'cancelled' | 'expired'

export interface ApprovalEvent {
  type: ApprovalEventType
  approval: Approval
  /**
   * The audit event the store appended in the same transaction as `approval`, when this process
   * made the change: it proves the record without reading it back. Events from other replicas
   * (and expiries) carry none, so their records are checked against the stored trail.
   */
  ownEvent?: AuditEvent
}

/**
 * Fans approval events out to in-memory waiters. Never polls the database. The in-process
 * implementation is the default; a PostgreSQL LISTEN/NOTIFY one carries events across replicas.
 */
export interface Notifier {
  publish(event: ApprovalEvent): void
  /** Listens for changes of one approval (long-poll). Returns the unsubscribe function. */
  onApproval(approvalId: string, listener: (event: ApprovalEvent) => void): () => void
  /** Listens for every change in a project (dashboard live updates). Returns the unsubscribe function. */
  onProject(projectId: string, listener: (event: ApprovalEvent) => void): () => void
  close(): Promise<void>
}

/** Who acts on an approval: a dashboard member or an API key. */
export interface Actor {
  /** What is recorded as `decided_by` / audit `actor`: a member's email, or `key:<name>`. */
  label: string
  /** The member's linked GitHub login, for the self-approval rule. */
  githubLogin?: string | null
  /** The API key's id, when an API key acts: a key may not decide what it requested. */
  keyId?: string | null
  /** The member's email (policies name members by email); `null`/absent for an API key. */
  email?: string | null
}

/**
 * Why the self-approval rule refused a decider: `requesting_key` — the API key that created
 * the request (always refused); `run_actor` — the project blocks self-approval and the run's
 * `actor` or `triggering_actor` is the member's linked GitHub login (`login`).
 */
export type SelfApprovalRule = 'requesting_key' | 'run_actor'

/**
 * Why a vote was refused (nothing was written): `not_eligible` — the applied rule does not
 * count this voter; `outside_window` — approvals may not be granted now (`opens_at`: the next
 * opening, or `null` when none comes); `already_voted` — one vote per person.
 */
export type VoteRefusal =
  | { refused: 'not_eligible'; message: string }
  | { refused: 'outside_window'; message: string; opens_at: string | null }
  | { refused: 'already_voted'; message: string }

export type DecideOutcome =
  /** `changed: true`: the vote was counted; the approval is settled when its status is no longer `pending`. */
  | ChangeResult
  /** The self-approval rule refused this actor; nothing was written. */
  | { changed: false; refused: 'self_approval'; rule: SelfApprovalRule; login?: string; approval: Approval }
  | ({ changed: false; approval: Approval } & VoteRefusal)

/** Whether an actor may vote on a pending approval now, and if not, why (a sentence for a person). */
export type VoteStanding = { may: true } | { may: false; why: 'self_approval' | 'not_eligible' | 'outside_window' | 'already_voted' | 'not_pending'; message: string }

export interface CreateApprovalInput {
  action: string
  context: Record<string, unknown>
  agent: string | null
  /** Overrides the project's default expiry. */
  timeout_ms?: number
  idempotency_key?: string | null
  requested_by: string
  /** The API key that asks (so it cannot decide its own request). */
  requested_by_key_id?: string | null
  /** The verified claims of the workflow identity that asks (never the free `context`). */
  requester_claims?: RequesterClaims | null
}

/**
 * A request the approval service refuses, with a stable `code`: `invalid_request` (a name or
 * reason breaks the text rules; the message names the field) or `idempotency_key_reused`
 * (the key is bound to a different request). Nothing was written.
 */
export class ApprovalRuleError extends Error {
  constructor(
    readonly code: 'invalid_request' | 'idempotency_key_reused',
    message: string,
  ) {
    super(message)
    this.name = 'ApprovalRuleError'
  }
}

export interface ApprovalService {
  /** @throws ApprovalRuleError for a bad name or a reused idempotency key. */
  create(project: Project, input: CreateApprovalInput): Promise<{ approval: Approval; created: boolean }>
  /**
   * A vote: counted when the applied rule lets this actor vote now; the approval settles when
   * the votes satisfy the rule (or reject it). `null`: no such approval in this project.
   * @throws ApprovalRuleError (`invalid_request`) for a bad reason, or a missing one the rule asks for.
   */
  decide(project: Project, approvalId: string, input: { decision: Decision; reason: string | null; actor: Actor }): Promise<DecideOutcome | null>
  /** `timedOut`: the requester gave up at its deadline; recorded as expired (audit `timed_out`). @throws ApprovalRuleError for a bad reason. */
  cancel(project: Project, approvalId: string, input: { reason: string | null; actor: Actor; timedOut?: boolean }): Promise<ChangeResult | null>
  /**
   * Expires every approval due at `now`, in bounded batches that each commit on their own,
   * yielding to the event loop between them; publishes each expiry. Returns how many expired.
   */
  expireDue(now?: Date): Promise<number>
  /** Earliest deadline among pending approvals (for the expiry timer). */
  nextExpiry(): Promise<string | null>
  /** Whether `actor` may vote on `approval` now, and if not, why: what the dashboard shows instead of buttons. */
  standing(project: Project, approval: Approval, actor: Actor): VoteStanding
  /** Deletes what has outlived its use (idempotency keys past 24 h); returns how many rows went. */
  pruneExpired(now?: Date): Promise<number>
}
