/**
 * Many `requireApproval` calls waiting at once in the test process, each recording its
 * approval id, how it ended and when, and how many retries it made — for fault tests that
 * break the server under waiting gates and check that every one finishes correctly.
 */
import { ApprovalRejected, requireApproval, type RequireApprovalOptions } from '../../src/client/index.js'

/** How one gate ended. */
export type GateOutcome = { kind: 'approved'; id: string } | { kind: 'rejected'; id: string; reason: string | undefined } | { kind: 'failed'; error: unknown }

export interface WaitingGate {
  action: string
  /** Resolves with the approval id once created. */
  created: Promise<string>
  /** Never rejects: every ending is an outcome. */
  outcome: Promise<GateOutcome>
  /** `Date.now()` when the call ended. */
  endedAt?: number
  /** `retrying` progress events heard (network errors, 5xx, 429). */
  retries: number
}

/** Starts `count` gates named `${prefix}-${i}`, all with the same options. */
export function startGates(count: number, prefix: string, options: RequireApprovalOptions): WaitingGate[] {
  return Array.from({ length: count }, (_, i) => {
    let onCreated!: (id: string) => void
    const created = new Promise<string>((resolve) => (onCreated = resolve))
    const gate: WaitingGate = { action: `${prefix}-${i}`, created, outcome: Promise.resolve({ kind: 'failed', error: null }), retries: 0 }
    gate.outcome = requireApproval(gate.action, {
      ...options,
      onProgress: (event) => {
        if (event.type === 'created') onCreated(event.approvalId)
        if (event.type === 'retrying') gate.retries++
      },
    }).then(
      (id): GateOutcome => ({ kind: 'approved', id }),
      (error: unknown): GateOutcome => (error instanceof ApprovalRejected ? { kind: 'rejected', id: error.approvalId, reason: error.reason } : { kind: 'failed', error }),
    )
    void gate.outcome.then(() => (gate.endedAt = Date.now()))
    return gate
  })
}

/** What each gate should end with: even indexes approved, odd rejected with a reason naming it. */
export function plannedDecision(i: number): { decision: 'approve' | 'reject'; reason: string } {
  return i % 2 === 0 ? { decision: 'approve', reason: `ok ${i}` } : { decision: 'reject', reason: `no ${i}` }
}

/** The outcome a gate decided with `plannedDecision(i)` must have. */
export function expectedOutcome(i: number, id: string): GateOutcome {
  const planned = plannedDecision(i)
  return planned.decision === 'approve' ? { kind: 'approved', id } : { kind: 'rejected', id, reason: planned.reason }
}
