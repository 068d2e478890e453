/**
 * Turns database rows (SQLite or PostgreSQL: both backends use the same column names and
 * text timestamps) into the store's types. Columns are read with checks so a damaged or
 * hand-edited database fails with a message naming the column instead of leaking wrong types.
 */
import { parseStoredSettings } from './inputs.js'
import type { AppliedPolicy, PolicyVersion } from '../policies/types.js'
import type { ApiKeyInfo, Approval, ApprovalStatus, AuditEvent, AuditEventType, GithubCallbackStatus, GithubGate, GithubMapping, Invitation, KeyScope, Member, Project, ProjectMembership, RequesterClaims, Role, Session, StoredVote, TrustRule, User, UserWithPassword } from './types.js'

export type Row = Record<string, unknown>

/** The column readers, shared by every row mapper of the store. */
export function text(row: Row, column: string): string {
  const value = row[column]
  if (typeof value !== 'string') throw new Error(`corrupt database: column ${column} should be text`)
  return value
}

export function textOrNull(row: Row, column: string): string | null {
  const value = row[column]
  return value === null || value === undefined ? null : text(row, column)
}

/** An integer column; PostgreSQL returns `bigint` as a decimal string. */
export function integer(row: Row, column: string): number {
  const value = row[column]
  const number = typeof value === 'string' && /^-?\d+$/.test(value) ? Number(value) : value
  if (typeof number !== 'number' || !Number.isSafeInteger(number)) throw new Error(`corrupt database: column ${column} should be an integer`)
  return number
}

export function integerOrNull(row: Row, column: string): number | null {
  const value = row[column]
  return value === null || value === undefined ? null : integer(row, column)
}

export function toProject(row: Row): Project {
  return { id: text(row, 'id'), name: text(row, 'name'), settings: parseStoredSettings(text(row, 'settings')), created_at: text(row, 'created_at') }
}

export function toUser(row: Row): User {
  return { id: text(row, 'id'), email: text(row, 'email'), created_at: text(row, 'created_at') }
}

export function toUserWithPassword(row: Row): UserWithPassword {
  return { ...toUser(row), password_hash: text(row, 'password_hash') }
}

/** A member row: the user's columns plus the membership's `role`, `member_github_login` and `slack_user_id`. */
export function toMember(row: Row): Member {
  return { ...toUser(row), role: text(row, 'role') as Role, github_login: textOrNull(row, 'member_github_login'), slack_user_id: textOrNull(row, 'slack_user_id') }
}

/** A project row plus the membership's `role`, `member_github_login` and `slack_user_id`. */
export function toProjectMembership(row: Row): ProjectMembership {
  return { ...toProject(row), role: text(row, 'role') as Role, github_login: textOrNull(row, 'member_github_login'), slack_user_id: textOrNull(row, 'slack_user_id') }
}

export function toInvitation(row: Row): Invitation {
  return {
    id: text(row, 'id'),
    project_id: text(row, 'project_id'),
    email: text(row, 'email'),
    role: text(row, 'role') as Role,
    github_login: textOrNull(row, 'github_login'),
    created_by: text(row, 'created_by'),
    created_at: text(row, 'created_at'),
    expires_at: text(row, 'expires_at'),
    accepted_at: textOrNull(row, 'accepted_at'),
    revoked_at: textOrNull(row, 'revoked_at'),
  }
}

export function toApiKey(row: Row): ApiKeyInfo {
  return {
    id: text(row, 'id'),
    project_id: text(row, 'project_id'),
    name: text(row, 'name'),
    scopes: JSON.parse(text(row, 'scopes')) as KeyScope[],
    prefix: text(row, 'prefix'),
    created_at: text(row, 'created_at'),
    last_used_at: textOrNull(row, 'last_used_at'),
    revoked_at: textOrNull(row, 'revoked_at'),
  }
}

/** An approval row with its votes (oldest first; each backend reads them with one query per page of approvals). */
export function toApproval(row: Row, votes: StoredVote[] = []): Approval {
  return {
    id: text(row, 'id'),
    project_id: text(row, 'project_id'),
    action: text(row, 'action'),
    context: JSON.parse(text(row, 'context')) as Record<string, unknown>,
    agent: textOrNull(row, 'agent'),
    status: text(row, 'status') as ApprovalStatus,
    reason: textOrNull(row, 'reason'),
    decided_by: textOrNull(row, 'decided_by'),
    decided_at: textOrNull(row, 'decided_at'),
    created_at: text(row, 'created_at'),
    expires_at: text(row, 'expires_at'),
    idempotency_key: textOrNull(row, 'idempotency_key'),
    requested_by: text(row, 'requested_by'),
    requested_by_key_id: textOrNull(row, 'requested_by_key_id'),
    requester_claims: requesterClaims(textOrNull(row, 'requester_claims')),
    applied_policy: appliedPolicy(textOrNull(row, 'applied_policy')),
    votes,
  }
}

/** The stored JSON of the policy rule resolved at creation, or `null` (the any-one-member rule). */
function appliedPolicy(json: string | null): AppliedPolicy | null {
  if (json === null) return null
  const parsed = JSON.parse(json) as unknown
  if (typeof parsed !== 'object' || parsed === null || !Array.isArray((parsed as AppliedPolicy).requirements)) {
    throw new Error('corrupt database: column applied_policy should be a JSON object with requirements')
  }
  return parsed as AppliedPolicy
}

/** A `votes` row. */
export function toStoredVote(row: Row): StoredVote {
  const groups = JSON.parse(text(row, 'groups')) as unknown
  if (!Array.isArray(groups) || !groups.every((group) => typeof group === 'string')) throw new Error('corrupt database: column groups should be a JSON list of names')
  const decision = text(row, 'decision')
  if (decision !== 'approve' && decision !== 'reject') throw new Error('corrupt database: column decision should be approve or reject')
  return { by: text(row, 'voter'), email: textOrNull(row, 'email'), decision, reason: textOrNull(row, 'reason'), at: text(row, 'at'), groups: groups as string[] }
}

/** Votes rows (of many approvals, each approval's oldest first) grouped by `approval_id`. */
export function votesByApproval(rows: Row[]): Map<string, StoredVote[]> {
  const byApproval = new Map<string, StoredVote[]>()
  for (const row of rows) {
    const id = text(row, 'approval_id')
    const list = byApproval.get(id) ?? []
    list.push(toStoredVote(row))
    byApproval.set(id, list)
  }
  return byApproval
}

/** The stored JSON of verified requester claims, or `null`. */
function requesterClaims(json: string | null): RequesterClaims | null {
  if (json === null) return null
  const parsed = JSON.parse(json) as unknown
  if (typeof parsed !== 'object' || parsed === null || typeof (parsed as RequesterClaims).repository !== 'string') {
    throw new Error('corrupt database: column requester_claims should be a JSON object with a repository')
  }
  return parsed as RequesterClaims
}

export function toTrustRule(row: Row): TrustRule {
  return {
    id: text(row, 'id'),
    project_id: text(row, 'project_id'),
    issuer: text(row, 'issuer'),
    audience: text(row, 'audience'),
    repository: text(row, 'repository'),
    ref: textOrNull(row, 'ref'),
    environment: textOrNull(row, 'environment'),
    workflow_ref: textOrNull(row, 'workflow_ref'),
    created_at: text(row, 'created_at'),
  }
}

export function toPolicyVersion(row: Row): PolicyVersion {
  const format = text(row, 'format')
  if (format !== 'yaml' && format !== 'json') throw new Error('corrupt database: column format should be yaml or json')
  const source = text(row, 'source')
  return {
    project_id: text(row, 'project_id'),
    version: integer(row, 'version'),
    source,
    format,
    hash: text(row, 'hash'),
    created_by: text(row, 'created_by'),
    created_at: text(row, 'created_at'),
    cleared: source === '',
  }
}

export function toGithubMapping(row: Row): GithubMapping {
  return {
    id: text(row, 'id'),
    project_id: text(row, 'project_id'),
    repository: text(row, 'repository'),
    environment: textOrNull(row, 'environment'),
    installation_id: textOrNull(row, 'installation_id'),
    created_at: text(row, 'created_at'),
  }
}

const CALLBACK_STATUSES: readonly GithubCallbackStatus[] = ['pending', 'done', 'failed']

export function toGithubGate(row: Row): GithubGate {
  const callback = text(row, 'callback') as GithubCallbackStatus
  if (!CALLBACK_STATUSES.includes(callback)) throw new Error('corrupt database: column callback should be pending, done or failed')
  return {
    approval_id: text(row, 'approval_id'),
    project_id: text(row, 'project_id'),
    delivery_id: text(row, 'delivery_id'),
    installation_id: text(row, 'installation_id'),
    repository: text(row, 'repository'),
    environment: text(row, 'environment'),
    run_id: text(row, 'run_id'),
    callback,
    attempts: integer(row, 'attempts'),
    next_attempt_at: text(row, 'next_attempt_at'),
    last_error: textOrNull(row, 'last_error'),
    completed_at: textOrNull(row, 'completed_at'),
    created_at: text(row, 'created_at'),
  }
}

export function toAuditEvent(row: Row): AuditEvent {
  return {
    project_id: text(row, 'project_id'),
    seq: integer(row, 'seq'),
    type: text(row, 'type') as AuditEventType,
    approval_id: text(row, 'approval_id'),
    action: text(row, 'action'),
    agent: textOrNull(row, 'agent'),
    actor: text(row, 'actor'),
    reason: textOrNull(row, 'reason'),
    at: text(row, 'at'),
    context_hash: textOrNull(row, 'context_hash'),
    claims_hash: textOrNull(row, 'claims_hash'),
    prev_hash: text(row, 'prev_hash'),
    hash: text(row, 'hash'),
    prev_mac: textOrNull(row, 'prev_mac'),
    mac: textOrNull(row, 'mac'),
    sealed_at: textOrNull(row, 'sealed_at'),
  }
}

export function toSession(row: Row): Session {
  return {
    token_hash: text(row, 'token_hash'),
    user_id: text(row, 'user_id'),
    csrf_token: text(row, 'csrf_token'),
    created_at: text(row, 'created_at'),
    expires_at: text(row, 'expires_at'),
  }
}

/** Internal sequence of an approval row (for cursors). */
export function rowSeq(row: Row): number {
  return integer(row, 'seq')
}

/** A chain head row (`seq`, `hash`, keyed `mac`). */
export function toChainHead(row: Row): { seq: number; hash: string; mac: string | null } {
  return { seq: integer(row, 'seq'), hash: text(row, 'hash'), mac: textOrNull(row, 'mac') }
}

/** The value of a `role` column. */
export function toRole(row: Row): Role {
  return text(row, 'role') as Role
}
