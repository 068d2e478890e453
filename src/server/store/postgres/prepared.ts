/**
 * Named prepared statements for the hot reads. node-postgres sends a statement without a name
 * as an unnamed one, which PostgreSQL parses and plans anew on every execution; with a name it
 * is parsed once per connection and executed from then on (a plan cached per backend). Only
 * statements whose text never varies may be prepared: the name is derived from the text, so
 * two texts never share a name and every connection prepares a text under the same name.
 */
import { createHash } from 'node:crypto'
import type pg from 'pg'

/** A fixed statement text and the name it is prepared under. */
export interface Prepared {
  readonly name: string
  readonly text: string
}

/** The statement for `text`, its name derived once (call at module level, with a constant). */
export function prepared(text: string): Prepared {
  return { name: `ag_${createHash('sha256').update(text).digest('hex').slice(0, 24)}`, text }
}

/**
 * A prepared statement whose plan PostgreSQL refuses after a schema change altered its result
 * columns (e.g. a migration added a column a `SELECT *` returns): "cached plan must not change
 * result type". The connection's copy is stale; a new connection prepares the statement anew.
 */
export function isStalePlan(error: unknown): boolean {
  const { code, message } = error as { code?: unknown; message?: unknown }
  return code === '0A000' && typeof message === 'string' && message.includes('cached plan must not change result type')
}

/**
 * Runs `statement` with `values` on a connection from `pool`. After a stale plan the statement
 * runs again on another connection (each pooled connection can be stale once after a migration,
 * so at most the pool's size again).
 */
export async function queryPrepared(pool: pg.Pool, statement: Prepared, values: unknown[]): Promise<pg.QueryResult> {
  const attempts = (pool.options.max ?? 10) + 1
  for (let attempt = 1; ; attempt++) {
    const client = await pool.connect()
    try {
      const result = await client.query({ name: statement.name, text: statement.text, values })
      client.release()
      return result
    } catch (error) {
      // As pool.query does: a connection that failed a query is closed, not pooled again
      // (a stale one's prepared statements go with it).
      client.release(error as Error)
      if (!isStalePlan(error) || attempt >= attempts) throw error
    }
  }
}
