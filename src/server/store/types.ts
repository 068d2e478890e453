/**
 * The one storage interface of the server. Routes, the CLI and the dashboard talk to a
 * `Store`; only files under `src/server/store/` write SQL. Every method is async so the
 * embedded SQLite backend and the PostgreSQL backend share it. Every multi-row write
 * (an approval change and its audit event, an admin change and its event) happens in one
 * transaction.
 *
 * Timestamps are ISO-8601 UTC strings with milliseconds (`new Date().toISOString()`).
 */
import type { ApprovalFilter, ApprovalStatus, DecisionVerb } from '../../contract/index.js'
import type { ChannelKind, NotificationEventType } from '../../contract/index.js'
import type { AppliedPolicy, PolicyVersion, Vote } from '../policies/types.js'

export type { ApprovalFilter, ApprovalStatus, ChannelKind, NotificationEventType, PolicyVersion }

export type Role = 'admin' | 'member'
export type KeyScope = 'request' | 'decide' | 'admin'
/** What a decider chose (the contract's decision verb). */
export type Decision = DecisionVerb
/** Audit outcomes, as the dashboard and `audit` filters name them. */
export type AuditEventType = ApprovalAuditEventType | AdminEventType
/**
 * Events of an approval's life. A vote that does not settle the approval is `vote_approve` or
 * `vote_reject` (the decision is the type, so the MAC covers it); the vote that settles it is
 * recorded as the `approved`/`rejected` event itself, by that voter.
 */
export type ApprovalAuditEventType = 'created' | 'vote_approve' | 'vote_reject' | 'approved' | 'rejected' | 'timed_out' | 'cancelled'
/**
 * Administrative changes to a project, recorded in the same chain with no approval
 * (`approval_id` is empty; `action` names what changed, e.g. `member:ana@example.com`, `key:ci`).
 */
export type AdminEventType =
  | 'member_added'
  | 'member_changed'
  | 'member_removed'
  | 'invitation_created'
  | 'invitation_revoked'
  | 'key_created'
  | 'key_revoked'
  | 'settings_changed'
  | 'trust_rule_added'
  | 'trust_rule_removed'
  | 'policy_set'
  | 'policy_cleared'
  | 'github_mapped'
  | 'github_unmapped'
  | 'channel_added'
  | 'channel_removed'
  | 'delivery_resent'

/** An administrative change to record in a project's audit trail. */
export interface AdminEventInput {
  project_id: string
  type: AdminEventType
  /** What changed, e.g. `member:ana@example.com`, `key:ci`, `settings` (stored as the event's `action`). */
  subject: string
  /** Who changed it: a member's email, or `cli` for the operator. */
  actor: string
  /** Details (stored as the event's `reason`). */
  detail: string | null
  at: string
}

/** An admin change's event as its service describes it; the store adds the project the change is in. */
export type AdminChange = Omit<AdminEventInput, 'project_id'>

/**
 * Given to an admin mutation of the `Store`: builds its audit event from the mutation's result
 * (the new key's id, the channel's id). The store appends that event to the project's chain in
 * the same transaction as the change, so both commit or neither does. No event is written when
 * the mutation changed nothing (it returns `false` or `null`, or a revoked key was revoked
 * already); a mutation that fails writes neither.
 */
export type AdminAudit<R> = (result: R) => AdminChange

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

/** An account. It holds no GitHub login: that is per membership, so one project cannot change what another trusts. */
export interface User {
  id: string // usr_…
  email: string
  created_at: string
}

export interface UserWithPassword extends User {
  password_hash: string
}

export interface Member extends User {
  role: Role
  /** This project's link of the member to a GitHub login (read by its self-approval rule). */
  github_login: string | null
  /** This project's link of the member to a Slack user id (who decides from a Slack message). */
  slack_user_id: string | null
}

/** A project membership as seen from the user: the project, their role and their GitHub login and Slack user there. */
export type ProjectMembership = Project & { role: Role; github_login: string | null; slack_user_id: string | null }

/** A one-time link that makes whoever accepts it (signed in as `email`) a member of a project. */
export interface Invitation {
  id: string // inv_…
  project_id: string
  email: string
  role: Role
  github_login: string | null
  /** Who created it (a member's email, or `cli` for the operator). */
  created_by: string
  created_at: string
  expires_at: string
  accepted_at: string | null
  revoked_at: string | null
}

export interface NewInvitation {
  project_id: string
  email: string
  role: Role
  github_login: string | null
  /** sha256 of the link's token, hex. The token itself is never stored. */
  token_hash: string
  created_by: string
  expires_at: string
}

/** Who accepts an invitation: an existing account, or a new one created in the same transaction. */
export type InvitationAcceptor = { user_id: string } | { new_password_hash: string }

/** An accepted invitation and the account that accepted it. */
export interface AcceptedInvitation {
  invitation: Invitation
  user: User
}

/** A new API key: only its hash and a short prefix are stored. */
export interface NewApiKey {
  project_id: string
  name: string
  scopes: KeyScope[]
  key_hash: string
  prefix: string
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
  /** Id of the API key that created it (`null` for approvals from before it was recorded, or from a workflow identity). */
  requested_by_key_id: string | null
  /**
   * The verified identity of the workflow that asked (OIDC claims), apart from the free
   * `context`; `null` (or absent, in records built by hand) when an API key asked.
   */
  requester_claims?: RequesterClaims | null
  /**
   * The policy rule resolved when it was created (who may vote, how many must approve);
   * `null` (or absent) for approvals from before policies: the any-one-member rule.
   */
  applied_policy?: AppliedPolicy | null
  /** The votes counted so far, oldest first (absent in records built by hand). */
  votes?: StoredVote[]
}

/** A recorded vote: the wire's `Vote` plus the voter's email (`null` for an API key). */
export interface StoredVote extends Vote {
  email: string | null
}

/** A vote to record on a pending approval. */
export interface NewVote {
  /** A member's email or `key:<name>`; one vote per voter per approval. */
  by: string
  email: string | null
  decision: Decision
  reason: string | null
  /** Default now. */
  at?: string
}

/**
 * Counts an approval's votes (oldest first, the new one last) under its rule: whether it
 * settles, and which requirements each voter (`by`) counts toward. Pure: `recordVote` calls it
 * inside the vote's transaction, so two concurrent votes are never counted against stale votes.
 */
export type VoteCounter = (votes: ReadonlyArray<StoredVote>) => { outcome: 'pending' | 'approved' | 'rejected'; groups: Record<string, string[]> }

/** Outcome of `recordVote`. `null` from the store means "no such approval in this project". */
export type VoteResult =
  /** Counted; `settled` when it made the approval approved or rejected (`event` is then that event). */
  | { recorded: true; settled: boolean; approval: Approval; event: AuditEvent }
  /** Not counted: the approval is no longer pending (`not_pending`), or this voter already voted (`already_voted`). */
  | { recorded: false; refused: 'not_pending' | 'already_voted'; approval: Approval }

/**
 * What a verified OIDC token said about the workflow run that asked (GitHub's claim names).
 * Claims the token did not carry are `null`. Never taken from the requester's free `context`.
 */
export interface RequesterClaims {
  /** The token's `iss`, e.g. `https://token.actions.githubusercontent.com`. */
  issuer: string
  repository: string
  ref: string | null
  sha: string | null
  workflow_ref: string | null
  run_id: string | null
  run_attempt: string | null
  actor: string | null
  triggering_actor: string | null
  environment: string | null
  event_name: string | null
}

/** The claim names `RequesterClaims` holds besides `issuer`, in the order they are shown. */
export const REQUESTER_CLAIM_NAMES = ['repository', 'ref', 'sha', 'workflow_ref', 'run_id', 'run_attempt', 'actor', 'triggering_actor', 'environment', 'event_name'] as const

/**
 * A project's trust rule: a token from `issuer` for `audience` whose claims match the given
 * `repository` (and `ref`, `environment`, `workflow_ref` when set) may request approvals.
 */
export interface TrustRule {
  id: string // trs_…
  project_id: string
  issuer: string
  audience: string
  repository: string
  ref: string | null
  environment: string | null
  workflow_ref: string | null
  created_at: string
}

export interface NewTrustRule {
  project_id: string
  issuer: string
  audience: string
  repository: string
  ref?: string | null
  environment?: string | null
  workflow_ref?: string | null
}

/**
 * Which project gates a GitHub repository's deployments (the GitHub App's deployment
 * protection rule): deliveries for `repository` — in `environment` and from installation
 * `installation_id` when those are set — create their approvals in `project_id`.
 */
export interface GithubMapping {
  id: string // ghm_…
  project_id: string
  /** `owner/repo` as the admin wrote it; compared case-insensitively, as GitHub does. */
  repository: string
  /** `null`: every environment of the repository. Compared case-insensitively. */
  environment: string | null
  /** `null`: whichever installation of the App delivers it. */
  installation_id: string | null
  created_at: string
}

export interface NewGithubMapping {
  project_id: string
  repository: string
  environment?: string | null
  installation_id?: string | null
}

/** Where a GitHub-originated approval's answer goes, and how far its callback got. */
export type GithubCallbackStatus = 'pending' | 'done' | 'failed'

/** A deployment GitHub asked the App to gate: the approval it became and the callback it is owed. */
export interface GithubGate {
  approval_id: string
  project_id: string
  /** `X-GitHub-Delivery` of the webhook that asked: a second delivery with it creates nothing. */
  delivery_id: string
  installation_id: string
  /** `owner/repo` from the payload. */
  repository: string
  environment: string
  run_id: string
  /** `pending` until GitHub accepted the answer (`done`) or refused it for good (`failed`). */
  callback: GithubCallbackStatus
  attempts: number
  /** When the worker may next try (also a lease while an attempt is in flight). */
  next_attempt_at: string
  last_error: string | null
  completed_at: string | null
  created_at: string
}

export type NewGithubGate = Pick<GithubGate, 'approval_id' | 'project_id' | 'delivery_id' | 'installation_id' | 'repository' | 'environment' | 'run_id'> & { at?: string }

/** The outcome of one callback attempt: finished (`done`/`failed`) or to be retried at `next_attempt_at`. */
export type GithubCallbackAttempt =
  | { callback: 'done' | 'failed'; at: string; error: string | null }
  | { callback: 'pending'; at: string; next_attempt_at: string; error: string }

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
  /** sha256 of the approval's context JSON as created (approval events since schema 3; null before). */
  context_hash: string | null
  /**
   * sha256 of the approval's verified requester claims as created (`created` events since
   * schema 6, also when there were none: the hash of `null`); null or absent before.
   */
  claims_hash?: string | null
  prev_hash: string
  /** Unkeyed sha256 chain link (anyone can recompute it from an export). */
  hash: string
  /** The previous event's `mac` (64 zeros for the first event). */
  prev_mac: string | null
  /** HMAC-SHA256 with the audit key over every other field: what proves the event (null only if never keyed). */
  mac: string | null
  /** Set on events written before the chain was keyed: when the upgrade gave them their MAC. */
  sealed_at: string | null
}

export interface Page<T> {
  items: T[]
  /** Opaque; pass back as `cursor` for the next (older) page. `null` on the last page. */
  next_cursor: string | null
}

export interface AuditFilter {
  action?: string
  agent?: string
  /** Matches `actor` of approved/rejected events and of votes. */
  approver?: string
  outcome?: AuditEventType
  /** Inclusive ISO bounds on `at`. */
  from?: string
  to?: string
  cursor?: string
  limit?: number
}

export type AuditVerification =
  /** `legacy_events`: how many events were written before the chain was keyed (present when > 0). */
  | { ok: true; events: number; head: string; legacy_events?: number }
  /**
   * `seq` is the first event that is edited (`mac_mismatch`: changed without the audit key),
   * or where a deleted event should be.
   */
  | { ok: false; events: number; seq: number; problem: 'hash_mismatch' | 'broken_link' | 'missing_event' | 'mac_mismatch' }
  /** An approval's row disagrees with its audit events (`seq`: its deciding event, 0 when it has none). */
  | { ok: false; events: number; seq: number; problem: 'approval_mismatch'; approval_id: string; detail: string }

export interface AuditVerifyOptions {
  /** Re-verify every event instead of continuing from the last verified one. */
  full?: boolean
}

/** A checkpoint checked against the chain: still extended by it, or why not. */
export type CheckpointVerification =
  | { ok: true; checkpoint: AuditCheckpoint; verification: AuditVerification }
  | { ok: false; problem: string; verification?: AuditVerification }

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
  /** The verified claims of a workflow identity that asked (default `null`). */
  requester_claims?: RequesterClaims | null
  /** Creation time; default now. Idempotency keys count their age from it. */
  at?: string
  /** The policy rule resolved for it (default `null`: the any-one-member rule). */
  applied_policy?: AppliedPolicy | null
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

/** A new version of a project's policy document (checked by the admin service before it gets here). */
export interface NewPolicyVersion {
  project_id: string
  /** The document exactly as submitted; `null` clears the policy (the project goes back to any one member). */
  source: string | null
  format: 'yaml' | 'json'
  /** sha256 of `source`, hex (ignored when clearing). */
  hash: string
  created_by: string
  /** Default now. */
  at?: string
}

/** A project's notification channel. Secrets are never part of it (see `NewChannel.secret`). */
export interface Channel {
  id: string // chn_…
  project_id: string
  kind: ChannelKind
  name: string
  /** Non-secret settings of the kind: webhook `url`; email `to` (or the eligible members); Slack `channel`. */
  config: Record<string, string>
  /** The events this channel receives. */
  events: NotificationEventType[]
  remind_after_ms: number | null
  escalate_after_ms: number | null
  /** The channel that escalations go to. */
  escalate_to: string | null
  created_at: string
}


/** A new notification channel. The secret is stored encrypted (see `secret-box.ts`) and never listed. */
export interface NewChannel {
  project_id: string
  kind: ChannelKind
  name: string
  config: Record<string, string>
  events: NotificationEventType[]
  remind_after_ms: number | null
  escalate_after_ms: number | null
  /** Id of a channel of the same project. */
  escalate_to: string | null
  secret: string | null
}

/**
 * `pending`: waiting for its next attempt (or its first); `sending`: claimed by a worker until
 * `lease_until` (a crashed worker's claim lapses); `delivered`; `failed`: given up (a receiver
 * refusing it for good, or still failing after the retry window).
 */
export type DeliveryStatus = 'pending' | 'sending' | 'delivered' | 'failed'

/** One event to deliver to one channel: the outbox row and its delivery log. */
export interface Delivery {
  id: string // dlv_…
  channel_id: string
  project_id: string
  approval_id: string
  /** The audit event it announces (null for reminders and escalations, which the worker makes). */
  audit_seq: number | null
  event_type: NotificationEventType
  /** When the announced event happened. */
  occurred_at: string
  status: DeliveryStatus
  attempts: number
  next_attempt_at: string
  last_error: string | null
  response_code: number | null
  /** What the sender kept from the receiver (e.g. a Slack message's `ts`). */
  remote_ref: string | null
  created_at: string
  delivered_at: string | null
}

/** A delivery claimed for one attempt, with the sender's handle from earlier deliveries of the same approval to the channel. */
export interface ClaimedDelivery extends Delivery {
  previous_remote_ref: string | null
}

/** The outcome of one attempt, as the worker records it. */
export type DeliveryAttempt =
  | { status: 'delivered'; at: string; response_code: number | null; remote_ref: string | null }
  | { status: 'pending'; at: string; response_code: number | null; error: string; next_attempt_at: string }
  | { status: 'failed'; at: string; response_code: number | null; error: string }

/** How a channel's deliveries are doing, for its row in the settings page and `notify list`. */
export interface ChannelHealth {
  channel_id: string
  /** Deliveries waiting for a retry after at least one failed attempt. */
  retrying: number
  /** Deliveries given up. */
  failed: number
  delivered: number
  /** The newest failure's error and time, if any. */
  last_error: string | null
  last_error_at: string | null
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
  updateProjectSettings(id: string, patch: Partial<ProjectSettings>, audit?: AdminAudit<Project>): Promise<Project>

  // users and memberships
  createUser(input: { email: string; password_hash: string }): Promise<User>
  getUser(id: string): Promise<User | null>
  /** Emails are compared case-insensitively. */
  getUserByEmail(email: string): Promise<UserWithPassword | null>
  /** Sets a new password hash. Callers also end the user's sessions (`deleteUserSessions`). */
  setPasswordHash(id: string, passwordHash: string): Promise<User>
  /** Adds or changes a membership (an existing membership keeps its GitHub login unless one is given). */
  setMembership(projectId: string, userId: string, role: Role, options?: { github_login?: string | null }, audit?: AdminAudit<void>): Promise<void>
  /** Links (or with null unlinks) a member's GitHub login in this project only; false when not a member. */
  setMemberGithubLogin(projectId: string, userId: string, login: string | null, audit?: AdminAudit<boolean>): Promise<boolean>
  /**
   * Links (or with null unlinks) a member's Slack user id in this project only; false when not a
   * member. A Slack user id names at most one member per project (`conflict` otherwise).
   */
  setMemberSlackUser(projectId: string, userId: string, slackUserId: string | null, audit?: AdminAudit<boolean>): Promise<boolean>
  /** The member of this project linked to a Slack user id, or null. */
  getMemberBySlackUser(projectId: string, slackUserId: string): Promise<Member | null>
  removeMembership(projectId: string, userId: string, audit?: AdminAudit<boolean>): Promise<boolean>
  getMembership(projectId: string, userId: string): Promise<Role | null>
  listMembers(projectId: string): Promise<Member[]>
  listProjectsForUser(userId: string): Promise<ProjectMembership[]>

  // invitations (only the token's hash is stored)
  createInvitation(input: NewInvitation, audit?: AdminAudit<Invitation>): Promise<Invitation>
  /** An invitation by its token's hash, whatever its state (the caller checks expiry, use and revocation). */
  getInvitationByToken(tokenHash: string): Promise<Invitation | null>
  /**
   * Uses an invitation once: marks it accepted and adds the membership (keeping a higher
   * existing role), creating the account first for a `new_password_hash` acceptor — all in
   * one transaction. `null` when it is unknown, used, revoked or expired at `at`, or (for a
   * new account) the email got an account meanwhile.
   */
  acceptInvitation(tokenHash: string, acceptor: InvitationAcceptor, at: string, audit?: AdminAudit<AcceptedInvitation>): Promise<AcceptedInvitation | null>
  /** Invitations of a project neither accepted nor revoked (expired ones included), newest first. */
  listOpenInvitations(projectId: string): Promise<Invitation[]>
  /** True when a still-open invitation of this project was revoked. */
  revokeInvitation(projectId: string, id: string, audit?: AdminAudit<boolean>): Promise<boolean>

  // API keys (only hashes are stored)
  createApiKey(input: NewApiKey, audit?: AdminAudit<ApiKeyInfo>): Promise<ApiKeyInfo>
  /** A live (not revoked) key by its hash, or null. */
  findApiKey(keyHash: string): Promise<ApiKeyInfo | null>
  touchApiKey(id: string, at: string): Promise<void>
  listApiKeys(projectId: string): Promise<ApiKeyInfo[]>
  revokeApiKey(projectId: string, keyId: string, audit?: AdminAudit<boolean>): Promise<boolean>

  // trust rules (workflow identities allowed to request)
  createTrustRule(input: NewTrustRule, audit?: AdminAudit<TrustRule>): Promise<TrustRule>
  listTrustRules(projectId: string): Promise<TrustRule[]>
  /** Every project's rules naming `issuer` (exactly, as stored), oldest first: what a token from it is checked against. */
  listTrustRulesForIssuer(issuer: string): Promise<TrustRule[]>
  /** True when the rule existed in the project. */
  removeTrustRule(projectId: string, id: string, audit?: AdminAudit<boolean>): Promise<boolean>

  // policy documents (versioned; the newest is the current one)
  /**
   * Stores the next version of the project's policy (1, 2, …) and its `policy_set` (or, when
   * clearing, `policy_cleared`) audit event carrying the hash and who made it, in one transaction.
   */
  setPolicy(input: NewPolicyVersion): Promise<PolicyVersion>
  /** The current policy version, or null when the project has none (never set, or cleared last). */
  getPolicy(projectId: string): Promise<PolicyVersion | null>
  /** Every version, newest first (cleared ones included, marked `cleared`). */
  listPolicyVersions(projectId: string): Promise<PolicyVersion[]>
  // GitHub App: which project gates a repository's deployments, and the gates GitHub asked for
  /** `StoreError('conflict')` when the same repository, environment and installation is mapped already (in any project). */
  createGithubMapping(input: NewGithubMapping, audit?: AdminAudit<GithubMapping>): Promise<GithubMapping>
  listGithubMappings(projectId: string): Promise<GithubMapping[]>
  /** Every project's mappings of `repository` (case-insensitive), oldest first: what a delivery is matched against. */
  listGithubMappingsForRepository(repository: string): Promise<GithubMapping[]>
  /** The removed mapping, or null when the project has none with this id. */
  removeGithubMapping(projectId: string, id: string, audit?: AdminAudit<GithubMapping>): Promise<GithubMapping | null>
  /** Records the gate of a new approval; false (nothing written) when the approval or the delivery has one already. */
  createGithubGate(input: NewGithubGate): Promise<boolean>
  getGithubGateByDelivery(deliveryId: string): Promise<GithubGate | null>
  /**
   * The project's gates, newest first (at most `limit`, default and cap the page limit): how
   * far each answer to GitHub got, for the dashboard and `github list`. With `approvalId`, that
   * approval's gate only — none when the approval is another project's.
   */
  listGithubGates(projectId: string, options?: { approvalId?: string; limit?: number }): Promise<GithubGate[]>
  /** Gates whose approval is still pending (their callback is owed once it settles), oldest first. */
  listGithubGatesAwaitingDecision(limit: number): Promise<GithubGate[]>
  /**
   * Leases up to `limit` gates whose approval is settled, whose callback is `pending` and due
   * (`next_attempt_at` ≤ `now`): moves their `next_attempt_at` to `leaseUntil` in one
   * transaction (PostgreSQL: skipping rows another replica holds) and returns them.
   */
  claimGithubCallbacks(now: string, leaseUntil: string, limit: number): Promise<GithubGate[]>
  /** Records one callback attempt (counts it, keeps its error). */
  recordGithubCallbackAttempt(approvalId: string, attempt: GithubCallbackAttempt): Promise<void>

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
  /**
   * First decision wins. Records the `approved`/`rejected` audit event in the same transaction.
   * Writes no vote: the approval service decides through `recordVote`; this settles directly.
   */
  decideApproval(projectId: string, id: string, input: { decision: Decision; reason: string | null; decided_by: string; at?: string }): Promise<ChangeResult | null>
  /**
   * Records one vote on a pending approval and, in the same transaction, settles it when
   * `count` says so: a vote that settles it is its `approved`/`rejected` audit event (by the
   * voter, with the voter's reason); any other vote is a `vote_approve`/`vote_reject` event.
   * Votes on one approval are serialised, so concurrent votes are each counted once and only
   * one of them settles it. Nothing is written when it is refused.
   */
  recordVote(projectId: string, id: string, vote: NewVote, count: VoteCounter): Promise<VoteResult | null>
  /**
   * Withdraws a pending approval: `cancelled` + audit `cancelled`; with `timed_out` (the
   * requester gave up at its deadline) `expired` + audit `timed_out` by `system`, as if the
   * server expired it; the reason ends with "; withdrawn by <by>".
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
  /**
   * Checks the project's keyed chain (from the last verified event unless `full`, in chunks
   * that yield to the event loop) and that every approval's row agrees with its audit events.
   */
  verifyAudit(projectId: string, options?: AuditVerifyOptions): Promise<AuditVerification>
  /**
   * Null when a settled approval's status is proven by its audit event (exists, MAC verifies,
   * agrees with the row); else a sentence saying what disagrees. Pending records need no proof.
   * One indexed lookup and one HMAC.
   */
  verifyDecision(projectId: string, approval: Approval): Promise<string | null>
  /** A checkpoint of the verified chain head, signed with the audit key. Fails when the chain does not verify. */
  auditCheckpoint(projectId: string): Promise<AuditCheckpoint>
  /** Whether the chain still extends `checkpoint` (parsed JSON): signature, project, head at its seq, and a full verification. */
  verifyAuditCheckpoint(projectId: string, checkpoint: unknown): Promise<CheckpointVerification>
  /**
   * Appends an administrative event (no approval) to the project's chain, on its own. A change
   * records its event through its mutation's `audit` instead, in the change's transaction.
   */
  recordAdminEvent(input: AdminEventInput): Promise<AuditEvent>

  // notification channels and their outbox (deliveries)
  /**
   * Adds a channel (its secret sealed under a key derived from the audit key). It announces
   * events after the project's current audit head, never older ones. `conflict` for a
   * duplicate name in the project; `not_found` for an `escalate_to` that is not this project's.
   */
  createChannel(input: NewChannel, audit?: AdminAudit<Channel>): Promise<Channel>
  getChannel(projectId: string, id: string): Promise<Channel | null>
  /**
   * A channel by id alone, in any project — for the server's own use where the caller proves
   * itself with the channel's secret (Slack's signed interactions name only the channel).
   */
  getChannelById(id: string): Promise<Channel | null>
  /** Oldest first. */
  listChannels(projectId: string): Promise<Channel[]>
  /** The channel's secret, decrypted; null when it has none or does not exist in the project. */
  getChannelSecret(projectId: string, id: string): Promise<string | null>
  /** Removes a channel with its deliveries; channels escalating to it stop escalating. True when it existed. */
  removeChannel(projectId: string, id: string, audit?: AdminAudit<boolean>): Promise<boolean>
  /**
   * The outbox step: turns audit events after each channel's cursor into delivery rows (the
   * events the channel subscribes to) and advances the cursor in the same transaction, at most
   * `limit` events per channel. Returns how many deliveries it added. Safe to run on several
   * replicas at once (each channel is materialised by one of them at a time).
   */
  materializeDeliveries(now: string, limit?: number): Promise<number>
  /**
   * Reminders and escalations due at `now`: for each pending approval of a channel with
   * `remind_after_ms`, an `approval.reminder` delivery every `remind_after_ms`; with
   * `escalate_after_ms`, one `approval.escalated` delivery to `escalate_to`. Returns how many it added.
   */
  enqueueReminders(now: string): Promise<number>
  /**
   * Claims up to `limit` deliveries due at `now` (pending, or sending with a lapsed lease),
   * each the oldest unfinished one of its (channel, approval) so events arrive in order:
   * marks them `sending` until `lease_until` and counts the attempt.
   */
  claimDeliveries(now: string, limit: number, leaseUntil: string): Promise<ClaimedDelivery[]>
  /** Records an attempt's outcome on a delivery this worker holds; false when its claim was lost. */
  finishDelivery(id: string, attempt: DeliveryAttempt): Promise<boolean>
  /** The earliest `next_attempt_at` (or lapsing lease) of claimable deliveries (not waiting behind an earlier one), for the worker's timer. */
  nextDeliveryDue(): Promise<string | null>
  /** A channel's deliveries, newest first. */
  listDeliveries(projectId: string, channelId: string, limit?: number): Promise<Delivery[]>
  /**
   * Sends a finished (or waiting) delivery again now; null when no such delivery in the project
   * (and, given `channelId`, of that channel) or it is being sent.
   */
  redeliver(projectId: string, deliveryId: string, now: string, channelId?: string, audit?: AdminAudit<Delivery>): Promise<Delivery | null>
  /** Delivery counts and the newest failure of each channel of the project. */
  channelHealth(projectId: string): Promise<ChannelHealth[]>

  // dashboard sessions
  createSession(session: Session): Promise<void>
  getSession(tokenHash: string, now: string): Promise<Session | null>
  deleteSession(tokenHash: string): Promise<void>
  /** Ends every session of a user (password change, removal, "sign out everywhere"); returns how many. */
  deleteUserSessions(userId: string): Promise<number>
  /**
   * Deletes every session whose `expires_at` ≤ `now` (they are already refused by `getSession`)
   * and returns how many went. Callers decide when to sweep; `createSession` does not.
   */
  deleteExpiredSessions(now: string): Promise<number>

  close(): Promise<void>
}

/** A signed statement that a project's chain had `head` at `seq`, kept outside the server. */
export interface AuditCheckpoint {
  project: string
  seq: number
  head: string
  at: string
  mac: string
}
