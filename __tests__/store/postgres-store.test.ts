/**
 * The PostgreSQL store against a real PostgreSQL started in a temp dir by this test: the
 * backend-independent contract, then what several replicas on one database need — truly
 * concurrent decisions, creates, chain appends and expiries from separate pools, migrations
 * racing at startup, and tamper detection. Skipped, with a message, without the binaries.
 */
import { describe, expect, it } from '@jest/globals'
import { hashToken } from '../../src/server/auth/secrets.js'
import { testAuditKey } from '../helpers/audit-key.js'
import { parseAuditKey } from '../../src/server/store/audit-key.js'
import { hashAuditEvent } from '../../src/server/store/audit-chain.js'
import { MIGRATIONS as PG_MIGRATIONS } from '../../src/server/store/postgres/migrations.js'
import type { AuditEvent } from '../../src/server/store/types.js'
import { openStore } from '../../src/server/store/index.js'
import { openPostgresStore } from '../../src/server/store/postgres/index.js'
import type { Store } from '../../src/server/store/types.js'
import { approvalFor } from './approval-input.js'
import { statementRecorder } from './statement-recorder.js'
import { anyMembers, approvalsUpTo } from './vote-counters.js'
import { describeStoreContract } from './store-contract.js'
import { describeWithPostgres } from './temp-postgres.js'

describeWithPostgres('PostgreSQL store', (cluster) => {
  describeStoreContract('postgres', async () => openPostgresStore(await cluster.createDatabase(), { auditKey: testAuditKey() }))

  describe('PostgreSQL store with several replicas', () => {
    /** Two stores (separate pools, as two server replicas) on one new database. */
    async function twoReplicas(): Promise<[Store, Store, () => Promise<void>]> {
      const config = await cluster.createDatabase()
      const [a, b] = await Promise.all([openPostgresStore(config, { auditKey: testAuditKey() }), openPostgresStore(config, { auditKey: testAuditKey() })])
      return [a, b, async () => void (await Promise.all([a.close(), b.close()]))]
    }

    it('migrates once when several replicas start at the same moment, and again is a no-op', async () => {
      const config = await cluster.createDatabase()
      const stores = await Promise.all(Array.from({ length: 4 }, () => openPostgresStore(config, { auditKey: testAuditKey() })))
      await stores[0].createProject('web')
      for (const store of stores) expect((await store.listProjects()).map((p) => p.name)).toEqual(['web'])
      await Promise.all(stores.map((s) => s.close()))
      const reopened = await openStore({ kind: 'postgres', connection: config, auditKey: testAuditKey() })
      expect((await reopened.listProjects()).map((p) => p.name)).toEqual(['web'])
      await reopened.close()
    })

    it('lets exactly one of 20 concurrent decisions from two replicas win', async () => {
      const [a, b, close] = await twoReplicas()
      try {
        const project = await a.createProject('race')
        for (let round = 0; round < 3; round++) {
          const { approval } = await a.createApproval(approvalFor(project))
          const results = await Promise.all(
            Array.from({ length: 20 }, (_, i) => (i % 2 ? a : b).decideApproval(project.id, approval.id, { decision: i % 3 ? 'approve' : 'reject', reason: null, decided_by: `u${i}` })),
          )
          expect(results.filter((r) => r?.changed)).toHaveLength(1)
        }
        expect(await b.verifyAudit(project.id)).toMatchObject({ ok: true, events: 6 })
      } finally {
        await close()
      }
    })

    it('creates one approval for one idempotency key across replicas, and keeps one chain under concurrent appends', async () => {
      const [a, b, close] = await twoReplicas()
      try {
        const project = await a.createProject('idem')
        const creates = await Promise.all(Array.from({ length: 16 }, (_, i) => (i % 2 ? a : b).createApproval(approvalFor(project, { idempotency_key: 'k' }))))
        expect(creates.filter((c) => c.created)).toHaveLength(1)
        expect(new Set(creates.map((c) => c.approval.id)).size).toBe(1)
        await Promise.all(Array.from({ length: 40 }, (_, i) => (i % 2 ? a : b).createApproval(approvalFor(project, { action: `a${i}` }))))
        const verification = await a.verifyAudit(project.id)
        expect(verification).toMatchObject({ ok: true, events: 41 })
      } finally {
        await close()
      }
    })

    it('group commit: two replicas deciding 64 approvals each at once, every one twice across replicas, keep one linear chain and one winner each', async () => {
      const [a, b, close] = await twoReplicas()
      try {
        const project = await a.createProject('burst')
        const created = await Promise.all(Array.from({ length: 64 }, (_, i) => (i % 2 ? a : b).createApproval(approvalFor(project, { action: `deploy ${i}` }))))
        // The same approval decided on both replicas at once: batches lock the chain head first, so they queue, never deadlock.
        const decided = await Promise.all(
          created.flatMap(({ approval }, i) => [
            a.decideApproval(project.id, approval.id, { decision: 'approve', reason: null, decided_by: 'ada' }),
            b.decideApproval(project.id, approval.id, { decision: 'reject', reason: `no ${i}`, decided_by: 'bob' }),
          ]),
        )
        expect(decided.filter((result) => result?.changed)).toHaveLength(64)
        expect(await b.verifyAudit(project.id)).toMatchObject({ ok: true, events: 128 })
        const seqs: number[] = []
        for await (const event of a.exportAudit(project.id)) seqs.push(event.seq)
        expect(seqs).toEqual(Array.from({ length: 128 }, (_, i) => i + 1))
      } finally {
        await close()
      }
    })

    it('group commit: a write that fails inside a batch fails alone, with its own error', async () => {
      const [a, , close] = await twoReplicas()
      try {
        const project = await a.createProject('mixed')
        const outcomes = await Promise.allSettled([
          a.createApproval(approvalFor(project, { action: 'one' })),
          a.createApproval(approvalFor(project, { action: 'bad\u0000action' })),
          a.createApproval(approvalFor(project, { action: 'three' })),
          // Fails inside the audit append itself: the batch's chain position must not move.
          a.recordAdminEvent({ project_id: project.id, type: 'member_added', subject: 'member:x', actor: 'cli', detail: 'bad\u0000detail', at: new Date().toISOString() }),
          a.createApproval(approvalFor(project, { action: 'five' })),
        ])
        expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled', 'rejected', 'fulfilled'])
        expect((outcomes[1] as PromiseRejectedResult).reason).toMatchObject({ code: 'invalid' })
        expect((outcomes[3] as PromiseRejectedResult).reason).toMatchObject({ code: 'invalid' })
        expect((await a.listApprovals(project.id)).items.map((approval) => approval.action).sort()).toEqual(['five', 'one', 'three'])
        expect(await a.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: 3 })
      } finally {
        await close()
      }
    })

    it('groupCommit: false still commits every write on its own', async () => {
      const store = await openPostgresStore(await cluster.createDatabase(), { auditKey: testAuditKey(), groupCommit: false })
      try {
        const project = await store.createProject('solo')
        const created = await Promise.all(Array.from({ length: 10 }, () => store.createApproval(approvalFor(project))))
        await Promise.all(created.map(({ approval }) => store.decideApproval(project.id, approval.id, { decision: 'approve', reason: null, decided_by: 'ada' })))
        expect(await store.verifyAudit(project.id)).toMatchObject({ ok: true, events: 20 })
      } finally {
        await store.close()
      }
    })

    it('groupCommit: false still counts each of 12 concurrent votes from two replicas once, and exactly one settles it', async () => {
      const config = await cluster.createDatabase()
      const [a, b] = await Promise.all([0, 1].map(() => openPostgresStore(config, { auditKey: testAuditKey(), groupCommit: false })))
      try {
        const project = await a.createProject('solo-votes')
        const { approval } = await a.createApproval(approvalFor(project, { applied_policy: anyMembers(12) }))
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) => (i % 2 ? a : b).recordVote(project.id, approval.id, { by: `user${i}@example.com`, email: null, decision: 'approve', reason: null }, approvalsUpTo(12))),
        )
        expect(results.every((result) => result?.recorded)).toBe(true)
        expect(results.filter((result) => result?.recorded && result.settled)).toHaveLength(1)
        const final = await b.getApproval(project.id, approval.id)
        expect(final).toMatchObject({ status: 'approved' })
        expect(new Set(final?.votes?.map((vote) => vote.by)).size).toBe(12)
        expect(await a.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: 13 })
      } finally {
        await Promise.all([a.close(), b.close()])
      }
    })

    it('records a batch of votes in two round trips however many it holds: BEGIN, lock and read; then the writes and COMMIT', async () => {
      const { statements, CountingClient } = statementRecorder()
      const store = await openPostgresStore({ ...(await cluster.createDatabase()), Client: CountingClient }, { auditKey: testAuditKey() })
      try {
        const project = await store.createProject('statements')
        const { approval } = await store.createApproval(approvalFor(project, { applied_policy: anyMembers(2) }))
        const { approval: other } = await store.createApproval(approvalFor(project, { applied_policy: anyMembers(20) }))
        const vote = (by: string, on = approval) => store.recordVote(project.id, on.id, { by, email: null, decision: 'approve', reason: null }, approvalsUpTo(on === approval ? 2 : 20))
        // Each statement string sent, by its shape: BEGIN with the head lock, the last event's MAC and the
        // read of every approval voted on; the votes, regroups, settles and events in one statement,
        // checked, the head moved a step per event, checked, and COMMIT.
        const shapeOf = (sql: string) => {
          if (/^BEGIN; SELECT seq, hash, mac FROM audit_heads WHERE .* FOR UPDATE; SELECT e.seq, e.mac FROM .*; SELECT a\.\*.* FOR UPDATE OF a$/.test(sql)) return 'begin, lock, read'
          if (/^WITH batch_votes AS .* FROM written; (UPDATE audit_heads SET seq = seq \+ 1[^;]*; )+SELECT CASE WHEN seq = [^;]*; COMMIT$/.test(sql)) return `write, ${sql.match(/UPDATE audit_heads/g)?.length} head steps, commit`
          return sql
        }
        const sent = async (write: () => Promise<unknown>) => {
          statements.length = 0
          await write()
          return statements.map(shapeOf)
        }
        expect(await sent(() => vote('key:first'))).toEqual(['begin, lock, read', 'write, 1 head steps, commit'])
        expect(await sent(() => vote('key:first'))).toEqual(['begin, lock, read', 'COMMIT'])
        expect(await sent(() => Promise.all([vote('key:second'), ...Array.from({ length: 12 }, (_, i) => vote(`key:${i}`, other))]))).toEqual(['begin, lock, read', 'write, 13 head steps, commit'])
        expect(await store.getApproval(project.id, approval.id)).toMatchObject({ status: 'approved', votes: [{ by: 'key:first' }, { by: 'key:second' }] })
        expect((await store.getApproval(project.id, other.id))?.votes).toHaveLength(12)
        expect(await store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: 2 + 2 + 12 })
      } finally {
        await store.close()
      }
    })

    it('reads an approval with its votes in one statement', async () => {
      const { statements, CountingClient } = statementRecorder()
      const store = await openPostgresStore({ ...(await cluster.createDatabase()), Client: CountingClient }, { auditKey: testAuditKey() })
      try {
        const project = await store.createProject('one-read')
        const { approval } = await store.createApproval(approvalFor(project, { applied_policy: anyMembers(2) }))
        await store.recordVote(project.id, approval.id, { by: 'key:first', email: null, decision: 'approve', reason: null }, approvalsUpTo(2))
        statements.length = 0
        expect(await store.getApproval(project.id, approval.id)).toMatchObject({ id: approval.id, status: 'pending', votes: [{ by: 'key:first', decision: 'approve' }] })
        expect(await store.getApprovalById(approval.id)).toMatchObject({ id: approval.id, votes: [{ by: 'key:first' }] })
        expect(statements).toHaveLength(2)
        expect(await store.getApproval(project.id, 'apr_missing')).toBeNull()
      } finally {
        await store.close()
      }
    })

    it('expires each due approval once when replicas expire at the same time', async () => {
      const [a, b, close] = await twoReplicas()
      try {
        const web = await a.createProject('web')
        const api = await a.createProject('api')
        const past = new Date(Date.now() - 1000).toISOString()
        for (let i = 0; i < 30; i++) await a.createApproval(approvalFor(i % 2 ? web : api, { expires_at: past }))
        const now = new Date().toISOString()
        const batches = await Promise.all([a.expireDue(now), b.expireDue(now), a.expireDue(now), b.expireDue(now)])
        const ids = batches.flat().map((x) => x.id)
        expect(ids).toHaveLength(30)
        expect(new Set(ids).size).toBe(30)
        expect(await a.countPending(web.id)).toBe(0)
        for (const project of [web, api]) expect(await b.verifyAudit(project.id)).toMatchObject({ ok: true, events: 30 })
      } finally {
        await close()
      }
    })

    it('sees keys created by another replica at once', async () => {
      const [a, b, close] = await twoReplicas()
      try {
        const project = await a.createProject('keys')
        const key = await a.createApiKey({ project_id: project.id, name: 'ci', scopes: ['request'], key_hash: hashToken('agk_x'), prefix: 'agk_x' })
        expect(await b.findApiKey(hashToken('agk_x'))).toEqual(key)
        await b.revokeApiKey(project.id, key.id)
        expect(await a.findApiKey(hashToken('agk_x'))).toBeNull()
      } finally {
        await close()
      }
    })

    describe('audit tamper detection', () => {
      async function storeWithHistory() {
        const config = await cluster.createDatabase()
        const store = await openPostgresStore(config, { auditKey: testAuditKey() })
        const project = await store.createProject('web')
        for (let i = 0; i < 4; i++) {
          const { approval } = await store.createApproval(approvalFor(project, { action: `a${i}` }))
          if (i < 2) await store.decideApproval(project.id, approval.id, { decision: 'approve', reason: null, decided_by: 'ada' })
        }
        return { config, store, project }
      }
      const disableTriggers = 'ALTER TABLE audit_events DISABLE TRIGGER USER; ALTER TABLE audit_heads DISABLE TRIGGER USER;'

      it('refuses UPDATE and DELETE of audit rows', async () => {
        const { config, store, project } = await storeWithHistory()
        try {
          await expect(cluster.superuserQuery(config, "UPDATE audit_events SET reason = 'x' WHERE seq = 2")).rejects.toThrow(/append-only/)
          await expect(cluster.superuserQuery(config, 'DELETE FROM audit_events WHERE seq = 6')).rejects.toThrow(/append-only/)
          await expect(cluster.superuserQuery(config, 'DELETE FROM audit_heads')).rejects.toThrow(/cannot be deleted/)
          expect(await store.verifyAudit(project.id)).toMatchObject({ ok: true, events: 6 })
        } finally {
          await store.close()
        }
      })

      it('pinpoints an edited event, a deleted event and deleted tail events', async () => {
        const edited = await storeWithHistory()
        const middle = await storeWithHistory()
        const tail = await storeWithHistory()
        try {
          await cluster.superuserQuery(edited.config, `${disableTriggers} UPDATE audit_events SET actor = 'mallory' WHERE seq = 3`)
          expect(await edited.store.verifyAudit(edited.project.id)).toEqual({ ok: false, events: 3, seq: 3, problem: 'hash_mismatch' })
          // Recomputing the unkeyed hash does not help: the MAC needs the key.
          const event = (await edited.store.listAudit(edited.project.id)).items.find((e: AuditEvent) => e.seq === 3)!
          await cluster.superuserQuery(edited.config, `${disableTriggers} UPDATE audit_events SET hash = '${hashAuditEvent(event)}' WHERE seq = 3`)
          expect(await edited.store.verifyAudit(edited.project.id, { full: true })).toEqual({ ok: false, events: 3, seq: 3, problem: 'mac_mismatch' })
          await cluster.superuserQuery(middle.config, `${disableTriggers} DELETE FROM audit_events WHERE seq = 2`)
          expect(await middle.store.verifyAudit(middle.project.id)).toMatchObject({ ok: false, seq: 2, problem: 'missing_event' })
          await cluster.superuserQuery(tail.config, `${disableTriggers} DELETE FROM audit_events WHERE seq >= 5`)
          expect(await tail.store.verifyAudit(tail.project.id)).toEqual({ ok: false, events: 4, seq: 5, problem: 'missing_event' })
        } finally {
          await Promise.all([edited.store.close(), middle.store.close(), tail.store.close()])
        }
      })
    })

    it('refuses to open without an audit key, and with another key than the chain was written with', async () => {
      const config = await cluster.createDatabase()
      await expect(openPostgresStore(config)).rejects.toThrow(/PostgreSQL needs an audit key.*APPROVAL_GATE_AUDIT_KEY.*--audit-key-file/)
      const store = await openPostgresStore(config, { auditKey: testAuditKey() })
      await store.close()
      await expect(openPostgresStore(config, { auditKey: parseAuditKey('b2'.repeat(32), 'test') })).rejects.toThrow(/written with another audit key/)
    })

    it('names an approval whose verified requester claims were edited behind the store', async () => {
      const config = await cluster.createDatabase()
      const store = await openPostgresStore(config, { auditKey: testAuditKey() })
      try {
        const project = await store.createProject('web')
        const claims = { issuer: 'https://token.actions.githubusercontent.com', repository: 'acme/web', ref: 'refs/heads/main', sha: null, workflow_ref: null, run_id: '1', run_attempt: '1', actor: 'octocat', triggering_actor: 'octocat', environment: null, event_name: 'push' }
        const { approval } = await store.createApproval(approvalFor(project, { requester_claims: claims, requested_by: 'oidc:acme/web@refs/heads/main' }))
        expect(await store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true })
        await cluster.superuserQuery(config, `UPDATE approvals SET requester_claims = '${JSON.stringify({ ...claims, actor: 'mallory' })}' WHERE id = '${approval.id}'`)
        expect(await store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: false, problem: 'approval_mismatch', approval_id: approval.id, detail: expect.stringContaining('requester_claims') })
      } finally {
        await store.close()
      }
    })

    it('refuses a vote under a policy snapshot weakened behind the store, writing nothing', async () => {
      const config = await cluster.createDatabase()
      const store = await openPostgresStore(config, { auditKey: testAuditKey() })
      try {
        const project = await store.createProject('web')
        const { approval } = await store.createApproval(approvalFor(project, { applied_policy: anyMembers(2) }))
        // Someone with database access lowers the waiting request's rule to one approval.
        await cluster.superuserQuery(config, `UPDATE approvals SET applied_policy = '${JSON.stringify(anyMembers(1))}' WHERE id = '${approval.id}'`)
        const vote = store.recordVote(project.id, approval.id, { by: 'key:a', email: null, decision: 'approve', reason: null }, () => ({ outcome: 'approved', groups: {} }))
        await expect(vote).rejects.toThrow(/policy rule in the database differs/)
        expect(await store.getApproval(project.id, approval.id)).toMatchObject({ status: 'pending', votes: [] })
        expect((await store.listAudit(project.id)).items.map((event) => event.type)).toEqual(['created'])
      } finally {
        await store.close()
      }
    })

    it('detects a pending approval set to approved behind the store: verifyDecision and verifyAudit name it', async () => {
      const config = await cluster.createDatabase()
      const store = await openPostgresStore(config, { auditKey: testAuditKey() })
      try {
        const project = await store.createProject('web')
        const { approval } = await store.createApproval(approvalFor(project))
        await cluster.superuserQuery(config, `UPDATE approvals SET status = 'approved', decided_by = 'mallory', decided_at = '2026-01-01T00:00:00.000Z' WHERE id = '${approval.id}'`)
        const edited = (await store.getApproval(project.id, approval.id))!
        expect(edited.status).toBe('approved')
        expect(await store.verifyDecision(project.id, edited)).toMatch(/no audit event records that decision/)
        expect(await store.verifyAudit(project.id)).toMatchObject({ ok: false, problem: 'approval_mismatch', approval_id: approval.id })
      } finally {
        await store.close()
      }
    })

    it('upgrades a database written before the chain was keyed: existing events sealed as legacy, decisions still proven', async () => {
      const config = await cluster.createDatabase()
      const projectId = 'prj_legacyproject0000000'
      const approvedId = 'apr_legacyapproved000000'
      const events = [
        { type: 'created', actor: 'key:ci', at: '2026-01-01T00:00:01.000Z' },
        { type: 'approved', actor: 'ada', at: '2026-01-01T00:00:02.000Z' },
      ] as const
      let prev = '0'.repeat(64)
      const rows = events.map((e, i) => {
        const hash = hashAuditEvent({ project_id: projectId, seq: i + 1, approval_id: approvedId, action: 'deploy', agent: null, reason: null, prev_hash: prev, ...e })
        const row = `('${projectId}', ${i + 1}, '${e.type}', '${approvedId}', 'deploy', NULL, '${e.actor}', NULL, '${e.at}', '${prev}', '${hash}')`
        prev = hash
        return row
      })
      await cluster.superuserQuery(
        config,
        `CREATE TABLE schema_migrations (version integer PRIMARY KEY, name text NOT NULL, applied_at text NOT NULL);
         ${PG_MIGRATIONS[0].sql}
         INSERT INTO schema_migrations VALUES (1, 'initial schema', '2026-01-01T00:00:00.000Z');
         INSERT INTO projects VALUES ('${projectId}', 'old', '{"blockSelfApproval":false,"defaultTimeoutMs":3600000}', '2026-01-01T00:00:00.000Z');
         INSERT INTO approvals (id, project_id, action, context, agent, status, decided_by, decided_at, created_at, expires_at, requested_by)
           VALUES ('${approvedId}', '${projectId}', 'deploy', '{}', NULL, 'approved', 'ada', '2026-01-01T00:00:02.000Z', '2026-01-01T00:00:01.000Z', '2099-01-01T00:00:00.000Z', 'key:ci');
         INSERT INTO audit_events (project_id, seq, type, approval_id, action, agent, actor, reason, at, prev_hash, hash) VALUES ${rows.join(', ')};
         INSERT INTO audit_heads VALUES ('${projectId}', 2, '${prev}');`,
      )
      const store = await openPostgresStore(config, { auditKey: testAuditKey() })
      try {
        expect(await store.verifyAudit(projectId)).toEqual({ ok: true, events: 2, head: prev, legacy_events: 2 })
        expect(await store.verifyDecision(projectId, (await store.getApproval(projectId, approvedId))!)).toBeNull()
        const { approval } = await store.createApproval(approvalFor({ id: projectId }))
        await store.decideApproval(projectId, approval.id, { decision: 'approve', reason: null, decided_by: 'bob' })
        expect(await store.verifyAudit(projectId)).toMatchObject({ ok: true, events: 4, legacy_events: 2 })
        // The append-only trigger is back after the sealing.
        await expect(cluster.superuserQuery(config, "UPDATE audit_events SET actor = 'x' WHERE seq = 1")).rejects.toThrow(/append-only/)
      } finally {
        await store.close()
      }
    })

    it('fails clearly when the server cannot be reached', async () => {
      await expect(openPostgresStore('postgres://nobody:secret@127.0.0.1:1/none', { auditKey: testAuditKey() })).rejects.toThrow(/could not open the PostgreSQL store at postgres:\/\/\*\*\*@127\.0\.0\.1:1\/none/)
    })
  })
})
