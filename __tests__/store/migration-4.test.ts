/**
 * Schema version 4 on a database written by version 1: every membership gets its user's old
 * (account-wide) GitHub login, so projects that relied on it keep their self-approval rule.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { afterAll, beforeAll, expect, it } from '@jest/globals'
import { MIGRATIONS } from '../../src/server/store/sqlite/migrations.js'
import { openSqliteStore } from '../../src/server/store/index.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-migration-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

it('copies account GitHub logins to every membership and adds invitations', async () => {
  const file = join(dir, 'v1.db')
  const db = new DatabaseSync(file)
  const v1 = MIGRATIONS.find((m) => m.version === 1)!
  db.exec(v1.sql)
  db.exec("CREATE TABLE schema_migrations (version INTEGER PRIMARY KEY, name TEXT NOT NULL, applied_at TEXT NOT NULL) STRICT; INSERT INTO schema_migrations VALUES (1, 'initial schema', '2026-01-01T00:00:00.000Z')")
  const now = '2026-01-01T00:00:00.000Z'
  db.exec(`INSERT INTO projects VALUES ('prj_a', 'a', '{}', '${now}'), ('prj_b', 'b', '{}', '${now}')`)
  db.exec(`INSERT INTO users VALUES ('usr_1', 'ada@example.com', 'ada@example.com', 'h', 'ada-gh', '${now}'), ('usr_2', 'bob@example.com', 'bob@example.com', 'h', NULL, '${now}')`)
  db.exec(`INSERT INTO memberships VALUES ('prj_a', 'usr_1', 'admin', '${now}'), ('prj_b', 'usr_1', 'member', '${now}'), ('prj_a', 'usr_2', 'member', '${now}')`)
  db.close()

  const store = await openSqliteStore(file)
  try {
    expect((await store.listMembers('prj_a')).map((m) => [m.email, m.github_login])).toEqual([
      ['ada@example.com', 'ada-gh'],
      ['bob@example.com', null],
    ])
    expect((await store.listProjectsForUser('usr_1')).map((p) => [p.name, p.github_login])).toEqual([
      ['a', 'ada-gh'],
      ['b', 'ada-gh'],
    ])
    expect(await store.listOpenInvitations('prj_a')).toEqual([])
  } finally {
    await store.close()
  }
})
