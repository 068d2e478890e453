/**
 * The shapes shared by the policy engine (parsing, matching, counting votes, windows) and the
 * approval service that applies it. A project's policy document is parsed into a `Policy`; when
 * a request is created, the rule that applies is resolved into an `AppliedPolicy` — a snapshot
 * stored with the approval, so later edits to the document or its groups never change who may
 * decide a request already waiting.
 */

/** Which decisions must carry a reason. */
export type ReasonRequirement = 'none' | 'approve' | 'reject' | 'both'

/** How rejections end a request: `any` — one eligible reject; `quorum` — once the rejects, counted like approvals (one person once), would meet the requirements. */
export type RejectMode = 'any' | 'quorum'

export const WEEKDAYS = ['mon', 'tue', 'wed', 'thu', 'fri', 'sat', 'sun'] as const
export type Weekday = (typeof WEEKDAYS)[number]

/** A time when approvals may be granted: on `days`, from `from` (inclusive) to `to` (exclusive), wall-clock `HH:MM` in `time_zone` (IANA). */
export interface ApprovalWindow {
  days: Weekday[]
  from: string
  to: string
  time_zone: string
}

/** One group of people whose approvals count toward a requirement. */
export interface Requirement {
  /** The group's name, or `approvers` for an overall N-of-M. */
  name: string
  /** Lower-cased emails of the members who count; `null` — any member of the project (and decide keys). */
  members: string[] | null
  required: number
}

/** What a policy rule asks of a request, before group names are resolved to members. */
export interface RuleBody {
  /** ANDed: every requirement must be met; one person counts toward one requirement only. */
  requirements: Array<{ name: string; members: string[] | null; groups: string[]; required: number }>
  block_self_approval: boolean | null // null: the project's setting
  require_reason: ReasonRequirement
  reject: RejectMode
  max_timeout_ms: number | null
  windows: ApprovalWindow[]
}

export interface PolicyMatch {
  /** Globs on the action name (`*` any run of characters, `?` one character). */
  actions: string[]
  /** Globs on verified requester claims (`MATCHABLE_CLAIMS`: repository, ref, environment, workflow_ref, actor, triggering_actor, event_name); a request without verified claims never matches a rule that names one. */
  requester: Record<string, string[]>
  /** Top-level context keys → allowed values (compared as strings). */
  context: Record<string, string[]>
}

export interface PolicyRule extends RuleBody {
  name: string
  match: PolicyMatch
}

/** A validated policy document. */
export interface Policy {
  /** Group name → lower-cased member emails. */
  groups: Record<string, string[]>
  rules: PolicyRule[]
  /** Applies when no rule matches. */
  default: RuleBody
}

/** A stored version of a project's policy document. */
export interface PolicyVersion {
  project_id: string
  version: number
  /** The document exactly as submitted; empty for a version that cleared the policy. */
  source: string
  format: 'yaml' | 'json'
  /** sha256 of `source`, hex; empty for a version that cleared the policy. */
  hash: string
  /** This version removed the policy: from it on the project's default (any one member) applies. */
  cleared: boolean
  created_by: string
  created_at: string
}

/** A validation error, naming where in the document it is. */
export interface PolicyError {
  /** 1-based line of the document, when known. */
  line: number | null
  /** The field, e.g. `rules[0].approvers.required`. */
  path: string
  message: string
}

/** The rule resolved for one request and stored with it. */
export interface AppliedPolicy {
  /** `null` version: the project has no policy document (the seed's any-one-member rule). */
  version: number | null
  /** The rule's name, or `default`. */
  rule: string
  requirements: Requirement[]
  block_self_approval: boolean
  require_reason: ReasonRequirement
  reject: RejectMode
  windows: ApprovalWindow[]
}

/** One counted vote. `by` is a member's email or `key:<name>`. */
export interface Vote {
  by: string
  decision: 'approve' | 'reject'
  reason: string | null
  at: string
  /** The requirements this vote counts toward (after the one-person-counts-once assignment). */
  groups: string[]
}

export interface RequirementProgress {
  name: string
  required: number
  /** Who counts toward it. */
  approved_by: string[]
  satisfied: boolean
}

/** Where a request stands under its applied policy, given its votes. */
export interface Tally {
  outcome: 'pending' | 'approved' | 'rejected'
  requirements: RequirementProgress[]
  /** Sum of `required` over the requirements. */
  required_approvals: number
}

/** Whether approvals may be granted now, and if not, when they next may be. */
export type WindowState = { open: true } | { open: false; opens_at: string | null }
