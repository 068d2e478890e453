/** A real approvals server (temp SQLite data dir, port 0) with a project, two members and API keys, for dashboard tests. */
import { afterEach, expect } from '@jest/globals'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { hashPassword, newApiKey } from '../../src/server/auth/secrets.js'
import { startServer, type RunningServer, type StartServerOptions } from '../../src/server/server.js'
import type { KeyScope, Project, Store, User } from '../../src/server/store/types.js'

export const ADMIN = { email: 'alice@example.com', password: 'correct horse battery', github: 'alice-gh' }
export const MEMBER = { email: 'bob@example.com', password: 'bob password 123', github: null }

export interface DashboardFixture {
  server: RunningServer
  url: string
  /** The server's data directory (the CLI can work on it while the server runs). */
  dataDir: string
  store: Store
  project: Project
  admin: User
  member: User
  /** API keys of the project: `request` (named ci) and `decide` (named deployer). */
  keys: { request: string; decide: string }
  /**
   * A project of its own for one test: an admin and a member who belong to it alone (fresh
   * emails, so signing in lands there), request and decide keys. `cleanup()` cancels whatever
   * it left pending, so no later test sees it and no expiry timer outlives the test.
   */
  newProject(label: string): Promise<TestProject>
  close(): Promise<void>
}

/** A valid policy document: `deploy-prod*` actions need two approvals from the sre group (the admin and the member). */
export const TWO_SRE_POLICY = `groups:
  sre: [alice@example.com, bob@example.com]
rules:
  - name: production
    match: { action: "deploy-prod*" }
    approvers: { required: 2, groups: [sre] }
`

/** A person who can sign in to the dashboard. */
export interface Person {
  email: string
  password: string
  user: User
}

export interface TestProject {
  project: Project
  admin: Person
  member: Person
  /** API keys of the project: `request` (named ci) and `decide` (named deployer). */
  keys: { request: string; decide: string }
  /** Cancels every approval of the project still pending. */
  cleanup(): Promise<void>
}

async function createKey(store: Store, projectId: string, scopes: KeyScope[], name: string): Promise<string> {
  const { key, hash, prefix } = newApiKey()
  await store.createApiKey({ project_id: projectId, name, scopes, key_hash: hash, prefix })
  return key
}

/** `dashboard.resolvedCardLingerMs`: how long decided cards stay on the live home page (default the dashboard's 6 s). */
export async function startDashboard(options: Pick<StartServerOptions, 'dashboard' | 'trustProxy' | 'github' | 'logger' | 'sso' | 'passwordLogin' | 'clock' | 'notifications'> = {}): Promise<DashboardFixture> {
  const dataDir = await mkdtemp(join(tmpdir(), 'approval-gate-dashboard-'))
  const server = await startServer({ dataDir, port: 0, ...options })
  const store = server.store
  const project = await store.createProject('main')
  const admin = await store.createUser({ email: ADMIN.email, password_hash: await hashPassword(ADMIN.password) })
  const member = await store.createUser({ email: MEMBER.email, password_hash: await hashPassword(MEMBER.password) })
  await store.setMembership(project.id, admin.id, 'admin', { github_login: ADMIN.github })
  await store.setMembership(project.id, member.id, 'member')
  const keys = { request: await createKey(store, project.id, ['request'], 'ci'), decide: await createKey(store, project.id, ['decide'], 'deployer') }
  return {
    server,
    url: server.url,
    dataDir,
    store,
    project,
    admin,
    member,
    keys,
    newProject: (label) => newTestProject(server.url, store, label),
    async close() {
      await server.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

let projects = 0

async function newTestProject(url: string, store: Store, label: string): Promise<TestProject> {
  const n = ++projects
  const slug = `${label.toLowerCase().replace(/[^a-z0-9]+/g, '-').replace(/^-|-$/g, '').slice(0, 30) || 'test'}-${n}`
  const project = await store.createProject(slug)
  const person = async (who: string, role: 'admin' | 'member'): Promise<Person> => {
    const email = `${who}.${slug}@example.com`
    const password = `${who} password ${n} for ${slug}`
    const user = await store.createUser({ email, password_hash: await hashPassword(password) })
    await store.setMembership(project.id, user.id, role)
    return { email, password, user }
  }
  const [admin, member] = await Promise.all([person('admin', 'admin'), person('member', 'member')])
  const keys = { request: await createKey(store, project.id, ['request'], 'ci'), decide: await createKey(store, project.id, ['decide'], 'deployer') }
  return {
    project,
    admin,
    member,
    keys,
    async cleanup() {
      const pending = await store.listApprovals(project.id, { status: 'pending', limit: 200 })
      for (const approval of pending.items) {
        const response = await fetch(`${url}/v1/approvals/${approval.id}/cancel`, {
          method: 'POST',
          headers: { authorization: `Bearer ${keys.request}`, 'content-type': 'application/json' },
          body: JSON.stringify({ reason: 'test cleanup' }),
        })
        await response.text()
        if (response.status !== 200 && response.status !== 409) throw new Error(`cleanup: cancelling ${approval.id} answered ${response.status}`)
      }
    },
  }
}

/** POST /v1/approvals with a bearer key; returns the wire record. */
export async function createViaApi(url: string, key: string, body: { action: string; context?: Record<string, unknown>; agent?: string; timeout_ms?: number }): Promise<{ id: string; status: string; url: string }> {
  const response = await fetch(`${url}/v1/approvals`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify(body),
  })
  if (response.status !== 201) throw new Error(`create failed: ${response.status} ${await response.text()}`)
  return (await response.json()) as { id: string; status: string; url: string }
}

/** POST /v1/approvals/{id}/decision with a decide key. */
export async function decideViaApi(url: string, key: string, id: string, decision: 'approve' | 'reject', reason?: string): Promise<number> {
  const response = await fetch(`${url}/v1/approvals/${id}/decision`, {
    method: 'POST',
    headers: { authorization: `Bearer ${key}`, 'content-type': 'application/json' },
    body: JSON.stringify({ decision, reason }),
  })
  await response.text()
  return response.status
}

/** A tiny cookie-keeping HTTP client for non-browser tests of the dashboard. */
export class FormClient {
  private cookies = new Map<string, string>()
  constructor(readonly base: string) {}

  cookieHeader(): string {
    return [...this.cookies].map(([k, v]) => `${k}=${v}`).join('; ')
  }

  async request(method: string, path: string, options: { form?: Record<string, string>; headers?: Record<string, string> } = {}): Promise<{ status: number; headers: Headers; text: string }> {
    const headers: Record<string, string> = { ...options.headers }
    if (this.cookies.size) headers.cookie = this.cookieHeader()
    let body: string | undefined
    if (options.form) {
      body = new URLSearchParams(options.form).toString()
      headers['content-type'] ??= 'application/x-www-form-urlencoded'
    }
    const response = await fetch(`${this.base}${path}`, { method, headers, body, redirect: 'manual' })
    for (const line of response.headers.getSetCookie()) {
      const [pair] = line.split(';')
      const eq = pair.indexOf('=')
      const name = pair.slice(0, eq)
      const value = pair.slice(eq + 1)
      if (value === '' || /max-age=0/i.test(line)) this.cookies.delete(name)
      else this.cookies.set(name, value)
    }
    return { status: response.status, headers: response.headers, text: await response.text() }
  }

  async login(email: string, password: string): Promise<number> {
    return (await this.postLogin({ email, password })).status
  }

  /** Opens the sign-in form (which sets the sign-in CSRF cookie) and posts it with its token and `fields`. */
  async postLogin(fields: Record<string, string>): Promise<{ status: number; headers: Headers; text: string }> {
    const _csrf = await this.loginCsrf()
    return this.request('POST', '/login', { form: { _csrf, ...fields } })
  }

  /** The sign-in form's CSRF token (GET /login also sets its cookie). */
  async loginCsrf(): Promise<string> {
    const page = await this.request('GET', '/login')
    const match = /name="_csrf" value="([^"]+)"/.exec(page.text)
    if (!match) throw new Error(`no CSRF token on the sign-in form (status ${page.status})`)
    return match[1]
  }

  /** The CSRF token from any signed-in page. */
  async csrf(path = '/'): Promise<string> {
    const page = await this.request('GET', path)
    const match = /name="_csrf" value="([^"]+)"/.exec(page.text)
    if (!match) throw new Error(`no CSRF token on ${path} (status ${page.status})`)
    return match[1]
  }
}

/**
 * Starts dashboards for one test file and closes each after the test that started it. Call
 * once at the file's top level; the returned function starts one.
 */
export function dashboardsClosedAfterEach(): (options?: Pick<StartServerOptions, 'dashboard' | 'trustProxy' | 'github' | 'logger' | 'sso' | 'passwordLogin' | 'clock' | 'notifications'>) => Promise<DashboardFixture> {
  const started: DashboardFixture[] = []
  afterEach(async () => {
    for (const fx of started.splice(0)) await fx.close()
  })
  return async (options = {}) => {
    const fx = await startDashboard(options)
    started.push(fx)
    return fx
  }
}

/** A form client signed in as `who` (the sign-in answers 303). */
export async function signedInClient(fx: DashboardFixture, who: { email: string; password: string }): Promise<FormClient> {
  const client = new FormClient(fx.url)
  expect(await client.login(who.email, who.password)).toBe(303)
  return client
}
