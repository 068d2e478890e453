/**
 * The backend-independent half of the store's writes and pages: the records a new project,
 * user or key starts as, what a decision or cancel changes, the audit event each approval
 * change appends, and how a newest-first page and its cursor come out of fetched rows.
 * Both backends use these so they cannot drift apart; the SQL stays in each backend.
 */
import { createHash } from 'node:crypto'
import { MAX_REASON_CHARS } from '../../contract/index.js'
import { newId } from '../auth/secrets.js'
import { claimsHash, contextHash, type AuditEventInput } from './audit-chain.js'
import { StoreError } from './errors.js'
import { checkScopes, DEFAULT_PROJECT_SETTINGS, encodeCursor, isoBound, mergeProjectSettings } from './inputs.js'
import { rowSeq, type Row } from './rows.js'
import type { AppliedPolicy, PolicyVersion } from '../policies/types.js'
import type { AdminAudit, AdminEventInput, ApiKeyInfo, Approval, Decision, GithubMapping, Invitation, KeyScope, NewApproval, NewGithubMapping, NewInvitation, NewPolicyVersion, NewTrustRule, NewVote, Page, Project, ProjectSettings, StoredVote, TrustRule, User, VoteCounter } from './types.js'

/** `last_used_at` is rewritten at most this often, so authenticating a request is not a write each time. */
const KEY_TOUCH_RESOLUTION_MS = 60_000

/** A new project with the default settings, patched by `settings` (checked). */
export function newProject(name: string, settings: Partial<ProjectSettings>): Project {
  return { id: newId('prj'), name, settings: mergeProjectSettings({ ...DEFAULT_PROJECT_SETTINGS }, settings), created_at: new Date().toISOString() }
}

/** A new user (the password hash is stored beside it, never returned). */
export function newUser(input: { email: string }): User {
  return { id: newId('usr'), email: input.email, created_at: new Date().toISOString() }
}

/** A new, open invitation (the token's hash is stored beside it, never returned). */
export function newInvitation(input: NewInvitation): Invitation {
  return {
    id: newId('inv'),
    project_id: input.project_id,
    email: input.email,
    role: input.role,
    github_login: input.github_login,
    created_by: input.created_by,
    created_at: new Date().toISOString(),
    expires_at: isoBound('expires_at', input.expires_at),
    accepted_at: null,
    revoked_at: null,
  }
}

/** A new pending approval; `contextJson` is the context as stored, so the record holds exactly what was written. */
export function newApprovalRecord(input: NewApproval, contextJson: string, createdAt: string): Approval {
  return {
    id: newId('apr'),
    project_id: input.project_id,
    action: input.action,
    context: JSON.parse(contextJson) as Record<string, unknown>,
    agent: input.agent,
    status: 'pending',
    reason: null,
    decided_by: null,
    decided_at: null,
    created_at: createdAt,
    expires_at: input.expires_at,
    idempotency_key: input.idempotency_key,
    requested_by: input.requested_by,
    requested_by_key_id: input.requested_by_key_id ?? null,
    requester_claims: input.requester_claims ?? null,
    applied_policy: input.applied_policy ?? null,
    votes: [],
  }
}

/** A new trust rule, its fields checked (`StoreError('invalid')` names the first bad one). */
export function newTrustRule(input: NewTrustRule): TrustRule {
  const required = (name: string, value: unknown): string => {
    if (typeof value !== 'string' || value.trim() === '' || value.length > 500 || /\s/.test(value)) {
      throw new StoreError('invalid', `trust rule ${name} must be 1-500 characters without spaces`)
    }
    return value
  }
  const optional = (name: string, value: unknown): string | null => (value === undefined || value === null ? null : required(name, value))
  return {
    id: newId('trs'),
    project_id: input.project_id,
    issuer: required('issuer', input.issuer).replace(/\/+$/, ''),
    audience: required('audience', input.audience),
    repository: required('repository', input.repository),
    ref: optional('ref', input.ref),
    environment: optional('environment', input.environment),
    workflow_ref: optional('workflow_ref', input.workflow_ref),
    created_at: new Date().toISOString(),
  }
}

/** A new, never used API key record (its scopes checked). */
export function newApiKeyInfo(input: { project_id: string; name: string; scopes: KeyScope[]; prefix: string }): ApiKeyInfo {
  return {
    id: newId('key'),
    project_id: input.project_id,
    name: input.name,
    scopes: checkScopes(input.scopes),
    prefix: input.prefix,
    created_at: new Date().toISOString(),
    last_used_at: null,
    revoked_at: null,
  }
}

/** A key's `last_used_at` is rewritten only when it is at or before this time (a minute before `at`). */
export function keyTouchThreshold(at: string): string {
  return new Date(Date.parse(isoBound('at', at)) - KEY_TOUCH_RESOLUTION_MS).toISOString()
}

/** What settling a pending approval writes: its final status, the reason, who, and when. */
export interface SettleChange {
  status: 'approved' | 'rejected' | 'cancelled' | 'expired'
  reason: string | null
  by: string
  at: string
}

/** The change a decision makes; anything but `approve` or `reject` is `StoreError('invalid')`. */
export function decisionChange(input: { decision: Decision; reason: string | null; decided_by: string; at?: string }): SettleChange {
  return { status: statusForDecision(input.decision), reason: input.reason, by: input.decided_by, at: input.at ?? new Date().toISOString() }
}

/**
 * The change a cancel (withdrawal by the requester) makes. When it gave up at its deadline
 * (`timed_out`) the approval expired: recorded by `system`, as when the expiry sweep notices
 * first, so a timeout reads the same whichever side saw it; the reason keeps who withdrew it.
 */
export function cancelChange(input: { reason: string | null; by: string; at?: string; timed_out?: boolean }): SettleChange {
  const at = input.at ?? new Date().toISOString()
  if (!input.timed_out) return { status: 'cancelled', reason: input.reason, by: input.by, at }
  const withdrawer = `; withdrawn by ${input.by}`
  const reason = (input.reason ?? 'no decision before the deadline').slice(0, Math.max(0, MAX_REASON_CHARS - withdrawer.length)) + withdrawer
  return { status: 'expired', reason: reason.slice(0, MAX_REASON_CHARS), by: SYSTEM_ACTOR, at }
}

/** Who expires approvals: the server's sweep, and the server on a requester's timed-out withdrawal. */
export const SYSTEM_ACTOR = 'system'

/**
 * What recording `vote` on `approval` (read inside the vote's transaction, with its votes)
 * writes: nothing when it is refused; else the vote (with its counted groups), the earlier
 * votes whose counted groups changed (`regrouped`; `votes` is all of them as now counted), and
 * either the settling change (the vote decides it) or a `vote_approve`/`vote_reject` event.
 */
export type VotePlan =
  | { refused: 'not_pending' | 'already_voted' }
  | { refused: null; vote: StoredVote; votes: StoredVote[]; regrouped: StoredVote[]; settle: SettleChange | null }

export function planVote(approval: Approval, input: NewVote, count: VoteCounter): VotePlan {
  if (approval.status !== 'pending') return { refused: 'not_pending' }
  const earlier = approval.votes ?? []
  if (earlier.some((vote) => vote.by === input.by)) return { refused: 'already_voted' }
  statusForDecision(input.decision)
  const fresh: StoredVote = { by: input.by, email: input.email, decision: input.decision, reason: input.reason, at: input.at ?? new Date().toISOString(), groups: [] }
  const counted = count([...earlier, fresh])
  const votes = [...earlier, fresh].map((vote) => ({ ...vote, groups: counted.groups[vote.by] ?? [] }))
  const vote = votes[votes.length - 1]
  // Only these need writing back: most votes keep the groups they were stored with.
  const regrouped = votes.slice(0, earlier.length).filter((recounted, i) => !sameGroups(recounted.groups, earlier[i].groups))
  const settle: SettleChange | null = counted.outcome === 'pending' ? null : { status: counted.outcome, reason: vote.reason, by: vote.by, at: vote.at }
  return { refused: null, vote, votes, regrouped, settle }
}

function sameGroups(a: readonly string[], b: readonly string[]): boolean {
  return a.length === b.length && a.every((group, i) => group === b[i])
}

/** The audit event of a vote that does not settle its approval: the decision is the type, so the MAC covers it. */
export function voteEvent(approval: Approval, vote: StoredVote, createdContextHash: string | null): AuditEventInput {
  return auditEventOf(approval, vote.decision === 'approve' ? 'vote_approve' : 'vote_reject', vote.by, vote.reason, vote.at, createdContextHash ?? contextHash(approval.context))
}

/** `approve` → `approved`, `reject` → `rejected`. */
export function statusForDecision(decision: Decision): 'approved' | 'rejected' {
  if (decision === 'approve') return 'approved'
  if (decision === 'reject') return 'rejected'
  throw new StoreError('invalid', `decision must be approve or reject, not ${JSON.stringify(decision)}`)
}

/**
 * The `created` audit event of a new approval, by its requester; it records the hash of the
 * context and the verified claims and, as its reason, the policy rule it is decided under (`policyNote`), so the trail
 * says which policy version applied and the audit MAC covers the stored snapshot.
 */
export function createdEvent(approval: Approval): AuditEventInput {
  return { ...auditEventOf(approval, 'created', approval.requested_by, policyNote(approval.applied_policy), approval.created_at, contextHash(approval.context)), claims_hash: claimsHash(approval.requester_claims) }
}

/**
 * `policy v3, rule "production deploys", sha256 <hex of the snapshot's JSON>` — what a `created`
 * event records about the applied policy; `null` when none applies (the any-one-member rule).
 */
export function policyNote(applied: AppliedPolicy | null | undefined): string | null {
  if (!applied) return null
  const hash = createHash('sha256').update(JSON.stringify(applied), 'utf8').digest('hex')
  return `policy v${applied.version ?? 'none'}, rule ${JSON.stringify(applied.rule)}, sha256 ${hash}`
}

/** Why a vote may not be counted on `approval`: its stored rule differs from the one its `created` event recorded (an edited database). */
export function snapshotProblem(approval: Approval, createdReason: string | null): string | null {
  if ((createdReason ?? null) === policyNote(approval.applied_policy)) return null
  return `approval ${approval.id}: its policy rule in the database differs from the one its created event recorded; the database was changed outside approval-gate (run \`approval-gate audit verify\`)`
}

/**
 * The audit event of a settled approval (`approved`, `rejected`, `cancelled`, or `timed_out`
 * for `expired`). `createdContextHash` is the context hash its `created` event recorded, so
 * a context edited while pending does not become the one the decision vouches for.
 */
export function settledEvent(approval: Approval, change: SettleChange, createdContextHash: string | null): AuditEventInput {
  const type = change.status === 'expired' ? 'timed_out' : change.status
  return auditEventOf(approval, type, change.by, change.reason, change.at, createdContextHash ?? contextHash(approval.context))
}

/** The `timed_out` audit event of an approval expired at `now`, by `system`. */
export function timedOutEvent(approval: Approval, now: string, createdContextHash: string | null): AuditEventInput {
  return auditEventOf(approval, 'timed_out', SYSTEM_ACTOR, null, now, createdContextHash ?? contextHash(approval.context))
}

function auditEventOf(approval: Approval, type: AuditEventInput['type'], actor: string, reason: string | null, at: string, context_hash: string): AuditEventInput {
  return { project_id: approval.project_id, type, approval_id: approval.id, action: approval.action, agent: approval.agent, actor, reason, at, context_hash }
}

/**
 * A newest-first page from rows fetched with `LIMIT limit + 1`: the extra row only says
 * there is more, and the cursor points below the last row shown.
 */
export function pageOf<T>(rows: Row[], limit: number, toItem: (row: Row) => T, cursorKind: 'apr' | 'aud'): Page<T> {
  const more = rows.length > limit
  const shown = more ? rows.slice(0, limit) : rows
  return { items: shown.map(toItem), next_cursor: more ? encodeCursor(cursorKind, rowSeq(shown[shown.length - 1])) : null }
}

/** Whether an admin mutation's result says it changed something: `false` and `null` mean it did not (no event). */
export function changedSomething(result: unknown): boolean {
  return result !== false && result !== null
}

/** The chain input of an admin change's event, in the project the change was made in (whatever `audit` says). */
export function adminChangeInput<R>(projectId: string, audit: AdminAudit<R>, result: R): AuditEventInput {
  return adminAuditInput({ ...audit(result), project_id: projectId })
}

/** The chain input of an administrative event: no approval, the subject as `action`, the detail as `reason`. */
export function adminAuditInput(input: AdminEventInput): AuditEventInput {
  return { project_id: input.project_id, type: input.type, approval_id: '', action: input.subject, agent: null, actor: input.actor, reason: input.detail, context_hash: null, at: isoBound('at', input.at) }
}

/**
 * The row a new policy version is stored as (`version` is the next number for the project)
 * and the admin event recorded with it: `policy_set` with the hash, or `policy_cleared`.
 */
export function newPolicyVersion(input: NewPolicyVersion, version: number): { policy: PolicyVersion; event: AuditEventInput } {
  const cleared = input.source === null
  if (!cleared && input.source === '') throw new StoreError('invalid', 'a policy document is not empty (clear the policy instead)')
  if (!cleared && !/^[0-9a-f]{64}$/.test(input.hash)) throw new StoreError('invalid', 'a policy version carries the sha256 of its document, hex')
  if (input.format !== 'yaml' && input.format !== 'json') throw new StoreError('invalid', 'a policy document is yaml or json')
  const at = isoBound('at', input.at ?? new Date().toISOString())
  const policy: PolicyVersion = {
    project_id: input.project_id,
    version,
    source: input.source ?? '',
    format: input.format,
    hash: cleared ? '' : input.hash,
    created_by: input.created_by,
    created_at: at,
    cleared,
  }
  const detail = cleared ? `version ${version}: policy removed, any one member approves` : `version ${version}, ${policy.format}, sha256 ${policy.hash}`
  const event = adminAuditInput({ project_id: input.project_id, type: cleared ? 'policy_cleared' : 'policy_set', subject: 'policy', actor: input.created_by, detail, at })
  return { policy, event }
}

/** GitHub's `owner/repo`: the characters its names allow, one slash. */
const GITHUB_REPOSITORY_PATTERN = /^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/

/** A new GitHub repository mapping, its fields checked (`StoreError('invalid')` names the first bad one). */
export function newGithubMapping(input: NewGithubMapping): GithubMapping {
  if (typeof input.repository !== 'string' || !GITHUB_REPOSITORY_PATTERN.test(input.repository)) {
    throw new StoreError('invalid', 'repository must be owner/repo (letters, digits, dots, dashes, underscores)')
  }
  const environment = input.environment ?? null
  if (environment !== null && (typeof environment !== 'string' || environment.trim() === '' || environment.length > 255 || /[\p{Cc}\p{Cf}]/u.test(environment))) {
    throw new StoreError('invalid', 'environment must be 1-255 characters without control or invisible characters')
  }
  const installation = input.installation_id ?? null
  if (installation !== null && (typeof installation !== 'string' || !/^[1-9]\d{0,19}$/.test(installation))) {
    throw new StoreError('invalid', 'installation must be a GitHub App installation id (a positive number)')
  }
  return { id: newId('ghm'), project_id: input.project_id, repository: input.repository, environment, installation_id: installation, created_at: new Date().toISOString() }
}
