/**
 * What both backends' migration runners share: the shape of a numbered migration and the
 * rule for which ones to apply. Each backend keeps its own SQL and transaction handling.
 */

/** One schema step. Never edit a released migration; add the next number. */
export interface Migration {
  version: number
  name: string
  sql: string
}

/**
 * The migrations `recorded` (the versions in `schema_migrations`) lacks, in order. Every missing
 * version is applied, not only those above the highest: a database that ran a build which
 * recorded a later version without an earlier one still gets the earlier one. Refuses a database
 * written by a newer approval-gate instead of running old code against a schema it does not
 * understand.
 */
export function pendingMigrations(migrations: readonly Migration[], recorded: readonly number[]): Migration[] {
  const latest = migrations[migrations.length - 1].version
  const newest = Math.max(0, ...recorded)
  if (newest > latest) {
    throw new Error(`the database schema is version ${newest}, newer than this approval-gate supports (${latest}); upgrade approval-gate`)
  }
  const applied = new Set(recorded)
  return migrations.filter((migration) => !applied.has(migration.version))
}

/** A migration's failure, naming the step (an operator reads it at start-up, with the database unchanged: the runner's transaction rolls back). */
export function migrationFailed(migration: Migration, error: unknown): Error {
  const why = error instanceof Error ? error.message : String(error)
  return new Error(`schema migration ${migration.version} (${migration.name}) failed, nothing was changed: ${why}`, { cause: error })
}

/** Why a database refuses the audit key it was opened with. */
export function wrongKeyMessage(recorded: string, key: { fingerprint: string }): string {
  return (
    `this database's audit chain was written with another audit key (fingerprint ${recorded.slice(0, 12)}…, ` +
    `the key given has ${key.fingerprint.slice(0, 12)}…): use the key file or APPROVAL_GATE_AUDIT_KEY that belongs to this database`
  )
}
