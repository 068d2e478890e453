/**
 * Every change to an approval goes through here — API routes, the dashboard and expiry — so
 * the expiry default, the self-approval rule and the notification that wakes waiters are
 * applied in one place.
 */
import type { ApprovalEventType, ApprovalService, Actor, CreateApprovalInput, DecideOutcome, Notifier } from './contracts.js'
import type { Approval, ChangeResult, Decision, Project, Store } from '../store/types.js'

export interface ApprovalServiceHooks {
  /** Told about each new approval, so the expiry timer can re-arm for an earlier deadline. */
  onCreated?: (approval: Approval) => void
}

/** Builds the approval service over a store and a notifier. */
export function createApprovalService(store: Store, notifier: Notifier, hooks: ApprovalServiceHooks = {}): ApprovalService {
  /** Runs the expiry sweep when `approval` is pending past `expires_at`; true when it did. */
  async function expireIfDue(approval: Approval): Promise<boolean> {
    if (approval.status !== 'pending' || Date.parse(approval.expires_at) > Date.now()) return false
    for (const expired of await store.expireDue(new Date().toISOString())) notifier.publish({ type: 'expired', approval: expired })
    return true
  }

  return {
    async create(project: Project, input: CreateApprovalInput) {
      const timeoutMs = input.timeout_ms ?? project.settings.defaultTimeoutMs
      const result = await store.createApproval({
        project_id: project.id,
        action: input.action,
        context: input.context,
        agent: input.agent,
        expires_at: new Date(Date.now() + timeoutMs).toISOString(),
        idempotency_key: input.idempotency_key ?? null,
        requested_by: input.requested_by,
      })
      if (result.created) {
        hooks.onCreated?.(result.approval)
        notifier.publish({ type: 'created', approval: result.approval })
      }
      return result
    },

    async decide(project: Project, approvalId: string, input: { decision: Decision; reason: string | null; actor: Actor }): Promise<DecideOutcome | null> {
      const current = await store.getApproval(project.id, approvalId)
      if (!current) return null
      // Past its deadline but not yet swept: it expired, so no decision may land on it.
      if (await expireIfDue(current)) return { changed: false, approval: (await store.getApproval(project.id, approvalId)) ?? current }
      if (current.status === 'pending' && isSelfApproval(project, current, input.actor)) {
        return { changed: false, refused: 'self_approval', approval: current }
      }
      const result = await store.decideApproval(project.id, approvalId, {
        decision: input.decision,
        reason: input.reason,
        decided_by: input.actor.label,
      })
      publishChange(notifier, result, input.decision === 'approve' ? 'approved' : 'rejected')
      return result
    },

    async cancel(project: Project, approvalId: string, input: { reason: string | null; actor: Actor; timedOut?: boolean }): Promise<ChangeResult | null> {
      const current = await store.getApproval(project.id, approvalId)
      if (!current) return null
      if (await expireIfDue(current)) return { changed: false, approval: (await store.getApproval(project.id, approvalId)) ?? current }
      const result = await store.cancelApproval(project.id, approvalId, { reason: input.reason, by: input.actor.label, timed_out: input.timedOut === true })
      publishChange(notifier, result, input.timedOut ? 'expired' : 'cancelled')
      return result
    },
  }
}

function publishChange(notifier: Notifier, result: ChangeResult | null, type: ApprovalEventType): void {
  if (result?.changed) notifier.publish({ type, approval: result.approval })
}

/**
 * The project's optional rule: whoever triggered the run (`context.github.actor`) may not
 * approve or reject it, when the deciding member has a linked GitHub login. The context is
 * attacker-controlled, so every step is type-checked.
 */
export function isSelfApproval(project: Project, approval: Approval, actor: Actor): boolean {
  if (!project.settings.blockSelfApproval || !actor.githubLogin) return false
  const triggeredBy = runActor(approval.context)
  return triggeredBy !== null && triggeredBy.toLowerCase() === actor.githubLogin.toLowerCase()
}

/** `context.github.actor` when it is a non-empty string. */
function runActor(context: Record<string, unknown>): string | null {
  const github = context.github
  if (typeof github !== 'object' || github === null || Array.isArray(github)) return null
  const actor = (github as Record<string, unknown>).actor
  return typeof actor === 'string' && actor.trim() !== '' ? actor.trim() : null
}
