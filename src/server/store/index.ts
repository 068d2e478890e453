/**
 * Entry point of the storage layer: pick a backend, get a `Store`. Everything else in the
 * server depends only on the `Store` interface from `./types.js`.
 */
import type { PostgresConnection } from './postgres/index.js'
import { openSqliteStore } from './sqlite/index.js'
import type { AuditKey } from './audit-key.js'
import type { Store } from './types.js'

export type StoreOptions =
  /** Embedded default: one SQLite file (created if missing). */
  | { kind: 'sqlite'; path: string; auditKey?: AuditKey; onKeyWarning?: (message: string) => void; groupCommit?: boolean }
  /** PostgreSQL, for several replicas: a connection string or a `pg` pool configuration. The audit key is required. */
  | { kind: 'postgres'; connection: PostgresConnection; auditKey?: AuditKey; groupCommit?: boolean }

/** Opens the store described by `options`. */
export async function openStore(options: StoreOptions): Promise<Store> {
  switch (options.kind) {
    case 'sqlite':
      return openSqliteStore(options.path, { auditKey: options.auditKey, onKeyWarning: options.onKeyWarning, groupCommit: options.groupCommit })
    case 'postgres': {
      // Loaded on demand: the embedded default should not pay for loading the pg driver.
      const { openPostgresStore } = await import('./postgres/index.js')
      return openPostgresStore(options.connection, { auditKey: options.auditKey, groupCommit: options.groupCommit })
    }
    default:
      throw new Error(`unknown store kind: ${JSON.stringify((options as { kind: unknown }).kind)}`)
  }
}

export { openSqliteStore, type PostgresConnection }
export { StoreError, isStoreError, type StoreErrorCode } from './errors.js'
export { DEFAULT_PROJECT_SETTINGS } from './inputs.js'
export { GENESIS_HASH, verifyAuditChain, hashAuditEvent, type AuditCheckpoint, type ChainHead } from './audit-chain.js'
export type * from './types.js'
