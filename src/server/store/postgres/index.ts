/** The PostgreSQL backend of the store, for several server replicas on one database. */
import pg from 'pg'
import { AuditKeyError, POSTGRES_NEEDS_KEY, type AuditKey } from '../audit-key.js'
import type { Store } from '../types.js'
import { migrate } from './migrations.js'
import { PostgresStore } from './postgres-store.js'

/** A connection string (`postgres://user:pass@host:5432/db`) or a full `pg` pool configuration. */
export type PostgresConnection = string | pg.PoolConfig

/**
 * Connects to PostgreSQL, migrates the schema (once, even when replicas start together) and
 * returns the store. Fails with a message naming the server when it cannot connect.
 */
export async function openPostgresStore(connection: PostgresConnection, options: { auditKey?: AuditKey; groupCommit?: boolean } = {}): Promise<Store> {
  // Required: beside a shared database there is no private place for a default key file.
  const key = options.auditKey
  if (!key) throw new AuditKeyError(POSTGRES_NEEDS_KEY)
  const pool = new pg.Pool(typeof connection === 'string' ? { connectionString: connection } : connection)
  // An idle connection dropped by the server must not crash the process; the next query reconnects.
  pool.on('error', () => {})
  try {
    const client = await pool.connect()
    try {
      await migrate(client, key)
    } finally {
      client.release()
    }
  } catch (error) {
    await pool.end().catch(() => {})
    if (error instanceof AuditKeyError) throw error
    const where = typeof connection === 'string' ? connection.replace(/\/\/[^@/]*@/, '//***@') : `${connection.host ?? 'localhost'}:${connection.port ?? 5432}`
    throw new Error(`could not open the PostgreSQL store at ${where}: ${(error as Error).message}`, { cause: error })
  }
  return new PostgresStore(pool, key, { groupCommit: options.groupCommit })
}
