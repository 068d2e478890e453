/** The approval record and its vocabulary, as the wire contract defines them. */

/** Statuses of an approval. JamJet: pending/approved/rejected; ours add expired/cancelled. */
export const APPROVAL_STATUSES = ['pending', 'approved', 'rejected', 'expired', 'cancelled'] as const
export type ApprovalStatus = (typeof APPROVAL_STATUSES)[number]

/** What a decider sends to `POST /v1/approvals/{id}/decision`. */
export const DECISION_VERBS = ['approve', 'reject'] as const
export type DecisionVerb = (typeof DECISION_VERBS)[number]

/** An approval record as the API returns it (extension fields are optional: JamJet may omit them). */
export interface ApprovalRecord {
  id: string
  status: ApprovalStatus
  action?: string
  context?: Record<string, unknown>
  agent?: string | null
  reason?: string | null
  decided_by?: string | null
  decided_at?: string | null
  created_at?: string
  expires_at?: string | null
  url?: string | null
  /** Who asked, as verified from a workflow's OIDC token; `null` when an API key asked (ours; absent from JamJet). */
  requester?: ApprovalRequester | null
  /** How many approvals the request's policy rule needs (ours; 1 without a policy). */
  required_approvals?: number
  /** The votes counted so far, oldest first (ours). */
  votes?: ApprovalVote[]
  /** The policy version and rule the request is decided under; `null` without a policy (ours). */
  policy?: { version: number; rule: string } | null
}

/** One counted vote on an approval. */
export interface ApprovalVote {
  /** A member's email, or `key:<name>` for an API key. */
  by: string
  decision: DecisionVerb
  reason: string | null
  at: string
  /** The requirements (policy groups, or `approvers`) the vote counts toward. */
  groups: string[]
}

/** The verified claims of `requester` (each a string or `null`). */
export const REQUESTER_FIELDS = ['issuer', 'repository', 'ref', 'sha', 'workflow_ref', 'run_id', 'run_attempt', 'actor', 'triggering_actor', 'environment', 'event_name'] as const
export type ApprovalRequester = Record<(typeof REQUESTER_FIELDS)[number], string | null>

/** The query of `GET /v1/approvals`, newest first. */
export interface ApprovalFilter {
  status?: ApprovalStatus
  action?: string
  agent?: string
  decided_by?: string
  cursor?: string
  /** 1–200, default 50. */
  limit?: number
}
