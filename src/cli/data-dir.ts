/**
 * Checks `--data` before the embedded database is opened, so a directory that cannot be used
 * is one message naming the path, what is wrong with it and what to do — not a raw `EACCES`,
 * `EEXIST` or SQLite's "unable to open database file".
 */
import { constants } from 'node:fs'
import { access, mkdir, stat } from 'node:fs/promises'
import { dirname, join } from 'node:path'
import { CliError } from './cli-kit.js'

/** File name of the embedded database (the server's `DATABASE_FILE`, kept here so checking needs no server code). */
const DATABASE_FILE = 'approval-gate.db'

const FIX = 'pass --data (or APPROVAL_GATE_DATA) with a directory the user running approval-gate can write to'

/**
 * Creates `dataDir` when missing and checks that the database can be created or opened
 * for writing in it. Throws a `CliError` saying which path is wrong, how, and what to do.
 */
export async function prepareDataDir(dataDir: string): Promise<void> {
  const existing = await nearestExisting(dataDir)
  if (!existing.stats.isDirectory()) {
    if (existing.path === dataDir) throw new CliError(`data directory ${dataDir} is a file, not a directory; ${FIX}`)
    throw new CliError(`cannot create data directory ${dataDir}: ${existing.path} is a file, not a directory; ${FIX}`)
  }
  if (existing.path !== dataDir) {
    try {
      await mkdir(dataDir, { recursive: true, mode: 0o700 })
    } catch (error) {
      throw new CliError(`cannot create data directory ${dataDir}: ${reason(error)} in ${existing.path}; create it yourself, or ${FIX}`)
    }
  }
  const database = join(dataDir, DATABASE_FILE)
  const databaseStats = await stat(database).catch(() => null)
  if (databaseStats && !databaseStats.isFile()) throw new CliError(`${database} is not a file; move it away, or ${FIX}`)
  try {
    // The database and its -wal/-shm files are created next to each other: the directory must be writable.
    await access(dataDir, constants.W_OK | constants.X_OK)
    if (databaseStats) await access(database, constants.R_OK | constants.W_OK)
  } catch (error) {
    throw new CliError(
      `data directory ${dataDir} is not writable (${reason(error)}); approval-gate keeps ${DATABASE_FILE} and its -wal and -shm files there: make it writable for this user, or ${FIX}`,
    )
  }
}

/**
 * SQLite's errors when it cannot open or write the file (read-only directory or file system,
 * a lock it cannot take) as a `CliError` naming the path; anything else unchanged.
 */
export function dataDirOpenError(dataDir: string, error: unknown): unknown {
  const sqlite = error as { code?: string; errcode?: number; message?: string }
  // SQLITE_CANTOPEN (14), SQLITE_READONLY (8), SQLITE_PERM (3), SQLITE_IOERR (10)
  if (sqlite?.code !== 'ERR_SQLITE_ERROR' || ![3, 8, 10, 14].includes((sqlite.errcode ?? 0) & 0xff)) return error
  return new CliError(
    `cannot open the database ${join(dataDir, DATABASE_FILE)}: ${sqlite.message}; the directory and the file must be writable (read-only file system or directory?): make them writable for this user, or ${FIX}`,
  )
}

async function nearestExisting(path: string): Promise<{ path: string; stats: import('node:fs').Stats }> {
  for (let current = path; ; current = dirname(current)) {
    try {
      return { path: current, stats: await stat(current) }
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      // ENOTDIR: a file somewhere above; keep walking up to name it.
      if ((code !== 'ENOENT' && code !== 'ENOTDIR') || dirname(current) === current) throw new CliError(`cannot use data directory ${path}: ${reason(error)}; ${FIX}`)
    }
  }
}

/** `permission denied (EACCES)` rather than the whole system message with its path. */
function reason(error: unknown): string {
  const code = (error as NodeJS.ErrnoException)?.code
  const words: Record<string, string> = {
    EACCES: 'permission denied',
    EPERM: 'operation not permitted',
    EROFS: 'read-only file system',
    ENOSPC: 'no space left on the device',
    ENOTDIR: 'a path component is not a directory',
    EEXIST: 'a file is in the way',
  }
  return code ? `${words[code] ?? (error as Error).message} (${code})` : String((error as Error)?.message ?? error)
}
