/**
 * The approval record as the API sends it (README "Wire contract", `src/contract/`), and its response
 * schema. Store-only fields (project, idempotency key, requesting key) never leave the server.
 */
import { ownDecisionProblem } from '../store/audit-chain.js'
import { REQUESTER_CLAIM_NAMES, type Approval, type AuditEvent, type RequesterClaims, type Store } from '../store/types.js'
import { ApiError } from './errors.js'

export interface WireApproval {
  id: string
  status: Approval['status']
  action: string
  context: Record<string, unknown>
  agent: string | null
  reason: string | null
  decided_by: string | null
  decided_at: string | null
  created_at: string
  expires_at: string
  /** The approval's dashboard page. */
  url: string
  /** Who asked, as verified from a workflow's OIDC token (`null` when an API key asked). Never taken from `context`. */
  requester: RequesterClaims | null
  /** Approvals the rule needs (1 without a policy). */
  required_approvals: number
  /** The votes counted so far, oldest first. */
  votes: WireVote[]
  /** The policy version and rule the request is decided under; `null` when the project had no policy. */
  policy: { version: number; rule: string } | null
}

export interface WireVote {
  by: string
  decision: 'approve' | 'reject'
  reason: string | null
  at: string
  /** The requirements (groups) the vote counts toward. */
  groups: string[]
}

/** An approval's dashboard page. `publicUrl` has no trailing slash. */
export function approvalUrl(publicUrl: string, approvalId: string): string {
  return `${publicUrl}/approvals/${encodeURIComponent(approvalId)}`
}

/** The wire form of a stored approval. `publicUrl` has no trailing slash. */
export function toWire(approval: Approval, publicUrl: string): WireApproval {
  return {
    id: approval.id,
    status: approval.status,
    action: approval.action,
    context: approval.context,
    agent: approval.agent,
    reason: approval.reason,
    decided_by: approval.decided_by,
    decided_at: approval.decided_at,
    created_at: approval.created_at,
    expires_at: approval.expires_at,
    url: approvalUrl(publicUrl, approval.id),
    requester: approval.requester_claims ?? null,
    required_approvals: requiredApprovals(approval),
    votes: (approval.votes ?? []).map((vote) => ({ by: vote.by, decision: vote.decision, reason: vote.reason, at: vote.at, groups: vote.groups })),
    policy: policyOf(approval),
  }
}

/** Sum of the rule's requirements; the seed's rule needs one. */
function requiredApprovals(approval: Approval): number {
  return approval.applied_policy ? approval.applied_policy.requirements.reduce((sum, requirement) => sum + requirement.required, 0) : 1
}

function policyOf(approval: Approval): WireApproval['policy'] {
  const applied = approval.applied_policy
  return applied && applied.version !== null ? { version: applied.version, rule: applied.rule } : null
}

/**
 * The wire form of a record whose final status is proven: every record the API sends goes
 * through here. A settled approval (approved, rejected, expired, cancelled) is reported only
 * when its audit event exists, its MAC verifies with the audit key and it agrees with the
 * row; otherwise `500 integrity_error` naming the approval — never the unproven status, so a
 * database edit cannot make a gate pass.
 *
 * `ownEvent`: the audit event this process's store returned together with `approval` from the
 * write that changed it (a decision, and the waiters it wakes here). It is the proof itself,
 * so it is checked in memory instead of read back (`ownDecisionProblem`); records read from
 * the database — and those other processes changed — are always checked against the stored trail.
 */
export async function provenWire(store: Pick<Store, 'verifyDecision'>, approval: Approval, publicUrl: string, ownEvent?: AuditEvent): Promise<WireApproval> {
  // A pending record passes no gate: it needs no proof (and costs no lookup).
  const problem = approval.status === 'pending' ? null : ownEvent ? ownDecisionProblem(approval, ownEvent) : await store.verifyDecision(approval.project_id, approval)
  if (problem !== null) throw integrityError(approval, problem)
  return toWire(approval, publicUrl)
}

/** `500 integrity_error` for an approval whose row is not backed by its audit trail. */
export function integrityError(approval: Approval, problem: string): ApiError {
  return new ApiError(
    500,
    'integrity_error',
    `approval ${approval.id} cannot be reported as ${approval.status}: ${problem}. The database was changed outside approval-gate; run \`approval-gate audit verify\``,
  )
}

const nullableString = { type: ['string', 'null'] } as const

/** Response schema of one approval: serialisation follows it, so nothing else can leak out. */
export const wireApprovalSchema = {
  type: 'object',
  required: ['id', 'status', 'action', 'context', 'created_at', 'expires_at', 'url'],
  properties: {
    id: { type: 'string' },
    status: { type: 'string' },
    action: { type: 'string' },
    context: { type: 'object', additionalProperties: true },
    agent: nullableString,
    reason: nullableString,
    decided_by: nullableString,
    decided_at: nullableString,
    created_at: { type: 'string' },
    expires_at: { type: 'string' },
    url: { type: 'string' },
    requester: {
      type: ['object', 'null'],
      properties: Object.fromEntries(['issuer', ...REQUESTER_CLAIM_NAMES].map((name) => [name, nullableString])),
      additionalProperties: false,
    },
    required_approvals: { type: 'integer' },
    votes: {
      type: 'array',
      items: {
        type: 'object',
        properties: { by: { type: 'string' }, decision: { type: 'string' }, reason: nullableString, at: { type: 'string' }, groups: { type: 'array', items: { type: 'string' } } },
        additionalProperties: false,
      },
    },
    policy: {
      type: ['object', 'null'],
      properties: { version: { type: 'integer' }, rule: { type: 'string' } },
      additionalProperties: false,
    },
  },
} as const

/** Response schema of `{error:{code,message}}`, optionally with the current `approval` (409). */
export const errorResponseSchema = {
  type: 'object',
  properties: {
    error: {
      type: 'object',
      properties: { code: { type: 'string' }, message: { type: 'string' } },
    },
    approval: wireApprovalSchema,
    opens_at: nullableString,
  },
} as const
