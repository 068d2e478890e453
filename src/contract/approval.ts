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
