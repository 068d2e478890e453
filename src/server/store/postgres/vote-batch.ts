/**
 * Plans a batch of votes on one project's approvals in memory, in arrival order, from one read
 * of every approval they vote on: each vote is judged by `planVote` against the approval as the
 * earlier votes of the batch left it (two voters of a quorum: the second settles; the same voter
 * twice: `already_voted`; a vote after the settle: not counted), and each counted vote's audit
 * event is chained from the position the previous one left. The store then writes the whole
 * plan in a few statements (group-commit.ts, `runBulk`). SQL-free, like record-builders.
 */
import type { AuditKey } from '../audit-key.js'
import { chainAuditEvent, type AuditEventInput } from '../audit-chain.js'
import { planVote, settledEvent, snapshotProblem, voteEvent } from '../record-builders.js'
import type { Approval, AuditEvent, NewVote, StoredVote, VoteCounter, VoteResult } from '../types.js'

/**
 * Where a project's chain ends, as seen by the transaction that holds its head lock: the head
 * event's seq and hash (0 and unused before the first event) and its MAC.
 */
export interface ChainPosition {
  seq: number
  hash: string
  lastMac: string | null
}

/** The event `input` becomes when appended after `position`. */
export function eventAfter(key: AuditKey, position: ChainPosition, input: AuditEventInput): AuditEvent {
  const empty = position.seq === 0
  return chainAuditEvent(key, empty ? null : { seq: position.seq, hash: position.hash, mac: null }, empty ? null : position.lastMac, input)
}

/** One `recordVote` call waiting in a batch. */
export interface QueuedVote {
  approvalId: string
  input: NewVote
  count: VoteCounter
}

/** A voted approval as the batch read it: with its votes, and what its `created` event recorded. */
export interface VotedApproval {
  approval: Approval
  createdContextHash: string | null
  createdReason: string | null
}

/** One vote's answer: what `recordVote` returns (null: no such approval), or the error it alone fails with. */
export type PlannedVote = { ok: true; value: VoteResult | null } | { ok: false; error: unknown }

export interface VoteBatchPlan {
  /** One per queued vote, in order. */
  outcomes: PlannedVote[]
  /** The counted votes to insert, in arrival order, each with the groups the batch ends with. */
  inserts: { approval_id: string; vote: StoredVote }[]
  /** Votes stored before the batch whose counted groups changed, with their final groups (one row each). */
  regroups: { approval_id: string; voter: string; groups: string[] }[]
  /** Approvals settled by the batch, each once. */
  settles: { id: string; status: string; reason: string | null; decided_by: string; decided_at: string }[]
  /** The audit events of the counted votes, chained in arrival order. */
  events: AuditEvent[]
  /** Where the chain ends after `events`. */
  end: ChainPosition
}

export function planVoteBatch(key: AuditKey, start: ChainPosition, votes: QueuedVote[], read: Map<string, VotedApproval>): VoteBatchPlan {
  const plan: VoteBatchPlan = { outcomes: [], inserts: [], regroups: [], settles: [], events: [], end: { ...start } }
  const current = new Map<string, Approval>()
  // Keyed by approval and voter: a later vote's recount can change the groups of either kind.
  const inserted = new Map<string, { approval_id: string; vote: StoredVote }>()
  const regrouped = new Map<string, { approval_id: string; voter: string; groups: string[] }>()
  for (const { approvalId, input, count } of votes) {
    const found = read.get(approvalId)
    if (!found) {
      plan.outcomes.push({ ok: true, value: null })
      continue
    }
    const approval = current.get(approvalId) ?? found.approval
    let counted: ReturnType<typeof planVote>
    try {
      counted = planVote(approval, input, count)
    } catch (error) {
      plan.outcomes.push({ ok: false, error })
      continue
    }
    if (counted.refused !== null) {
      plan.outcomes.push({ ok: true, value: { recorded: false, refused: counted.refused, approval } })
      continue
    }
    // Never count a vote under a rule the audit trail does not vouch for.
    const tampered = snapshotProblem(approval, found.createdReason)
    if (tampered) {
      plan.outcomes.push({ ok: false, error: new Error(tampered) })
      continue
    }
    const { vote, votes: recounted, settle } = counted
    for (const earlier of counted.regrouped) {
      const voteKey = keyOf(approvalId, earlier.by)
      // A vote inserted earlier in this batch is inserted with its final groups: statements of one
      // write do not see each other's rows, so an UPDATE could not reach it.
      const fresh = inserted.get(voteKey)
      if (fresh) fresh.vote = { ...fresh.vote, groups: earlier.groups }
      else regrouped.set(voteKey, { approval_id: approvalId, voter: earlier.by, groups: earlier.groups })
    }
    const insert = { approval_id: approvalId, vote: { ...vote } }
    plan.inserts.push(insert)
    inserted.set(keyOf(approvalId, vote.by), insert)
    let after: Approval
    let event: AuditEventInput
    if (settle) {
      after = { ...approval, status: settle.status, reason: settle.reason, decided_by: settle.by, decided_at: settle.at, votes: recounted }
      plan.settles.push({ id: approvalId, status: settle.status, reason: settle.reason, decided_by: settle.by, decided_at: settle.at })
      event = settledEvent(after, settle, found.createdContextHash)
    } else {
      after = { ...approval, votes: recounted }
      event = voteEvent(approval, vote, found.createdContextHash)
    }
    const appended = eventAfter(key, plan.end, event)
    plan.events.push(appended)
    plan.end = { seq: appended.seq, hash: appended.hash, lastMac: appended.mac }
    current.set(approvalId, after)
    plan.outcomes.push({ ok: true, value: { recorded: true, settled: settle !== null, approval: after, event: appended } })
  }
  plan.regroups = [...regrouped.values()]
  return plan
}

function keyOf(approvalId: string, voter: string): string {
  return JSON.stringify([approvalId, voter])
}
