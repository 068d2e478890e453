/**
 * First start on an empty data directory: a project, an admin who can sign in to the
 * dashboard, and an API key to send the first request — returned once so `serve` can print
 * them. Later starts find projects and create nothing.
 *
 * `serve` seeds only once its port is bound, and the admin's password is set at the last
 * moment before the banner prints it (`completeFirstRun`): until then the account holds an
 * unusable marker, so a start that dies while seeding leaves an admin "without a password",
 * which later starts point out (`adminWithoutPassword`) with the command that sets one.
 */
import { hashPassword, randomToken } from '../auth/secrets.js'
import type { Project, Store } from '../store/types.js'
import { AdminService } from './admin-service.js'

export const FIRST_PROJECT_NAME = 'default'
export const FIRST_ADMIN_EMAIL = 'admin@localhost'
/** Stored instead of a hash until the first-run banner was printed: no password matches it. */
export const UNSET_PASSWORD_HASH = '!unset'

export interface FirstRun {
  project: Project
  email: string
  userId: string
  /** Shown once; its scrypt hash is stored by `completeFirstRun`. */
  password: string
  /** A `request`-scope key, shown once. */
  apiKey: string
}

/** Seeds an empty store; `null` when it already has a project. */
export async function seedFirstRun(store: Store): Promise<FirstRun | null> {
  if ((await store.listProjects()).length > 0) return null
  const project = await store.createProject(FIRST_PROJECT_NAME)
  // A user may exist without any project (added, then the project went): their password is reset too.
  const existing = await store.getUserByEmail(FIRST_ADMIN_EMAIL)
  const user = existing ? await store.setPasswordHash(existing.id, UNSET_PASSWORD_HASH) : await store.createUser({ email: FIRST_ADMIN_EMAIL, password_hash: UNSET_PASSWORD_HASH })
  if (existing) await store.deleteUserSessions(existing.id)
  await store.setMembership(project.id, user.id, 'admin')
  const key = await new AdminService(store).createKey(project, 'first start', { name: 'first-key', scopes: ['request'] })
  return { project, email: FIRST_ADMIN_EMAIL, userId: user.id, password: randomToken(12), apiKey: key.key }
}

/** Makes the password the banner is about to print the admin's. */
export async function completeFirstRun(store: Store, first: FirstRun): Promise<void> {
  await store.setPasswordHash(first.userId, await hashPassword(first.password))
}

/** True when the first-start admin exists but never got a password anyone saw. */
export async function adminWithoutPassword(store: Store): Promise<boolean> {
  return (await store.getUserByEmail(FIRST_ADMIN_EMAIL))?.password_hash === UNSET_PASSWORD_HASH
}
