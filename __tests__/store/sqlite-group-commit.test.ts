/**
 * Group commit on SQLite: writes queued together share one transaction, each in a savepoint.
 * Proven on real files: a failing unit undoes only itself, every caller is answered only once
 * its batch is committed (another connection already sees it), the chain stays linear under a
 * concurrent burst, and `groupCommit: false` keeps the one-transaction-per-write path working.
 */
import { describe, expect, it } from '@jest/globals'
import { DatabaseSync } from 'node:sqlite'
import { GroupCommit } from '../../src/server/store/sqlite/group-commit.js'
import { openSqliteStore } from '../../src/server/store/sqlite/index.js'
import { isStoreError } from '../../src/server/store/errors.js'
import { approvalFor } from './approval-input.js'
import { tempSqliteFiles } from './temp-sqlite-files.js'

const files = tempSqliteFiles('group-commit')

/** A raw database with one table, for the batcher on its own. */
function tableFile(): { file: string; db: DatabaseSync } {
  const file = files.fresh()
  const db = new DatabaseSync(file)
  db.exec('PRAGMA journal_mode = WAL')
  db.exec('CREATE TABLE t (n INTEGER PRIMARY KEY)')
  return { file, db }
}

const rowsOf = (db: DatabaseSync) => (db.prepare('SELECT n FROM t ORDER BY n').all() as { n: number }[]).map((row) => row.n)
const asIs = (error: unknown) => error

describe('GroupCommit on a raw database', () => {
  it('runs units queued together in one transaction, and a failing unit rolls back only its own writes', async () => {
    const { db } = tableFile()
    const batcher = new GroupCommit(db)
    const insert = (n: number) => () => db.prepare('INSERT INTO t (n) VALUES (?)').run(n).changes
    const outcomes = await Promise.allSettled([
      batcher.run(insert(1), asIs),
      batcher.run(() => {
        insert(2)()
        throw new Error('unit two fails after writing')
      }, asIs),
      batcher.run(insert(1), asIs), // duplicate key: a constraint error inside its savepoint
      batcher.run(insert(3), asIs),
    ])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'rejected', 'fulfilled'])
    expect((outcomes[1] as PromiseRejectedResult).reason.message).toBe('unit two fails after writing')
    expect(String((outcomes[2] as PromiseRejectedResult).reason)).toMatch(/UNIQUE/)
    expect(rowsOf(db)).toEqual([1, 3])
    expect(db.isTransaction).toBe(false)
    db.close()
  })

  it('answers a caller only after the commit: another connection already sees the write', async () => {
    const { file, db } = tableFile()
    const other = new DatabaseSync(file)
    const batcher = new GroupCommit(db)
    const seenByOther: number[][] = []
    await Promise.all(
      [10, 11, 12].map((n) =>
        batcher.run(() => db.prepare('INSERT INTO t (n) VALUES (?)').run(n), asIs).then(() => {
          seenByOther.push(rowsOf(other))
        }),
      ),
    )
    // Each caller, when answered, finds the whole batch committed.
    expect(seenByOther).toEqual([
      [10, 11, 12],
      [10, 11, 12],
      [10, 11, 12],
    ])
    other.close()
    db.close()
  })

  it('splits a long queue into batches of at most the maximum size, in arrival order', async () => {
    const { file, db } = tableFile()
    const other = new DatabaseSync(file)
    const batcher = new GroupCommit(db, 3)
    // Inside a unit, this connection sees every earlier unit; the other one only committed batches.
    const seen = await Promise.all(
      Array.from({ length: 8 }, (_, i) =>
        batcher.run(() => {
          db.prepare('INSERT INTO t (n) VALUES (?)').run(i)
          return { own: rowsOf(db).length, committed: rowsOf(other).length }
        }, asIs),
      ),
    )
    expect(seen.map((s) => s.own)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
    expect(seen.map((s) => s.committed)).toEqual([0, 0, 0, 3, 3, 3, 6, 6])
    other.close()
    db.close()
  })

  it('refuses a batch size that is not a positive integer', () => {
    const { db } = tableFile()
    expect(() => new GroupCommit(db, 0)).toThrow(/positive integer, got 0/)
    db.close()
  })
})

describe('the SQLite store with group commit', () => {
  it('keeps one linear, verifiable chain and first-decision-wins under a burst of concurrent creates and decisions', async () => {
    const store = await openSqliteStore(files.fresh())
    const project = await store.createProject('burst')
    const created = await Promise.all(Array.from({ length: 100 }, (_, i) => store.createApproval(approvalFor(project, { action: `deploy ${i}` }))))
    const ids = created.map((result) => result.approval.id)
    // Every approval decided twice at once: exactly one of each pair wins.
    const decided = await Promise.all(
      ids.flatMap((id) => [
        store.decideApproval(project.id, id, { decision: 'approve', reason: null, decided_by: 'ada' }),
        store.decideApproval(project.id, id, { decision: 'reject', reason: 'late', decided_by: 'bob' }),
      ]),
    )
    expect(decided.filter((result) => result?.changed)).toHaveLength(100)
    expect(await store.verifyAudit(project.id)).toMatchObject({ ok: true, events: 200 })
    const seqs: number[] = []
    for await (const event of store.exportAudit(project.id)) seqs.push(event.seq)
    expect(seqs).toEqual(Array.from({ length: 200 }, (_, i) => i + 1))
    await store.close()
  })

  it('fails only the conflicting write of a batch, with its own clear error', async () => {
    const store = await openSqliteStore(files.fresh())
    const outcomes = await Promise.allSettled([store.createProject('alpha'), store.createProject('alpha'), store.createProject('beta')])
    expect(outcomes.map((o) => o.status)).toEqual(['fulfilled', 'rejected', 'fulfilled'])
    const error = (outcomes[1] as PromiseRejectedResult).reason
    expect(isStoreError(error) && error.code).toBe('conflict')
    expect((await store.listProjects()).map((p) => p.name).sort()).toEqual(['alpha', 'beta'])
    await store.close()
  })

  it('commits and answers writes still queued when the store closes', async () => {
    const file = files.fresh()
    const store = await openSqliteStore(file)
    const project = await store.createProject('closing')
    const pending = store.createApproval(approvalFor(project))
    await store.close()
    const { approval } = await pending
    const reopened = await openSqliteStore(file)
    expect((await reopened.getApproval(project.id, approval.id))?.status).toBe('pending')
    await reopened.close()
  })

  it('links each event to the head another process left: two stores appending in turn to one file keep one verifiable chain', async () => {
    const file = files.fresh()
    const mine = await openSqliteStore(file)
    const project = await mine.createProject('shared-file')
    const theirs = await openSqliteStore(file)
    // Each store remembers the last event it appended; every append of the other moves the head past it.
    for (let i = 0; i < 6; i++) {
      const writer = i % 3 === 2 ? theirs : mine
      const { approval } = await writer.createApproval(approvalFor(project, { action: `deploy ${i}` }))
      await (i % 2 ? theirs : mine).decideApproval(project.id, approval.id, { decision: 'approve', reason: null, decided_by: 'ada' })
    }
    expect(await mine.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: 12 })
    expect(await theirs.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: 12 })
    await theirs.close()
    await mine.close()
  })

  it('still gives every write its own transaction with groupCommit: false', async () => {
    const store = await openSqliteStore(files.fresh(), { groupCommit: false })
    const project = await store.createProject('solo')
    const created = await Promise.all(Array.from({ length: 10 }, () => store.createApproval(approvalFor(project))))
    await Promise.all(created.map(({ approval }) => store.decideApproval(project.id, approval.id, { decision: 'approve', reason: null, decided_by: 'ada' })))
    expect(await store.verifyAudit(project.id)).toMatchObject({ ok: true, events: 20 })
    await expect(store.createProject('solo')).rejects.toMatchObject({ code: 'conflict' })
    await store.close()
  })
})
