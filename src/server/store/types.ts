/**
 * The one storage interface of the server. Routes, the CLI and the dashboard talk to a
 * `Store`; only files under `src/server/store/` write SQL. Every method is async so the
 * embedded SQLite backend and the PostgreSQL backend share it. Every multi-row write
 * (an approval change and its audit event) happens in one transaction.
 *
 * Timestamps are ISO-8601 UTC strings with milliseconds (`new Date().toISOString()`).
 */
import type { ApprovalFilter, ApprovalStatus, DecisionVerb } from '../../contract/index.js'

export type { ApprovalFilter, ApprovalStatus }

export type Role = 'admin' | 'member'
export type KeyScope = 'request' | 'decide' | 'admin'
/** What a decider chose (the contract's decision verb). */
export type Decision = DecisionVerb
/** Audit outcomes, as the dashboard and `audit` filters name them. */
export type AuditEventType = 'created' | 'approved' | 'rejected' | 'timed_out' | 'cancelled'

export interface ProjectSettings {
  /** Whoever triggered a run (`context.github.actor`) may not approve it, when they have a linked GitHub login. */
  blockSelfApproval: boolean
  /** Expiry used when a create request gives no `timeout_ms`. */
  defaultTimeoutMs: number
}

export interface Project {
  id: string // prj_…
  name: string
  settings: ProjectSettings
  created_at: string
}

export interface User {
  id: string // usr_…
  email: string
  github_login: string | null
  created_at: string
}

export interface UserWithPassword extends User {
  password_hash: string
}

export interface Member extends User {
  role: Role
}

export interface ApiKeyInfo {
  id: string // key_…
  project_id: string
  name: string
  scopes: KeyScope[]
  /** The first characters of the key, safe to show, so people can tell keys apart. */
  prefix: string
  created_at: string
  last_used_at: string | null
  revoked_at: string | null
}

export interface Approval {
  id: string // apr_… (unguessable, URL-safe)
  project_id: string
  action: string
  context: Record<string, unknown>
  agent: string | null
  status: ApprovalStatus
  /** Decision reason, or the cancel reason. */
  reason: string | null
  /** Who decided: a member's email or `key:<name>`; for cancel/expire, who withdrew it. */
  decided_by: string | null
  decided_at: string | null
  created_at: string
  expires_at: string
  idempotency_key: string | null
  /** Who asked: `key:<name>` of the API key that created it. */
  requested_by: string
  /** Id of the API key that created it (`null` for approvals from before it was recorded). */
  requested_by_key_id: string | null
}

export interface AuditEvent {
  project_id: string
  /** 1, 2, 3… per project, no gaps: a gap is a deleted event. */
  seq: number
  type: AuditEventType
  approval_id: string
  action: string
  agent: string | null
  /** Who caused the event (requester for `created`, decider, canceller, `system` for expiry). */
  actor: string
  reason: string | null
  at: string
  prev_hash: string
  hash: string
}

export interface Page<T> {
  items: T[]
  /** Opaque; pass back as `cursor` for the next (older) page. `null` on the last page. */
  next_cursor: string | null
}

export interface AuditFilter {
  action?: string
  agent?: string
  /** Matches `actor` of approved/rejected events. */
  approver?: string
  outcome?: AuditEventType
  /** Inclusive ISO bounds on `at`. */
  from?: string
  to?: string
  cursor?: string
  limit?: number
}

export type AuditVerification =
  | { ok: true; events: number; head: string }
  /** `seq` is the first event that is edited, or where a deleted event should be. */
  | { ok: false; events: number; seq: number; problem: 'hash_mismatch' | 'broken_link' | 'missing_event' }

/** Outcome of a state change on an approval. `null` from the store means "no such approval in this project". */
export type ChangeResult =
  | { changed: true; approval: Approval; event: AuditEvent }
  | { changed: false; approval: Approval } // already decided / cancelled / expired: the current record

export interface NewApproval {
  project_id: string
  action: string
  context: Record<string, unknown>
  agent: string | null
  expires_at: string
  idempotency_key: string | null
  /**
   * What the idempotency key is bound to (the service's SHA-256 of the request). A repeat of a
   * live key (under `IDEMPOTENCY_KEY_TTL_MS` old) with another fingerprint is refused.
   */
  idempotency_fingerprint?: string | null
  requested_by: string
  requested_by_key_id?: string | null
  /** Creation time; default now. Idempotency keys count their age from it. */
  at?: string
}

/**
 * Outcome of `createApproval`: a new approval, the one a live idempotency key already names,
 * or — `key_reused` — that one although the fingerprint differs (nothing was written).
 */
export interface CreateResult {
  approval: Approval
  created: boolean
  key_reused?: boolean
}

export interface Session {
  /** sha256 of the cookie token, hex. The token itself is never stored. */
  token_hash: string
  user_id: string
  csrf_token: string
  created_at: string
  expires_at: string
}

export interface Store {
  // projects
  createProject(name: string, settings?: Partial<ProjectSettings>): Promise<Project>
  getProject(id: string): Promise<Project | null>
  getProjectByName(name: string): Promise<Project | null>
  listProjects(): Promise<Project[]>
  updateProjectSettings(id: string, patch: Partial<ProjectSettings>): Promise<Project>

  // users and memberships
  createUser(input: { email: string; password_hash: string; github_login?: string | null }): Promise<User>
  getUser(id: string): Promise<User | null>
  /** Emails are compared case-insensitively. */
  getUserByEmail(email: string): Promise<UserWithPassword | null>
  updateUser(id: string, patch: { password_hash?: string; github_login?: string | null }): Promise<User>
  /** Adds or changes a membership. */
  setMembership(projectId: string, userId: string, role: Role): Promise<void>
  removeMembership(projectId: string, userId: string): Promise<boolean>
  getMembership(projectId: string, userId: string): Promise<Role | null>
  listMembers(projectId: string): Promise<Member[]>
  listProjectsForUser(userId: string): Promise<Array<Project & { role: Role }>>

  // API keys (only hashes are stored)
  createApiKey(input: { project_id: string; name: string; scopes: KeyScope[]; key_hash: string; prefix: string }): Promise<ApiKeyInfo>
  /** A live (not revoked) key by its hash, or null. */
  findApiKey(keyHash: string): Promise<ApiKeyInfo | null>
  touchApiKey(id: string, at: string): Promise<void>
  listApiKeys(projectId: string): Promise<ApiKeyInfo[]>
  revokeApiKey(projectId: string, keyId: string): Promise<boolean>

  // approvals
  /**
   * Creates an approval and its `created` audit event. With an idempotency key under
   * `IDEMPOTENCY_KEY_TTL_MS` old returns the approval it names instead (`key_reused` when the
   * fingerprint differs); an older key is rebound to the new approval.
   */
  createApproval(input: NewApproval): Promise<CreateResult>
  getApproval(projectId: string, id: string): Promise<Approval | null>
  /**
   * An approval by id alone, whatever its project. For internal server use only (the
   * cross-replica notifier re-reading records its waiters hold, which carry no project):
   * routes, the dashboard and the CLI must use the project-scoped `getApproval`, so another
   * project's id stays invisible.
   */
  getApprovalById(id: string): Promise<Approval | null>
  listApprovals(projectId: string, filter?: ApprovalFilter): Promise<Page<Approval>>
  /** First decision wins. Records the `approved`/`rejected` audit event in the same transaction. */
  decideApproval(projectId: string, id: string, input: { decision: Decision; reason: string | null; decided_by: string; at?: string }): Promise<ChangeResult | null>
  /**
   * Withdraws a pending approval: `cancelled` + audit `cancelled`; with `timed_out` (the
   * requester gave up at its deadline) `expired` + audit `timed_out`, as if the server expired it.
   */
  cancelApproval(projectId: string, id: string, input: { reason: string | null; by: string; at?: string; timed_out?: boolean }): Promise<ChangeResult | null>
  /**
   * Marks pending approvals whose `expires_at` ≤ now as `expired` (+ `timed_out` audit events),
   * earliest deadline first: at most `limit` of them in one transaction (default: all).
   */
  expireDue(now: string, limit?: number): Promise<Approval[]>
  /** Earliest `expires_at` among pending approvals, for the expiry timer. */
  nextExpiry(): Promise<string | null>
  countPending(projectId: string): Promise<number>
  /** Deletes idempotency keys at least `IDEMPOTENCY_KEY_TTL_MS` old at `now`; returns how many went. */
  deleteExpiredIdempotencyKeys(now: string): Promise<number>

  // audit trail (append-only, hash-chained per project)
  listAudit(projectId: string, filter?: AuditFilter): Promise<Page<AuditEvent>>
  /** Every event of a project, oldest first, for export. */
  exportAudit(projectId: string, filter?: Omit<AuditFilter, 'cursor' | 'limit'>): AsyncIterable<AuditEvent>
  verifyAudit(projectId: string): Promise<AuditVerification>

  // dashboard sessions
  createSession(session: Session): Promise<void>
  getSession(tokenHash: string, now: string): Promise<Session | null>
  deleteSession(tokenHash: string): Promise<void>
  /**
   * Deletes every session whose `expires_at` ≤ `now` (they are already refused by `getSession`)
   * and returns how many went. Callers decide when to sweep; `createSession` does not.
   */
  deleteExpiredSessions(now: string): Promise<number>

  close(): Promise<void>
}
