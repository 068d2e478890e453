/** The embedded SQLite backend of the store. */
import { SqliteStore, openDatabase } from './sqlite-store.js'
import type { Store } from '../types.js'

/**
 * Opens (creating and migrating if needed) the SQLite store at `filePath`. Several processes
 * may open the same file at once (the server and CLI admin commands).
 */
export async function openSqliteStore(filePath: string): Promise<Store> {
  return new SqliteStore(openDatabase(filePath))
}
