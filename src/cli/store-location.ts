/**
 * Where the server's data lives, for `serve` and the admin commands: the embedded SQLite
 * database in `--data`, or the PostgreSQL database of `--database-url`. Admin commands open
 * it directly (both backends let them write while the server runs), find their `--project`
 * by name, and close it.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import type { DatabaseOptions } from '../server/server.js'
import { AuditKeyError, POSTGRES_NEEDS_KEY, resolveAuditKey, type AuditKeySource } from '../server/store/audit-key.js'
import type { Project, Store } from '../server/store/types.js'
import { CliError, flagOrEnv, required, UsageError, type Command } from './cli-kit.js'
import { dataDirOpenError, prepareDataDir } from './data-dir.js'
import { loadServer } from './node-version.js'

/** The `--data`, `--database-url` and `--audit-key-file` flags of `serve` and every admin command. */
export const STORE_FLAGS = { data: { type: 'string', short: 'd' }, 'database-url': { type: 'string' }, 'audit-key-file': { type: 'string' } } as const

/** Help lines of the audit key (options column 22 wide). */
export const AUDIT_KEY_HELP = `  --audit-key-file F  the audit chain's key file, mode 0600 (env APPROVAL_GATE_AUDIT_KEY_FILE;
                      or the key itself in APPROVAL_GATE_AUDIT_KEY). Default with --data:
                      DIR/audit.key, created on first start. Required with --database-url`

/** Help lines of `STORE_FLAGS` for the admin commands (options column 22 wide). */
export const STORE_HELP = `  --data DIR          data directory of the server (env APPROVAL_GATE_DATA, default ./data)
  --database-url URL  the server's PostgreSQL database instead of --data:
                      postgres://USER:PASSWORD@HOST:5432/DB (env APPROVAL_GATE_DATABASE_URL;
                      prefer the environment: flags show in the process list)
${AUDIT_KEY_HELP}`

/** `STORE_FLAGS` plus the `--project NAME` that the admin commands working on one project take. */
export const PROJECT_FLAGS = { ...STORE_FLAGS, project: { type: 'string' } } as const

/** Help line of `--project` (same column as `STORE_HELP`). */
export const PROJECT_HELP = `  --project NAME      the project (required)`

/** The embedded database's directory, and the PostgreSQL database that replaces it when given. */
export interface StoreLocation {
  /** Absolute; not used when `database` is set. */
  dataDir: string
  database?: DatabaseOptions
  /** Where the audit key comes from; none given means `<dataDir>/audit.key` (SQLite only). */
  auditKeySource?: AuditKeySource
}

/**
 * The location from the flags, then `APPROVAL_GATE_DATABASE_URL` / `APPROVAL_GATE_DATA`,
 * then `./data`. A database URL that is not PostgreSQL is a usage error of `command`.
 */
export function storeLocationOf(values: { data?: string; 'database-url'?: string; 'audit-key-file'?: string }, env: NodeJS.ProcessEnv, command: string): StoreLocation {
  const dataDir = resolve(flagOrEnv(values.data, env, 'APPROVAL_GATE_DATA', './data')!)
  const database = parseDatabaseUrl(flagOrEnv(values['database-url'], env, 'APPROVAL_GATE_DATABASE_URL'), command)
  const keyFile = flagOrEnv(values['audit-key-file'], env, 'APPROVAL_GATE_AUDIT_KEY_FILE')
  const keyText = flagOrEnv(undefined, env, 'APPROVAL_GATE_AUDIT_KEY')
  const auditKey: AuditKeySource = {}
  if (keyFile !== undefined) auditKey.file = resolve(keyFile)
  if (keyText !== undefined) auditKey.text = keyText
  const location: StoreLocation = database ? { dataDir, database } : { dataDir }
  if (keyFile !== undefined || keyText !== undefined) location.auditKeySource = auditKey
  return location
}

/** A PostgreSQL URL, checked without ever echoing it (it may hold a password). */
function parseDatabaseUrl(text: string | undefined, command: string): DatabaseOptions | undefined {
  if (text === undefined) return undefined
  let url: URL | null = null
  try {
    url = new URL(text)
  } catch {
    // reported below, without echoing a URL that may hold a password
  }
  if (!url || (url.protocol !== 'postgres:' && url.protocol !== 'postgresql:')) {
    throw new UsageError('--database-url must be a PostgreSQL URL such as postgres://USER:PASSWORD@HOST:5432/DB', command)
  }
  return { kind: 'postgres', url: text }
}

/** The location for logs and messages: the data directory, or the URL with its password replaced by ***. */
export function describeStoreLocation(location: StoreLocation): string {
  return location.database ? location.database.url.replace(/\/\/([^:@/]*):[^@/]*@/, '//$1:***@') : location.dataDir
}

/**
 * Opens the store at `location`. A PostgreSQL server that cannot be reached is a `CliError`
 * naming the server (never the password), not an unexpected error; so is a data directory
 * that cannot be created or written (naming the path, see `data-dir.ts`).
 */
export async function openStoreAt(location: StoreLocation, warn: (message: string) => void = defaultWarn): Promise<Store> {
  const { openServerStore } = await loadServer()
  if (!location.database) await prepareDataDir(location.dataDir)
  try {
    const loaded = resolveAuditKey(location.auditKeySource ?? {})
    if (loaded?.warning) warn(loaded.warning)
    if (location.database && !loaded) throw new AuditKeyError(POSTGRES_NEEDS_KEY)
    return await openServerStore({ ...location, auditKey: loaded?.key, onKeyWarning: warn })
  } catch (error) {
    if (error instanceof AuditKeyError) throw new CliError(error.message)
    if (location.database && error instanceof Error) throw new CliError(error.message)
    throw location.database ? error : dataDirOpenError(location.dataDir, error)
  }
}

function defaultWarn(message: string): void {
  process.stderr.write(`approval-gate: warning: ${message}\n`)
}

/**
 * Runs `use` with the store at `location` and closes it after. Unless `create`, a missing
 * SQLite database is an error: a mistyped `--data` must not quietly start an empty one.
 * (On PostgreSQL a mistyped database name fails to connect; an empty database gets the schema.)
 */
export async function withStore<T>(location: StoreLocation, use: (store: Store) => Promise<T>, options: { create?: boolean } = {}): Promise<T> {
  const { DATABASE_FILE } = await loadServer()
  if (!location.database && !options.create && !existsSync(join(location.dataDir, DATABASE_FILE))) {
    throw new CliError(
      `no approval-gate database in ${location.dataDir} (looked for ${DATABASE_FILE}); pass --data with the server's data directory, or --database-url for PostgreSQL`,
    )
  }
  const store = await openStoreAt(location)
  try {
    return await use(store)
  } finally {
    await store.close()
  }
}

/** The project called `name`, or an error listing the ones that exist. */
async function projectNamed(store: Store, name: string): Promise<Project> {
  const project = await store.getProjectByName(name)
  if (project) return project
  const names = (await store.listProjects()).map((p) => p.name)
  throw new CliError(`no project named ${JSON.stringify(name)}${names.length ? `; projects: ${names.join(', ')}` : '; create one with `approval-gate project create NAME`'}`)
}

/** A project by name, and where the data it lives in is. */
export interface ProjectTarget {
  projectName: string
  location: StoreLocation
}

/**
 * The required `--project` and the store location of `command`'s flags (`PROJECT_FLAGS`),
 * checked together before the command reads input or opens anything.
 */
export function projectTargetOf(command: Command, values: { project?: string; data?: string; 'database-url'?: string }, env: NodeJS.ProcessEnv): ProjectTarget {
  return { projectName: required(values.project, '--project', command), location: storeLocationOf(values, env, command.name) }
}

/** Runs `use` with the open store and the target project (an error naming the projects if it does not exist). */
export async function withProject<T>(target: ProjectTarget, use: (store: Store, project: Project) => Promise<T>): Promise<T> {
  return withStore(target.location, async (store) => use(store, await projectNamed(store, target.projectName)))
}
