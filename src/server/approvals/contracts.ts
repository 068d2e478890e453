/**
 * The seams between the server's parts: the notifier that wakes long-polls and live pages,
 * and the approval service that every state change goes through (API routes, dashboard,
 * expiry), so rules, audit and notifications are applied in one place.
 */
import type { Approval, ChangeResult, Decision, Project } from '../store/types.js'

export type ApprovalEventType = 'created' | 'approved' | 'rejected' | 'cancelled' | 'expired'

export interface ApprovalEvent {
  type: ApprovalEventType
  approval: Approval
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
}

export type DecideOutcome =
  | ChangeResult
  /** The project's self-approval rule refused this actor; nothing was written. */
  | { changed: false; refused: 'self_approval'; approval: Approval }

export interface CreateApprovalInput {
  action: string
  context: Record<string, unknown>
  agent: string | null
  /** Overrides the project's default expiry. */
  timeout_ms?: number
  idempotency_key?: string | null
  requested_by: string
}

export interface ApprovalService {
  create(project: Project, input: CreateApprovalInput): Promise<{ approval: Approval; created: boolean }>
  /** `null`: no such approval in this project. */
  decide(project: Project, approvalId: string, input: { decision: Decision; reason: string | null; actor: Actor }): Promise<DecideOutcome | null>
  /** `timedOut`: the requester gave up at its deadline; recorded as expired (audit `timed_out`). */
  cancel(project: Project, approvalId: string, input: { reason: string | null; actor: Actor; timedOut?: boolean }): Promise<ChangeResult | null>
}
