/**
 * Every change to an approval goes through here — API routes, the dashboard and the expiry
 * timer — so the expiry default, the text rules, idempotency, the self-approval rules and the
 * notification that wakes waiters are applied in one place. Nothing else writes approvals.
 */
import { setImmediate as yieldToEventLoop } from 'node:timers/promises'
import { isValidName, isValidReason, MAX_ACTION_CHARS, MAX_AGENT_CHARS, MAX_REASON_CHARS } from '../../contract/index.js'
import { ApprovalRuleError, type ApprovalEventType, type ApprovalService, type Actor, type CreateApprovalInput, type DecideOutcome, type Notifier, type SelfApprovalRule } from './contracts.js'
import { requestFingerprint } from './fingerprint.js'
import type { Approval, ChangeResult, Decision, Project, Store } from '../store/types.js'

/** Approvals expired per transaction: a mass expiry never holds the event loop for long. */
export const EXPIRY_BATCH = 500

export interface ApprovalServiceHooks {
  /** Told about each new approval, so the expiry timer can re-arm for an earlier deadline. */
  onCreated?: (approval: Approval) => void
  /** Approvals expired per transaction (default `EXPIRY_BATCH`). */
  expiryBatch?: number
}

/** Builds the approval service over a store and a notifier. */
export function createApprovalService(store: Store, notifier: Notifier, hooks: ApprovalServiceHooks = {}): ApprovalService {
  return new StoreApprovalService(store, notifier, hooks)
}

class StoreApprovalService implements ApprovalService {
  private readonly batch: number

  constructor(
    private readonly store: Store,
    private readonly notifier: Notifier,
    private readonly hooks: ApprovalServiceHooks,
  ) {
    this.batch = hooks.expiryBatch ?? EXPIRY_BATCH
  }

  async create(project: Project, input: CreateApprovalInput): Promise<{ approval: Approval; created: boolean }> {
    checkName('action', input.action, MAX_ACTION_CHARS)
    if (input.agent !== null) checkName('agent', input.agent, MAX_AGENT_CHARS)
    const timeoutMs = input.timeout_ms ?? project.settings.defaultTimeoutMs
    const key = input.idempotency_key ?? null
    const result = await this.store.createApproval({
      project_id: project.id,
      action: input.action,
      context: input.context,
      agent: input.agent,
      expires_at: new Date(Date.now() + timeoutMs).toISOString(),
      idempotency_key: key,
      idempotency_fingerprint: key === null ? null : requestFingerprint({ action: input.action, context: input.context, agent: input.agent, timeout_ms: input.timeout_ms ?? null }),
      requested_by: input.requested_by,
      requested_by_key_id: input.requested_by_key_id ?? null,
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
    if (found.expired) return { changed: false, approval: found.approval }
    const refusal = found.approval.status === 'pending' ? selfApproval(project, found.approval, input.actor) : null
    if (refusal) return { changed: false, refused: 'self_approval', ...refusal, approval: found.approval }
    const result = await this.store.decideApproval(project.id, approvalId, { decision: input.decision, reason: input.reason, decided_by: input.actor.label })
    this.publishChange(result, input.decision === 'approve' ? 'approved' : 'rejected')
    return result
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
    if (result?.changed) this.notifier.publish({ type, approval: result.approval })
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
 * The project's optional rule: whoever triggered the run (`context.github.actor`) or re-ran it
 * (`context.github.triggering_actor`) may not approve or reject it, when the deciding member
 * has a linked GitHub login. The context is requester-supplied text, so every step is
 * type-checked, and it is compared case-insensitively as GitHub logins are.
 */
export function isSelfApproval(project: Project, approval: Approval, actor: Actor): boolean {
  if (!project.settings.blockSelfApproval || !actor.githubLogin) return false
  const login = actor.githubLogin.toLowerCase()
  return runActors(approval.context).some((name) => name.toLowerCase() === login)
}

/** `context.github.actor` and `context.github.triggering_actor`, those that are non-empty strings. */
function runActors(context: Record<string, unknown>): string[] {
  const github = context.github
  if (typeof github !== 'object' || github === null || Array.isArray(github)) return []
  const fields = github as Record<string, unknown>
  return [fields.actor, fields.triggering_actor].filter((name): name is string => typeof name === 'string' && name.trim() !== '').map((name) => name.trim())
}
