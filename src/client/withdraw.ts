/**
 * Withdrawing a request nobody will wait for any more (abort or timeout), so its card leaves
 * the dashboard and the audit trail says what happened. Best effort, bounded, never throws.
 */
import type { ApprovalsClient } from './client.js'
import { ApprovalError } from './errors.js'
import type { ApprovalRecord, WithdrawalResult } from './types.js'

/** The whole withdrawal (finishing an in-flight create, then cancel) takes at most this long. */
export const WITHDRAW_BOUND_MS = 2_000

/** What is known about the request being withdrawn. */
export interface WithdrawTarget {
  approvalId?: string
  /**
   * A create still in flight when the wait ended: it may yet return an id to withdraw. Must
   * resolve `undefined` instead of rejecting.
   */
  pendingCreate?: Promise<ApprovalRecord | undefined>
  /** Ends that in-flight create when the bound is reached. */
  stopCreate?: () => void
}

/**
 * `POST /v1/approvals/{id}/cancel` with `reason` (and `timed_out` when the deadline passed), within `boundMs`. If the id is not known yet
 * because the create is still in flight, waits (within the bound) for it first. Resolves with
 * how it ended; never rejects (a failed withdrawal must not hide the real outcome).
 */
export async function withdrawRequest(
  client: ApprovalsClient,
  target: WithdrawTarget,
  reason: string,
  { boundMs = WITHDRAW_BOUND_MS, timedOut = false }: { boundMs?: number; timedOut?: boolean } = {},
): Promise<WithdrawalResult> {
  const bound = new AbortController()
  // Read now: the waiting loop clears these once its own await resumes.
  const { stopCreate, pendingCreate } = target
  const timer = setTimeout(() => {
    bound.abort()
    stopCreate?.()
  }, boundMs)
  try {
    let id = target.approvalId
    if (id === undefined && pendingCreate) {
      const created = await Promise.race([pendingCreate, new Promise<undefined>((resolve) => bound.signal.addEventListener('abort', () => resolve(undefined), { once: true }))])
      id = created?.id
    }
    if (id === undefined) return bound.signal.aborted ? 'failed' : 'nothing_created'
    if (bound.signal.aborted) return 'failed'
    await client.cancel(id, reason, { signal: bound.signal, timeoutMs: boundMs, timedOut })
    return 'withdrawn'
  } catch (error) {
    // 409: decided meanwhile, nothing pending. Otherwise (unreachable, no cancel endpoint on
    // JamJet) there is nothing more to do here; the caller may retry later.
    return error instanceof ApprovalError && error.code === 'conflict' ? 'not_pending' : 'failed'
  } finally {
    clearTimeout(timer)
  }
}
