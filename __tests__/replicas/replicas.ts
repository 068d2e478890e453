/**
 * Two approvals server replicas (`startServer` with `database: postgres`) sharing one new
 * database of a throwaway PostgreSQL cluster, with project `main` and one key per scope.
 */
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import type pg from 'pg'
import { PostgresNotifier } from '../../src/server/approvals/postgres-notifier.js'
import { startServer, type RunningServer } from '../../src/server/server.js'
import type { KeyScope, Project } from '../../src/server/store/types.js'
import { createKey } from '../server/helpers.js'
import type { PostgresCluster } from '../store/temp-postgres.js'
import { testAuditKey } from '../helpers/audit-key.js'
import { waitUntil } from '../helpers/wait-until.js'

export interface Replicas {
  a: RunningServer
  b: RunningServer
  /** The database both replicas use (for superuser queries). */
  database: pg.PoolConfig
  project: Project
  keys: Record<KeyScope, string>
  close(): Promise<void>
}

/** `postgres://user@host:port/db` for a database made by the temp cluster (trust auth, no password). */
export function databaseUrl(config: pg.PoolConfig): string {
  return `postgres://${config.user}@${config.host}:${config.port}/${config.database}`
}

/** Starts replicas A and B on a new database; the project and keys are made through A's store. */
export async function startReplicas(cluster: PostgresCluster): Promise<Replicas> {
  const database = await cluster.createDatabase()
  const url = databaseUrl(database)
  // `dataDir` is required by the options but not used with `database`: nothing is created there.
  const options = { dataDir: join(tmpdir(), 'approval-gate-unused'), port: 0, database: { kind: 'postgres' as const, url }, auditKey: testAuditKey() }
  const a = await startServer(options)
  let b: RunningServer
  try {
    b = await startServer(options)
  } catch (error) {
    await a.close()
    throw error
  }
  const project = await a.store.createProject('main')
  const keys = {} as Record<KeyScope, string>
  for (const scope of ['request', 'decide', 'admin'] as const) keys[scope] = await createKey(a.store, project.id, [scope], `${scope}-key`)
  return {
    a,
    b,
    database,
    project,
    keys,
    async close() {
      await Promise.all([a.close(), b.close()])
    },
  }
}

/** The replica's PostgreSQL notifier (fails the test if the server runs another kind). */
export function pgNotifier(server: RunningServer): PostgresNotifier {
  if (!(server.notifier instanceof PostgresNotifier)) throw new Error('the server is not running the PostgreSQL notifier')
  return server.notifier
}

/** Polls `condition` every 10 ms until it holds; throws naming `what` after `limitMs` (see `waitUntil`). */
export async function until(what: string, condition: () => boolean | Promise<boolean>, limitMs = 15_000): Promise<void> {
  await waitUntil(condition, { what, timeoutMs: limitMs })
}
