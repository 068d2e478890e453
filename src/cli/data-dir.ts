/**
 * How admin commands reach the data: they open the embedded database in `--data` directly
 * (SQLite lets them write while the server runs), find projects by name, and close it.
 */
import { existsSync } from 'node:fs'
import { join, resolve } from 'node:path'
import { DATABASE_FILE, openDataDir } from '../server/server.js'
import type { Project, Store } from '../server/store/types.js'
import { CliError, flagOrEnv } from './cli-kit.js'

/** The `--data` flag every admin command takes. */
export const DATA_FLAG = { data: { type: 'string', short: 'd' } } as const

export const DATA_HELP = `  --data DIR     data directory of the server (env APPROVAL_GATE_DATA, default ./data)`

/** The data directory: `--data`, then `APPROVAL_GATE_DATA`, then `./data`. */
export function dataDirOf(flag: string | undefined, env: NodeJS.ProcessEnv): string {
  return resolve(flagOrEnv(flag, env, 'APPROVAL_GATE_DATA', './data')!)
}

/**
 * Runs `use` with the store of `dataDir` and closes it after. Unless `create`, a missing
 * database is an error: a mistyped `--data` must not quietly start an empty one.
 */
export async function withStore<T>(dataDir: string, use: (store: Store) => Promise<T>, options: { create?: boolean } = {}): Promise<T> {
  if (!options.create && !existsSync(join(dataDir, DATABASE_FILE))) {
    throw new CliError(`no approval-gate database in ${dataDir} (looked for ${DATABASE_FILE}); pass --data with the server's data directory`)
  }
  const store = await openDataDir(dataDir)
  try {
    return await use(store)
  } finally {
    await store.close()
  }
}

/** The project called `name`, or an error listing the ones that exist. */
export async function projectNamed(store: Store, name: string): Promise<Project> {
  const project = await store.getProjectByName(name)
  if (project) return project
  const names = (await store.listProjects()).map((p) => p.name)
  throw new CliError(`no project named ${JSON.stringify(name)}${names.length ? `; projects: ${names.join(', ')}` : '; create one with `approval-gate project create NAME`'}`)
}
