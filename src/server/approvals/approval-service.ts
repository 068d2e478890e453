/**
 * Every change to an approval goes through here — API routes, the dashboard and the expiry
 * timer — so the expiry default, the text rules, idempotency, the project's policy (resolved
 * at creation, applied to every vote), the self-approval rules and the notification that
 * wakes waiters are applied in one place. Nothing else writes approvals.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { isValidName, isValidReason, MAX_ACTION_CHARS, MAX_AGENT_CHARS, MAX_REASON_CHARS } from '../../contract/index.js'
import { ApprovalRuleError, type ApprovalEventType, type ApprovalService, type Actor, type CreateApprovalInput, type DecideOutcome, type Notifier, type SelfApprovalRule, type VoteStanding } from './contracts.js'
import { requestFingerprint } from './fingerprint.js'
import { ProjectPolicies } from './project-policies.js'
import { appliedPolicyOf, countVotes, missingReason, voteRefusal, voterEmail, whoMayVote } from './vote-rules.js'
import type { Approval, ChangeResult, Decision, Project, Store } from '../store/types.js'

/** Approvals expired per transaction: a mass expiry never holds the event loop for long. */
export const EXPIRY_BATCH = 500

export interface ApprovalServiceHooks {
  /** Told about each new approval, so the expiry timer can re-arm for an earlier deadline. */
  onCreated?: (approval: Approval) => void
  /** Approvals expired per transaction (default `EXPIRY_BATCH`). */
  expiryBatch?: number
  /** The clock policy windows are judged by (default the system clock); tests inject one. */
  now?: () => Date
}

/** Builds the approval service over a store and a notifier. */
export function createApprovalService(store: Store, notifier: Notifier, hooks: ApprovalServiceHooks = {}): ApprovalService {
  return new StoreApprovalService(store, notifier, hooks)
}

class StoreApprovalService implements ApprovalService {
  private readonly batch: number
  private readonly now: () => Date
  private readonly policies: ProjectPolicies

  constructor(
    private readonly store: Store,
    private readonly notifier: Notifier,
    private readonly hooks: ApprovalServiceHooks,
  ) {
    this.batch = hooks.expiryBatch ?? EXPIRY_BATCH
    this.now = hooks.now ?? (() => new Date())
    this.policies = new ProjectPolicies(store)
  }

  async create(project: Project, input: CreateApprovalInput): Promise<{ approval: Approval; created: boolean }> {
    checkName('action', input.action, MAX_ACTION_CHARS)
    if (input.agent !== null) checkName('agent', input.agent, MAX_AGENT_CHARS)
    const policy = await this.policies.resolve(project, { action: input.action, context: input.context, requester_claims: input.requester_claims ?? null })
    const asked = input.timeout_ms ?? project.settings.defaultTimeoutMs
    // The rule's max_timeout caps what the requester asked: a workflow cannot outwait the rule.
    const timeoutMs = policy.maxTimeoutMs === null ? asked : Math.min(asked, policy.maxTimeoutMs)
    const key = input.idempotency_key ?? null
    // One instant for both ends, so expires_at − created_at is exactly the timeout granted.
    const createdAt = Date.now()
    const result = await this.store.createApproval({
      project_id: project.id,
      action: input.action,
      context: input.context,
      agent: input.agent,
      at: new Date(createdAt).toISOString(),
      expires_at: new Date(createdAt + timeoutMs).toISOString(),
      idempotency_key: key,
      idempotency_fingerprint: key === null ? null : requestFingerprint({ action: input.action, context: input.context, agent: input.agent, timeout_ms: input.timeout_ms ?? null }),
      requested_by: input.requested_by,
      requested_by_key_id: input.requested_by_key_id ?? null,
      requester_claims: input.requester_claims ?? null,
      applied_policy: policy.applied,
    })
    if (result.key_reused) {
      throw new ApprovalRuleError('idempotency_key_reused', 'this Idempotency-Key was already used in the last 24 hours for a different request (action, context, agent or timeout_ms); use a new key for a new request')
    }
    if (result.created) {
      this.hooks.onCreated?.(result.approval)
      this.notifier.publish({ type: 'created', approval: result.approval })
    }
    return { approval: result.approval, created: result.created }
  }

  async decide(project: Project, approvalId: string, input: { decision: Decision; reason: string | null; actor: Actor }): Promise<DecideOutcome | null> {
    checkReason(input.reason)
    const found = await this.current(project, approvalId)
    if (!found) return null
    const { approval } = found
    if (found.expired || approval.status !== 'pending') return { changed: false, approval }
    const self = selfApproval(project, approval, input.actor)
    if (self) return { changed: false, refused: 'self_approval', ...self, approval }
    const refusal = voteRefusal(project, approval, input.actor, input.decision, this.now())
    if (refusal) return { changed: false, approval, ...refusal }
    const applied = appliedPolicyOf(project, approval)
    const missing = missingReason(applied, input.decision, input.reason)
    if (missing) throw new ApprovalRuleError('invalid_request', missing)
    const result = await this.store.recordVote(
      project.id,
      approvalId,
      { by: input.actor.label, email: voterEmail(input.actor), decision: input.decision, reason: input.reason, at: new Date().toISOString() },
      countVotes(applied),
    )
    if (!result) return null
    if (!result.recorded) {
      // Lost a race: settled meanwhile, or the same person's other click counted first.
      return result.refused === 'already_voted' ? { changed: false, refused: 'already_voted', message: 'you already voted on this request', approval: result.approval } : { changed: false, approval: result.approval }
    }
    this.notifier.publish({ type: result.settled ? (result.approval.status as ApprovalEventType) : 'voted', approval: result.approval, ownEvent: result.event })
    return { changed: true, approval: result.approval, event: result.event }
  }

  standing(project: Project, approval: Approval, actor: Actor): VoteStanding {
    if (approval.status !== 'pending') return { may: false, why: 'not_pending', message: `this request is ${approval.status}` }
    const self = selfApproval(project, approval, actor)
    if (self) return { may: false, why: 'self_approval', message: self.rule === 'requesting_key' ? 'this key requested this run' : 'you requested this run' }
    const refusal = voteRefusal(project, approval, actor, null, this.now())
    if (!refusal) return { may: true }
    // A person reads the card: say who may, not the rule's internals.
    const message = refusal.refused === 'not_eligible' ? whoMayVote(appliedPolicyOf(project, approval)) : refusal.message
    return { may: false, why: refusal.refused, message }
  }

  async cancel(project: Project, approvalId: string, input: { reason: string | null; actor: Actor; timedOut?: boolean }): Promise<ChangeResult | null> {
    checkReason(input.reason)
    const found = await this.current(project, approvalId)
    if (!found) return null
    if (found.expired) return { changed: false, approval: found.approval }
    const result = await this.store.cancelApproval(project.id, approvalId, { reason: input.reason, by: input.actor.label, timed_out: input.timedOut === true })
    this.publishChange(result, input.timedOut ? 'expired' : 'cancelled')
    return result
  }

  async expireDue(now = new Date()): Promise<number> {
    const at = now.toISOString()
    let total = 0
    for (;;) {
      const expired = await this.store.expireDue(at, this.batch)
      for (const approval of expired) this.notifier.publish({ type: 'expired', approval })
      total += expired.length
      if (expired.length < this.batch) return total
      // Let requests (health checks, decisions) in between batches.
      await yieldToEventLoop()
    }
  }

  nextExpiry(): Promise<string | null> {
    return this.store.nextExpiry()
  }

  pruneExpired(now = new Date()): Promise<number> {
    return this.store.deleteExpiredIdempotencyKeys(now.toISOString())
  }

  /** The record, after running the expiry sweep when it is pending past `expires_at`; `null` when not in the project. */
  private async current(project: Project, approvalId: string): Promise<{ approval: Approval; expired: boolean } | null> {
    const approval = await this.store.getApproval(project.id, approvalId)
    if (!approval) return null
    if (approval.status !== 'pending' || Date.parse(approval.expires_at) > Date.now()) return { approval, expired: false }
    // Past its deadline but not yet swept: it expired, so no decision may land on it.
    await this.expireDue()
    return { approval: (await this.store.getApproval(project.id, approvalId)) ?? approval, expired: true }
  }

  private publishChange(result: ChangeResult | null, type: ApprovalEventType): void {
    if (result?.changed) this.notifier.publish({ type, approval: result.approval, ownEvent: result.event })
  }
}

function checkName(field: 'action' | 'agent', text: string, maxChars: number): void {
  if (!isValidName(text, maxChars)) {
    throw new ApprovalRuleError('invalid_request', `${field} must be 1-${maxChars} characters on one line, with a visible letter, digit, punctuation or symbol and no control or invisible characters`)
  }
}

function checkReason(reason: string | null): void {
  if (reason !== null && !isValidReason(reason, MAX_REASON_CHARS)) {
    throw new ApprovalRuleError('invalid_request', `reason must be at most ${MAX_REASON_CHARS} characters without control or invisible characters (such as bidirectional overrides)`)
  }
}

/** Which self-approval rule refuses `actor` deciding `approval`, or `null` when none does. */
export function selfApproval(project: Project, approval: Approval, actor: Actor): { rule: SelfApprovalRule; login?: string } | null {
  if (isRequestingKey(approval, actor)) return { rule: 'requesting_key' }
  if (isSelfApproval(project, approval, actor)) return { rule: 'run_actor', login: actor.githubLogin ?? undefined }
  return null
}

/**
 * True when the deciding API key is the one that created the request. Approvals from before
 * the key id was recorded compare the recorded `key:<name>` label instead.
 */
function isRequestingKey(approval: Approval, actor: Actor): boolean {
  if (!actor.keyId) return false
  return approval.requested_by_key_id !== null ? approval.requested_by_key_id === actor.keyId : approval.requested_by === actor.label
}

/**
 * The optional rule — the applied policy's `block_self_approval`, or the project's setting for
 * a request made before policies: whoever triggered the run (`actor`) or re-ran it
 * (`triggering_actor`) may not approve or reject it, when the deciding member has a linked
 * GitHub login. Verified OIDC claims are used when present; otherwise `context.github`. The context is requester-supplied text, so every step is
 * type-checked, and it is compared case-insensitively as GitHub logins are.
 */
export function isSelfApproval(project: Project, approval: Approval, actor: Actor): boolean {
  if (!appliedPolicyOf(project, approval).block_self_approval || !actor.githubLogin) return false
  const login = actor.githubLogin.toLowerCase()
  return runActors(approval).some((name) => name.toLowerCase() === login)
}

/**
 * Who ran the workflow: the verified `actor` and `triggering_actor` of its OIDC token when a
 * workflow identity asked (the context is then ignored), else the context's, as sent.
 */
function runActors(approval: Approval): string[] {
  const verified = approval.requester_claims
  if (verified) return [verified.actor, verified.triggering_actor].filter((name): name is string => typeof name === 'string' && name.trim() !== '').map((name) => name.trim())
  return contextActors(approval.context)
}

/** `context.github.actor` and `context.github.triggering_actor`, those that are non-empty strings. */
function contextActors(context: Record<string, unknown>): string[] {
  const github = context.github
  if (typeof github !== 'object' || github === null || Array.isArray(github)) return []
  const fields = github as Record<string, unknown>
  return [fields.actor, fields.triggering_actor].filter((name): name is string => typeof name === 'string' && name.trim() !== '').map((name) => name.trim())
}
