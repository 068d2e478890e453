/** The embedded SQLite backend of the store. */
import { dirname, join } from 'node:path'
import { AUDIT_KEY_FILE, loadOrCreateAuditKeyFile, type AuditKey } from '../audit-key.js'
import { SqliteStore, openDatabase } from './sqlite-store.js'
import type { Store } from '../types.js'

export interface SqliteStoreOptions {
  /**
   * The audit chain's key. Default: `audit.key` beside the database file, created (0600, a
   * new random key) on first open; `onKeyWarning` hears when its permissions are too wide.
   */
  auditKey?: AuditKey
  onKeyWarning?: (message: string) => void
  /**
   * Group commit (default on): writes arriving together share one transaction and one fsync,
   * each caller answered after that commit. `false` commits every write on its own.
   */
  groupCommit?: boolean
}

/**
 * Opens (creating and migrating if needed) the SQLite store at `filePath`. Several processes
 * may open the same file at once (the server and CLI admin commands).
 */
export async function openSqliteStore(filePath: string, options: SqliteStoreOptions = {}): Promise<Store> {
  let key = options.auditKey
  if (!key) {
    const loaded = loadOrCreateAuditKeyFile(defaultAuditKeyFile(filePath))
    if (loaded.warning) options.onKeyWarning?.(loaded.warning)
    key = loaded.key
  }
  return new SqliteStore(openDatabase(filePath, key), key, { groupCommit: options.groupCommit })
}

/** Where the default key of the database at `filePath` lives: `audit.key` in the same directory. */
export function defaultAuditKeyFile(filePath: string): string {
  return join(dirname(filePath), AUDIT_KEY_FILE)
}
