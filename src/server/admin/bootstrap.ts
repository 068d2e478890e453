/**
 * First start on an empty data directory: a project, an admin who can sign in to the
 * dashboard, and an API key to send the first request — returned once so `serve` can print
 * them. Later starts find projects and create nothing.
 */
import { hashPassword, newApiKey, randomToken } from '../auth/secrets.js'
import type { Project, Store } from '../store/types.js'

export const FIRST_PROJECT_NAME = 'default'
export const FIRST_ADMIN_EMAIL = 'admin@localhost'

export interface FirstRun {
  project: Project
  email: string
  /** Shown once; only its scrypt hash is stored. */
  password: string
  /** A `request`-scope key, shown once. */
  apiKey: string
}

/** Seeds an empty store; `null` when it already has a project. */
export async function seedFirstRun(store: Store): Promise<FirstRun | null> {
  if ((await store.listProjects()).length > 0) return null
  const project = await store.createProject(FIRST_PROJECT_NAME)
  const password = randomToken(12)
  const password_hash = await hashPassword(password)
  // A user may exist without any project (added, then the project went): reset their password.
  const existing = await store.getUserByEmail(FIRST_ADMIN_EMAIL)
  const user = existing ? await store.setPasswordHash(existing.id, password_hash) : await store.createUser({ email: FIRST_ADMIN_EMAIL, password_hash })
  if (existing) await store.deleteUserSessions(existing.id)
  await store.setMembership(project.id, user.id, 'admin')
  const key = newApiKey()
  await store.createApiKey({ project_id: project.id, name: 'first-key', scopes: ['request'], key_hash: key.hash, prefix: key.prefix })
  return { project, email: FIRST_ADMIN_EMAIL, password, apiKey: key.key }
}
