/**
 * The SQL of votes on PostgreSQL: the read a vote is planned from, and the write of a planned
 * batch of votes (vote-batch.ts) as one simple-query string. A batch's statements travel with
 * the BEGIN before them or the COMMIT after them, so its values go in as escaped literals (the
 * simple query protocol has no parameters); `literal` is the connection's `escapeLiteral`.
 */
import type { VoteBatchPlan } from './vote-batch.js'

/** Quotes one value as an SQL string literal (node-postgres' `escapeLiteral`). */
export type Literal = (value: string) => string

/** An approval row's votes, oldest first, as one JSON column (`a` is the approvals row; read by `approvalWithVotes`). */
export const VOTE_ROWS = '(SELECT json_agg(v ORDER BY v.seq) FROM votes v WHERE v.approval_id = a.id) AS vote_rows'

/**
 * Everything votes are planned from, in one statement: the approval rows locked, each with its
 * votes oldest first as JSON rows and the context hash and reason (the policy note) its `created`
 * event recorded. `project` and `ids` are SQL (placeholders or literals). Run only by a
 * transaction that already holds a lock every writer of these approvals' votes and status holds
 * until commit (their project's chain head, or the row itself): a statement that *waited* for a
 * row lock would read the votes from its older snapshot.
 */
export function voteRead(project: string, ids: string): string {
  return `
  SELECT a.*,
    ${VOTE_ROWS},
    created.context_hash AS created_context_hash,
    created.reason AS created_reason
  FROM approvals a
  LEFT JOIN LATERAL (
    SELECT e.context_hash, e.reason FROM audit_events e
    WHERE e.project_id = a.project_id AND e.approval_id = a.id AND e.type = 'created'
    ORDER BY e.seq LIMIT 1
  ) created ON true
  WHERE a.project_id = ${project} AND a.id = ANY(${ids})
  FOR UPDATE OF a`
}

/** `voteRead` for the approvals `ids` of `projectId`, as literals. */
export function voteReadOf(literal: Literal, projectId: string, ids: string[]): string {
  return voteRead(literal(projectId), `ARRAY[${ids.map(literal).join(', ') || 'NULL'}]::text[]`)
}

/**
 * Locks `projectId`'s chain head and reads where the chain ends, as two statements of one
 * string: the head row `FOR UPDATE`, then the event it names. Each statement of a simple query
 * takes its own snapshot, so the second, run once the lock was granted, sees the event the
 * previous holder committed (joined into the locking SELECT it would not).
 */
export function lockChainOf(literal: Literal, projectId: string): string {
  const id = literal(projectId)
  return `SELECT seq, hash, mac FROM audit_heads WHERE project_id = ${id} FOR UPDATE;
    SELECT e.seq, e.mac FROM audit_heads h JOIN audit_events e ON e.project_id = h.project_id AND e.seq = h.seq WHERE h.project_id = ${id}`
}

/**
 * A statement that fails, naming `problem` (SQL text), unless `condition` holds: a failed
 * statement stops the rest of its string, so a COMMIT after it never runs. (Plain SQL cannot
 * raise; casting the message to a number fails with the message in the error.)
 */
function unless(condition: string, problem: string, from = ''): string {
  return `SELECT CASE WHEN ${condition} THEN true ELSE (${problem})::int::boolean END AS checked ${from}`
}

/**
 * The whole write of a planned vote batch whose chain started at seq `from`, as one string: one
 * statement inserting the new votes in arrival order (so their seq keeps it), regrouping earlier
 * votes, settling approvals (each once, only if still pending) and appending the events — each a
 * data-modifying CTE over a JSON list; failing unless every count is the planned one — then the
 * chain head moved one step per event (its trigger allows no more per UPDATE), the last step
 * writing its hash and MAC (`headMac`), then a check that it ends where the plan does.
 */
export function voteBatchWrite(literal: Literal, projectId: string, from: number, plan: VoteBatchPlan, headMac: string): string {
  const project = literal(projectId)
  const json = (rows: unknown[]) => `${literal(JSON.stringify(rows))}::jsonb`
  const inserts = plan.inserts.map(({ approval_id, vote }, n) => ({ n, approval_id, voter: vote.by, email: vote.email, decision: vote.decision, reason: vote.reason, at: vote.at, groups: JSON.stringify(vote.groups) }))
  const regroups = plan.regroups.map((regroup) => ({ ...regroup, groups: JSON.stringify(regroup.groups) }))
  const planned = [plan.inserts.length, plan.regroups.length, plan.settles.length, plan.events.length]
  const write = `WITH batch_votes AS (
    INSERT INTO votes (approval_id, voter, email, decision, reason, at, groups)
    SELECT v.approval_id, v.voter, v.email, v.decision, v.reason, v.at, v.groups
    FROM jsonb_to_recordset(${json(inserts)}) AS v (n int, approval_id text, voter text, email text, decision text, reason text, at text, groups text)
    ORDER BY v.n
    RETURNING 1
  ), regrouped AS (
    UPDATE votes SET groups = r.groups
    FROM jsonb_to_recordset(${json(regroups)}) AS r (approval_id text, voter text, groups text)
    WHERE votes.approval_id = r.approval_id AND votes.voter = r.voter
    RETURNING 1
  ), settled AS (
    UPDATE approvals SET status = s.status, reason = s.reason, decided_by = s.decided_by, decided_at = s.decided_at
    FROM jsonb_to_recordset(${json(plan.settles)}) AS s (id text, status text, reason text, decided_by text, decided_at text)
    WHERE approvals.project_id = ${project} AND approvals.id = s.id AND approvals.status = 'pending'
    RETURNING 1
  ), appended AS (
    INSERT INTO audit_events (project_id, seq, type, approval_id, action, agent, actor, reason, at, context_hash, prev_hash, hash, prev_mac, mac, sealed_at, claims_hash)
    SELECT ${project}, e.seq, e.type, e.approval_id, e.action, e.agent, e.actor, e.reason, e.at, e.context_hash, e.prev_hash, e.hash, e.prev_mac, e.mac, e.sealed_at, e.claims_hash
    FROM jsonb_to_recordset(${json(plan.events)}) AS e (seq bigint, type text, approval_id text, action text, agent text, actor text, reason text, at text, context_hash text, prev_hash text, hash text, prev_mac text, mac text, sealed_at text, claims_hash text)
    RETURNING 1
  ), written (counts) AS (
    SELECT ARRAY[(SELECT count(*) FROM batch_votes), (SELECT count(*) FROM regrouped), (SELECT count(*) FROM settled), (SELECT count(*) FROM appended)]::int[]
  )
  ${unless(`counts = ARRAY[${planned.join(', ')}]::int[]`, `'a vote batch wrote ' || array_to_string(counts, ', ') || ' (votes, regroups, settles, events) where it planned ${planned.join(', ')}'`, 'FROM written')}`
  const end = plan.end
  const steps = Array.from({ length: end.seq - from - 1 }, () => `UPDATE audit_heads SET seq = seq + 1 WHERE project_id = ${project}`)
  steps.push(`UPDATE audit_heads SET seq = seq + 1, hash = ${literal(end.hash)}, mac = ${literal(headMac)} WHERE project_id = ${project}`)
  const moved = unless(`seq = ${end.seq}`, `'the chain head of a vote batch ended at ' || seq || ', not at ${end.seq}'`, `FROM audit_heads WHERE project_id = ${project}`)
  return [write, ...steps, moved].join(';\n')
}
