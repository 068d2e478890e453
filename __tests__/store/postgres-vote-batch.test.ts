/**
 * Votes written in bulk by the PostgreSQL store's group commit, against a real PostgreSQL: every
 * vote of a batch is planned in memory in arrival order from one read and written in one
 * statement. These tests put many votes in one batch (all issued in one tick, checked through
 * the statements sent) and compare what is stored, answered and chained with what votes one at
 * a time would have left; and they force the bulk write to fail to see the batch run again unit
 * by unit with every good vote stored.
 */
import { describe, expect, it } from '@jest/globals'
import { testAuditKey } from '../helpers/audit-key.js'
import { openPostgresStore } from '../../src/server/store/postgres/index.js'
import type { Store, VoteCounter, VoteResult } from '../../src/server/store/types.js'
import { approvalFor } from './approval-input.js'
import { statementRecorder } from './statement-recorder.js'
import { describeWithPostgres, type PostgresCluster } from './temp-postgres.js'
import { anyMembers, approvalsUpTo } from './vote-counters.js'

/** Approved at `required` approvals; the first voter counts as `lead` once anyone else voted, so later votes regroup it. */
function leadOnceJoined(required: number): VoteCounter {
  return (votes) => ({
    outcome: votes.filter((vote) => vote.decision === 'approve').length >= required ? 'approved' : 'pending',
    groups: Object.fromEntries(votes.map((vote, i) => [vote.by, i === 0 && votes.length > 1 ? ['lead'] : ['approvers']])),
  })
}

describeWithPostgres('PostgreSQL store: a batch of votes in bulk', (cluster: PostgresCluster) => {
  /** A store whose statements are recorded, on a new database, with one project. */
  async function recordedStore() {
    const config = await cluster.createDatabase()
    const { statements, CountingClient } = statementRecorder()
    const store = await openPostgresStore({ ...config, Client: CountingClient }, { auditKey: testAuditKey() })
    const project = await store.createProject('bulk')
    statements.length = 0
    return { config, statements, store, project }
  }

  const vote = (store: Store, projectId: string, approvalId: string, by: string, count: VoteCounter, decision: 'approve' | 'reject' = 'approve', reason: string | null = null) =>
    store.recordVote(projectId, approvalId, { by, email: null, decision, reason }, count)

  /** How many batch transactions the statements show, and whether any was rolled back. */
  const batches = (statements: string[]) => ({ began: statements.filter((sql) => sql.startsWith('BEGIN')).length, rolledBack: statements.includes('ROLLBACK') })

  it('counts a quorum once among many votes of one batch: the rest are answered already_voted or not counted', async () => {
    const { statements, store, project } = await recordedStore()
    try {
      const { approval } = await store.createApproval(approvalFor(project, { applied_policy: anyMembers(3) }))
      statements.length = 0
      const voters = ['ada', 'bob', 'ada', 'cyd', 'dee', 'bob', 'eve']
      const results = (await Promise.all(voters.map((by) => vote(store, project.id, approval.id, by, approvalsUpTo(3))))) as VoteResult[]
      expect(batches(statements)).toEqual({ began: 1, rolledBack: false })
      expect(results.map((result) => (result.recorded ? (result.settled ? 'settled' : 'counted') : result.refused))).toEqual([
        'counted',
        'counted',
        'already_voted',
        'settled',
        'not_pending',
        'not_pending',
        'not_pending',
      ])
      // Each answer shows the approval as the votes before it left it.
      expect(results[1].approval.votes?.map((v) => v.by)).toEqual(['ada', 'bob'])
      expect(results[2].approval).toMatchObject({ status: 'pending', votes: [{ by: 'ada' }, { by: 'bob' }] })
      expect(results[3].approval).toMatchObject({ status: 'approved', decided_by: 'cyd', votes: [{ by: 'ada' }, { by: 'bob' }, { by: 'cyd' }] })
      expect(results[6].approval).toMatchObject({ status: 'approved', decided_by: 'cyd' })
      const stored = await store.getApproval(project.id, approval.id)
      expect(stored).toMatchObject({ status: 'approved', decided_by: 'cyd', votes: [{ by: 'ada' }, { by: 'bob' }, { by: 'cyd' }] })
      expect(results[3].approval).toEqual(stored)
      const events = (await store.listAudit(project.id)).items.reverse()
      expect(events.map((event) => [event.type, event.actor])).toEqual([
        ['created', 'key:ci'],
        ['vote_approve', 'ada'],
        ['vote_approve', 'bob'],
        ['approved', 'cyd'],
      ])
      expect(results[3].recorded && results[3].event).toEqual(events[3])
      expect(await store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: 4 })
      // The settled approval as answered is the one its decision event proves.
      expect(await store.verifyDecision(project.id, results[3].approval)).toBeNull()
    } finally {
      await store.close()
    }
  })

  it('keeps arrival order across approvals of one batch, and regroups votes stored before it and votes inserted in it', async () => {
    const { statements, store, project } = await recordedStore()
    try {
      const { approval: first } = await store.createApproval(approvalFor(project, { action: 'first', applied_policy: anyMembers(3) }))
      const { approval: second } = await store.createApproval(approvalFor(project, { action: 'second', applied_policy: anyMembers(2) }))
      await vote(store, project.id, first.id, 'old', leadOnceJoined(3))
      statements.length = 0
      const plan: [string, string, 'approve' | 'reject'][] = [
        [second.id, 'ada', 'approve'],
        [first.id, 'bob', 'approve'],
        [second.id, 'cyd', 'reject'],
        [first.id, 'dee', 'approve'],
        [second.id, 'eve', 'approve'],
      ]
      const results = (await Promise.all(plan.map(([id, by, decision]) => vote(store, project.id, id, by, leadOnceJoined(id === first.id ? 3 : 2), decision)))) as VoteResult[]
      expect(batches(statements)).toEqual({ began: 1, rolledBack: false })
      expect(results.map((result) => result.recorded && result.settled)).toEqual([false, false, false, true, true])
      // `old` was stored before the batch and regrouped by it; `ada` was inserted by it and regrouped by `cyd`.
      expect((await store.getApproval(project.id, first.id))?.votes?.map((v) => [v.by, v.groups])).toEqual([
        ['old', ['lead']],
        ['bob', ['approvers']],
        ['dee', ['approvers']],
      ])
      expect((await store.getApproval(project.id, second.id))?.votes?.map((v) => [v.by, v.decision, v.groups])).toEqual([
        ['ada', 'approve', ['lead']],
        ['cyd', 'reject', ['approvers']],
        ['eve', 'approve', ['approvers']],
      ])
      expect(await store.getApproval(project.id, second.id)).toMatchObject({ status: 'approved', decided_by: 'eve' })
      const events = (await store.listAudit(project.id)).items.reverse().slice(3)
      expect(events.map((event) => [event.type, event.actor, event.approval_id])).toEqual([
        ['vote_approve', 'ada', second.id],
        ['vote_approve', 'bob', first.id],
        ['vote_reject', 'cyd', second.id],
        ['approved', 'dee', first.id],
        ['approved', 'eve', second.id],
      ])
      expect(await store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: 8 })
    } finally {
      await store.close()
    }
  })

  it('fails a vote on a tampered approval alone, answers null for an unknown one, and stores the good votes beside them', async () => {
    const { config, statements, store, project } = await recordedStore()
    try {
      const { approval: good } = await store.createApproval(approvalFor(project, { applied_policy: anyMembers(2) }))
      const { approval: tampered } = await store.createApproval(approvalFor(project, { applied_policy: anyMembers(2) }))
      await cluster.superuserQuery(config, `UPDATE approvals SET applied_policy = '${JSON.stringify(anyMembers(1))}' WHERE id = '${tampered.id}'`)
      statements.length = 0
      const outcomes = await Promise.allSettled([
        vote(store, project.id, good.id, 'ada', approvalsUpTo(2)),
        vote(store, project.id, tampered.id, 'ada', approvalsUpTo(1)),
        vote(store, project.id, 'apr_missing', 'ada', approvalsUpTo(1)),
        vote(store, project.id, good.id, 'bob', approvalsUpTo(2), 'maybe' as 'approve'),
        vote(store, project.id, good.id, 'cyd', approvalsUpTo(2)),
      ])
      expect(batches(statements)).toEqual({ began: 1, rolledBack: false })
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'])
      expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/policy rule in the database differs/)
      expect((outcomes[2] as PromiseFulfilledResult<unknown>).value).toBeNull()
      expect((outcomes[3] as PromiseRejectedResult).reason).toMatchObject({ code: 'invalid' })
      expect((outcomes[4] as PromiseFulfilledResult<VoteResult>).value).toMatchObject({ recorded: true, settled: true })
      expect(await store.getApproval(project.id, tampered.id)).toMatchObject({ status: 'pending', votes: [] })
      expect(await store.getApproval(project.id, good.id)).toMatchObject({ status: 'approved', votes: [{ by: 'ada' }, { by: 'cyd' }] })
      expect((await store.listAudit(project.id)).items.map((event) => event.type)).toEqual(['approved', 'vote_approve', 'created', 'created'])
    } finally {
      await store.close()
    }
  })

  it('stores hostile text verbatim through the escaped literals of a bulk write, and never reaches another project', async () => {
    const { store, project, statements } = await recordedStore()
    try {
      const other = await store.createProject('other')
      const { approval } = await store.createApproval(approvalFor(project, { applied_policy: anyMembers(3) }))
      const { approval: foreign } = await store.createApproval(approvalFor(other, { applied_policy: anyMembers(1) }))
      statements.length = 0
      const hostile = [
        `x'); DELETE FROM votes; --`,
        `back\\slash \\' E'\\x00' $$ $q$ "quoted" ${'\u2028'} ünïcødé 🚀`,
        `${'long reason '.repeat(400)}'`,
      ]
      const results = (await Promise.all([
        ...hostile.map((reason, i) => vote(store, project.id, approval.id, `voter'${i}\\`, approvalsUpTo(3), 'approve', reason)),
        // The other project's approval, voted through this project's lane: not found, nothing written.
        vote(store, project.id, foreign.id, 'ada', approvalsUpTo(1)),
        vote(store, project.id, `${approval.id}' OR '1'='1`, 'ada', approvalsUpTo(1)),
      ])) as (VoteResult | null)[]
      expect(batches(statements)).toEqual({ began: 1, rolledBack: false })
      expect(results.slice(3)).toEqual([null, null])
      expect(results[2]).toMatchObject({ recorded: true, settled: true })
      const stored = await store.getApproval(project.id, approval.id)
      expect(stored?.votes?.map((v) => [v.by, v.reason])).toEqual(hostile.map((reason, i) => [`voter'${i}\\`, reason]))
      expect(stored).toMatchObject({ status: 'approved', reason: hostile[2], decided_by: `voter'2\\` })
      expect(await store.getApproval(other.id, foreign.id)).toMatchObject({ status: 'pending', votes: [] })
      expect(await store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: 4 })
      expect(await store.verifyAudit(other.id, { full: true })).toMatchObject({ ok: true, events: 1 })
    } finally {
      await store.close()
    }
  })

  it('refuses a NUL before it is sent in a simple query: the batch of votes runs unit by unit, the NUL id answered invalid', async () => {
    const { statements, store, project } = await recordedStore()
    try {
      const { approval } = await store.createApproval(approvalFor(project, { applied_policy: anyMembers(2) }))
      statements.length = 0
      const outcomes = await Promise.allSettled([
        vote(store, project.id, approval.id, 'ada', approvalsUpTo(2)),
        vote(store, project.id, 'apr_\u0000nul', 'ada', approvalsUpTo(2)),
        vote(store, project.id, approval.id, 'bob', approvalsUpTo(2)),
      ])
      // Nothing of the bulk attempt reached the server (no BEGIN): one transaction, unit by unit.
      expect(batches(statements)).toEqual({ began: 1, rolledBack: true })
      expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
      expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'invalid' })
      expect(await store.getApproval(project.id, approval.id)).toMatchObject({ status: 'approved', votes: [{ by: 'ada' }, { by: 'bob' }] })
      expect(await store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: 3 })
    } finally {
      await store.close()
    }
  })

  for (const mixed of [false, true]) {
    it(`runs the batch again unit by unit when the bulk write fails${mixed ? ' beside other writes' : ''}: the failing votes fail alone, every good vote is stored once`, async () => {
      const { config, statements, store, project } = await recordedStore()
      try {
        const { approval: one } = await store.createApproval(approvalFor(project, { applied_policy: anyMembers(3) }))
        const { approval: two } = await store.createApproval(approvalFor(project, { applied_policy: anyMembers(1) }))
        // The database refuses one voter: the bulk statement holding his vote fails as a whole.
        await cluster.superuserQuery(
          config,
          `CREATE FUNCTION refuse_mallory() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN IF NEW.voter = 'mallory' THEN RAISE EXCEPTION 'mallory may not vote'; END IF; RETURN NEW; END $$;
           CREATE TRIGGER refuse_mallory BEFORE INSERT ON votes FOR EACH ROW EXECUTE FUNCTION refuse_mallory();`,
        )
        statements.length = 0
        const outcomes = await Promise.allSettled([
          vote(store, project.id, one.id, 'ada', approvalsUpTo(3)),
          vote(store, project.id, one.id, 'mallory', approvalsUpTo(3)),
          vote(store, project.id, two.id, 'bob', approvalsUpTo(1), 'approve', 'bad\u0000reason'),
          vote(store, project.id, one.id, 'bob', approvalsUpTo(3)),
          vote(store, project.id, two.id, 'cyd', approvalsUpTo(1)),
          vote(store, project.id, one.id, 'cyd', approvalsUpTo(3)),
          // Mixed: a create between two runs of votes, the second run with a NUL in an id (refused before it is sent).
          ...(mixed ? [store.createApproval(approvalFor(project, { action: 'between' })), vote(store, project.id, 'apr_\u0000nul', 'bob', approvalsUpTo(1))] : []),
        ])
        // The bulk attempt was rolled back; the second transaction ran the units one by one.
        expect(batches(statements)).toEqual({ began: 2, rolledBack: true })
        expect(statements.filter((sql) => sql.startsWith('SAVEPOINT') || sql.startsWith('RELEASE SAVEPOINT unit; SAVEPOINT unit'))).toHaveLength(mixed ? 8 : 6)
        expect(outcomes.map((outcome) => outcome.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled', 'fulfilled', 'fulfilled', ...(mixed ? ['fulfilled', 'rejected'] : [])])
        expect(String((outcomes[1] as PromiseRejectedResult).reason)).toMatch(/mallory may not vote/)
        expect((outcomes[2] as PromiseRejectedResult).reason).toMatchObject({ code: 'invalid' })
        expect((outcomes[5] as PromiseFulfilledResult<VoteResult>).value).toMatchObject({ recorded: true, settled: true })
        if (mixed) expect((outcomes[7] as PromiseRejectedResult).reason).toMatchObject({ code: 'invalid' })
        expect(await store.getApproval(project.id, one.id)).toMatchObject({ status: 'approved', votes: [{ by: 'ada' }, { by: 'bob' }, { by: 'cyd' }] })
        expect(await store.getApproval(project.id, two.id)).toMatchObject({ status: 'approved', decided_by: 'cyd', votes: [{ by: 'cyd' }] })
        expect(await store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: 2 + 3 + 1 + (mixed ? 1 : 0) })
      } finally {
        await store.close()
      }
    })
  }

  it('runs votes in bulk between other writes of the batch, in arrival order, from one chain position', async () => {
    const { statements, store, project } = await recordedStore()
    try {
      const { approval: voted } = await store.createApproval(approvalFor(project, { applied_policy: anyMembers(3) }))
      const { approval: decided } = await store.createApproval(approvalFor(project, { applied_policy: anyMembers(2) }))
      statements.length = 0
      const [a, created, decision, late, b] = await Promise.all([
        vote(store, project.id, voted.id, 'ada', approvalsUpTo(3)),
        store.createApproval(approvalFor(project, { action: 'between' })),
        store.decideApproval(project.id, decided.id, { decision: 'reject', reason: 'no', decided_by: 'boss' }),
        vote(store, project.id, decided.id, 'bob', approvalsUpTo(2)),
        vote(store, project.id, voted.id, 'bob', approvalsUpTo(3)),
      ])
      expect(batches(statements)).toEqual({ began: 1, rolledBack: false })
      expect(a).toMatchObject({ recorded: true, settled: false })
      expect(decision).toMatchObject({ changed: true })
      // The vote after the decision in the same batch sees it.
      expect(late).toMatchObject({ recorded: false, refused: 'not_pending', approval: { status: 'rejected', decided_by: 'boss' } })
      expect(b).toMatchObject({ recorded: true, approval: { votes: [{ by: 'ada' }, { by: 'bob' }] } })
      const events = (await store.listAudit(project.id)).items.reverse().slice(2)
      expect(events.map((event) => [event.type, event.approval_id])).toEqual([
        ['vote_approve', voted.id],
        ['created', created.approval.id],
        ['rejected', decided.id],
        ['vote_approve', voted.id],
      ])
      expect(await store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: 6 })
    } finally {
      await store.close()
    }
  })

  describe('two replicas', () => {
    it('count each of 60 concurrent votes once on one approval, and exactly one settles it', async () => {
      const config = await cluster.createDatabase()
      const [a, b] = await Promise.all([0, 1].map(() => openPostgresStore(config, { auditKey: testAuditKey() })))
      try {
        const project = await a.createProject('replicas')
        const { approval } = await a.createApproval(approvalFor(project, { applied_policy: anyMembers(40) }))
        const results = (await Promise.all(Array.from({ length: 60 }, (_, i) => vote(i % 2 ? a : b, project.id, approval.id, `user${i}`, approvalsUpTo(40))))) as VoteResult[]
        expect(results.filter((result) => result.recorded)).toHaveLength(40)
        expect(results.filter((result) => result.recorded && result.settled)).toHaveLength(1)
        expect(results.filter((result) => !result.recorded && result.refused === 'not_pending')).toHaveLength(20)
        const final = await b.getApproval(project.id, approval.id)
        expect(final).toMatchObject({ status: 'approved' })
        expect(new Set(final?.votes?.map((v) => v.by)).size).toBe(40)
        expect(await a.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: 41 })
      } finally {
        await Promise.all([a.close(), b.close()])
      }
    })
  })
})
