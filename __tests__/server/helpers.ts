/** A real approvals server on a free loopback port with a temp data dir, and keys of each scope. */
import { expect } from '@jest/globals'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { newApiKey } from '../../src/server/auth/secrets.js'
import { startServer, type RunningServer } from '../../src/server/server.js'
import type { KeyScope, Project, ProjectSettings, Store } from '../../src/server/store/types.js'

export interface TestServer {
  server: RunningServer
  url: string
  store: Store
  dataDir: string
  project: Project
  keys: Record<KeyScope, string>
  /** Creates another project with its own keys. */
  addProject(name: string, settings?: Partial<ProjectSettings>): Promise<{ project: Project; keys: Record<KeyScope, string> }>
  close(): Promise<void>
}

/**
 * Starts a server with project `main` and one key per scope. Its links use the public URL
 * https://gate.example.test/ unless `linksToLoopback` (then they point at the server itself, as
 * a process that follows them needs).
 */
export async function startTestServer(settings: Partial<ProjectSettings> = {}, options: { linksToLoopback?: boolean } = {}): Promise<TestServer> {
  const dataDir = await mkdtemp(join(tmpdir(), 'approval-gate-server-'))
  const server = await startServer({ dataDir, port: 0, publicUrl: options.linksToLoopback ? undefined : 'https://gate.example.test/' })
  const store = server.store
  async function addProject(name: string, projectSettings: Partial<ProjectSettings> = {}) {
    const project = await store.createProject(name, projectSettings)
    const keys = {} as Record<KeyScope, string>
    for (const scope of ['request', 'decide', 'admin'] as const) keys[scope] = await createKey(store, project.id, [scope], `${scope}-key`)
    return { project, keys }
  }
  const main = await addProject('main', settings)
  return {
    server,
    url: server.url,
    store,
    dataDir,
    project: main.project,
    keys: main.keys,
    addProject,
    async close() {
      await server.close()
      await rm(dataDir, { recursive: true, force: true })
    },
  }
}

/** Creates an API key in the store and returns the secret. */
export async function createKey(store: Store, projectId: string, scopes: KeyScope[], name: string): Promise<string> {
  const { key, hash, prefix } = newApiKey()
  await store.createApiKey({ project_id: projectId, name, scopes, key_hash: hash, prefix })
  return key
}

export interface CallResult {
  status: number
  headers: Headers
  body: any // eslint-disable-line @typescript-eslint/no-explicit-any -- tests inspect arbitrary JSON
  text: string
}

/** One HTTP call with an optional bearer key; JSON bodies are serialised unless `raw` is given. */
export async function call(
  url: string,
  method: string,
  path: string,
  options: { key?: string; json?: unknown; raw?: string; headers?: Record<string, string>; signal?: AbortSignal } = {},
): Promise<CallResult> {
  const headers: Record<string, string> = { ...options.headers }
  if (options.key) headers.authorization = `Bearer ${options.key}`
  let body: string | undefined
  if (options.json !== undefined) {
    body = JSON.stringify(options.json)
    headers['content-type'] ??= 'application/json'
  } else if (options.raw !== undefined) {
    body = options.raw
    headers['content-type'] ??= 'application/json'
  }
  const response = await fetch(`${url}${path}`, { method, headers, body, signal: options.signal })
  const text = await response.text()
  let parsed: unknown = undefined
  try {
    parsed = text ? JSON.parse(text) : undefined
  } catch {
    parsed = undefined
  }
  return { status: response.status, headers: response.headers, body: parsed, text }
}

/** Asserts an API error: its status, its `{error:{code,message}}` shape, and optionally what the message names. */
export function expectError(result: { status: number; body: { error?: { code?: string; message?: string } } }, status: number, code: string, mentions?: string): void {
  expect({ status: result.status, code: result.body?.error?.code }).toEqual({ status, code })
  expect(typeof result.body.error?.message).toBe('string')
  if (mentions) expect(result.body.error?.message).toContain(mentions)
}
