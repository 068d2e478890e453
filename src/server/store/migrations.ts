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
 * The migrations after `current` (the highest version recorded in `schema_migrations`), in
 * order. Refuses a database written by a newer approval-gate instead of running old code
 * against a schema it does not understand.
 */
export function pendingMigrations(migrations: readonly Migration[], current: number): Migration[] {
  const latest = migrations[migrations.length - 1].version
  if (current > latest) {
    throw new Error(`the database schema is version ${current}, newer than this approval-gate supports (${latest}); upgrade approval-gate`)
  }
  return migrations.filter((migration) => migration.version > current)
}

/** Why a database refuses the audit key it was opened with. */
export function wrongKeyMessage(recorded: string, key: { fingerprint: string }): string {
  return (
    `this database's audit chain was written with another audit key (fingerprint ${recorded.slice(0, 12)}…, ` +
    `the key given has ${key.fingerprint.slice(0, 12)}…): use the key file or APPROVAL_GATE_AUDIT_KEY that belongs to this database`
  )
}
