/**
 * People, policies and votes for tests of the policy rules against a real server: a project
 * with named members (each signed in to the dashboard, which is how a person votes), its
 * policy document stored as the admin service would, and one vote helper per way of voting.
 */
import { hashPassword } from '../../src/server/auth/secrets.js'
import { policyHash } from '../../src/server/policies/index.js'
import type { Project, Store } from '../../src/server/store/types.js'
import { FormClient, type DashboardFixture } from '../dashboard/fixture.js'
import { createKey } from './helpers.js'

/** A member who is signed in: `email` is what policies name. */
export interface Voter {
  email: string
  password: string
  client: FormClient
  csrf: string
}

let projects = 0

/** A new project whose members are `names` (emails `<name>.<slug>@example.com`), each signed in. */
export async function projectWithVoters<N extends string>(
  fx: Pick<DashboardFixture, 'store' | 'url'>,
  label: string,
  names: readonly N[],
  options: { githubLogins?: Partial<Record<N, string>> } = {},
): Promise<{ project: Project; slug: string; voters: Record<N, Voter>; email: (name: N) => string }> {
  const slug = `${label}-${++projects}`
  const project = await fx.store.createProject(slug)
  const email = (name: N) => `${name}.${slug}@example.com`
  const voters = {} as Record<N, Voter>
  for (const name of names) {
    const password = `${name} password for ${slug}`
    const user = await fx.store.createUser({ email: email(name), password_hash: await hashPassword(password) })
    await fx.store.setMembership(project.id, user.id, 'member', { github_login: options.githubLogins?.[name] ?? null })
    const client = new FormClient(fx.url)
    const status = await client.login(email(name), password)
    if (status !== 303) throw new Error(`signing in ${name} answered ${status}`)
    voters[name] = { email: email(name), password, client, csrf: await client.csrf() }
  }
  return { project, slug, voters, email }
}

/** Stores `source` as the project's current policy, as the admin service does after validating it. */
export async function setPolicy(store: Store, projectId: string, source: string): Promise<void> {
  await store.setPolicy({ project_id: projectId, source, format: 'yaml', hash: policyHash(source), created_by: 'test' })
}

/**
 * A new project with signed-in voters `names` (as `projectWithVoters`), the policy document
 * `policyOf(email)` and API keys: `request` (named ci) and `decide` (named deployer).
 */
export async function votersUnderPolicy<N extends string>(
  fx: DashboardFixture,
  label: string,
  names: readonly N[],
  policyOf: (email: (name: N) => string) => string,
): Promise<Awaited<ReturnType<typeof projectWithVoters<N>>> & { keys: { request: string; decide: string } }> {
  const people = await projectWithVoters(fx, label, names)
  await setPolicy(fx.store, people.project.id, policyOf(people.email))
  return { ...people, keys: await requestAndDecideKeys(fx.store, people.project.id) }
}

/** New API keys of a project: `request` (named ci) and `decide` (named deployer). */
export async function requestAndDecideKeys(store: Store, projectId: string): Promise<{ request: string; decide: string }> {
  return { request: await createKey(store, projectId, ['request'], 'ci'), decide: await createKey(store, projectId, ['decide'], 'deployer') }
}

export interface DashboardVote {
  status: number
  body: { result?: string; status?: string; message?: string; html?: string; error?: { code: string; message: string } }
}

/** A person's vote, as the dashboard's Approve/Reject buttons send it (JSON answer). */
export async function voteAs(voter: Voter, id: string, decision: 'approve' | 'reject', reason?: string): Promise<DashboardVote> {
  const form: Record<string, string> = { _csrf: voter.csrf, decision }
  if (reason !== undefined) form.reason = reason
  const response = await voter.client.request('POST', `/approvals/${id}/decision`, { form, headers: { accept: 'application/json' } })
  return { status: response.status, body: JSON.parse(response.text) as DashboardVote['body'] }
}
