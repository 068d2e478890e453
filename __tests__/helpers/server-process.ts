/**
 * The real approvals server as users run it: `approval-gate serve` (the built CLI) as a child
 * process on a temp data dir, provisioned with the CLI (project, API keys, a dashboard
 * member). It can be killed (`kill -9` too) and restarted on the same data dir and port, for
 * end-to-end and fault tests. `npm test` builds lib/ first (pretest).
 */
import { expect } from '@jest/globals'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli, startCli, stop, type CliProcess } from '../cli/helpers.js'
import { waitUntil } from './wait-until.js'

/** The dashboard member every provisioned server has. */
export const APPROVER = { email: 'approver@example.com', password: 'e2e approver password' }

/** An audit event as `GET /v1/audit` returns it. */
export interface WireAuditEvent {
  seq: number
  type: 'created' | 'approved' | 'rejected' | 'timed_out' | 'cancelled'
  approval_id: string
  action: string
  actor: string
  reason: string | null
  at: string
}

export interface ServerProcess {
  dataDir: string
  /** e.g. `http://127.0.0.1:41234`; the same across restarts. */
  url: string
  port: number
  /** API keys of the project: `request` (CI), `decide` (a deployer), `admin`. */
  keys: { request: string; decide: string; admin: string }
  /** The running `serve` child, or null while stopped. */
  child: CliProcess | null
  /** Starts `serve` again on the same data dir and port. */
  restart(): Promise<void>
  /** Ends the child with `signal` (SIGKILL: no graceful shutdown) and waits for it to exit. */
  kill(signal?: NodeJS.Signals): Promise<void>
  /** `GET /v1/audit` events of one approval, oldest first. */
  auditOf(approvalId: string): Promise<WireAuditEvent[]>
  /** `POST /v1/approvals/{id}/decision` with the decide key; resolves with the HTTP status. */
  decide(approvalId: string, decision: 'approve' | 'reject', reason?: string): Promise<number>
  /** Stops the server (gracefully) and removes the data dir. */
  close(): Promise<void>
}

/** Runs one admin CLI command against `dataDir`; throws with its output when it fails. */
async function admin(args: string[], input?: string): Promise<string> {
  const result = await runCli(args, { input })
  if (result.code !== 0) throw new Error(`approval-gate ${args.join(' ')} exited ${result.code}: ${result.stderr}`)
  return result.stdout
}

async function startServe(dataDir: string, port: number): Promise<{ child: CliProcess; url: string }> {
  const child = startCli(['serve', '--port', String(port), '--data', dataDir, '--quiet'])
  const match = await child.waitFor(/listening on (http:\/\/127\.0\.0\.1:\d+)/, 20_000)
  return { child, url: match[1] }
}

/**
 * Provisions a data dir with the CLI (`project create`, `keys create`, `user add`) and starts
 * `serve` on a free port.
 */
export async function startServerProcess(): Promise<ServerProcess> {
  const dataDir = await mkdtemp(join(tmpdir(), 'approval-gate-e2e-'))
  try {
    return await provisionAndServe(dataDir)
  } catch (error) {
    await rm(dataDir, { recursive: true, force: true })
    throw error
  }
}

async function provisionAndServe(dataDir: string): Promise<ServerProcess> {
  const project = JSON.parse(await admin(['project', 'create', 'e2e', '--data', dataDir, '--json'])) as { api_key: string }
  const keyWith = async (scope: string) =>
    (JSON.parse(await admin(['keys', 'create', '--project', 'e2e', '--scope', scope, '--name', `${scope}-key`, '--data', dataDir, '--json'])) as { api_key: string }).api_key
  const keys = { request: project.api_key, decide: await keyWith('decide'), admin: await keyWith('admin') }
  await admin(['user', 'add', APPROVER.email, '--project', 'e2e', '--password-stdin', '--data', dataDir], APPROVER.password)

  const first = await startServe(dataDir, 0)
  const port = Number(new URL(first.url).port)
  const headers = (key: string) => ({ authorization: `Bearer ${key}`, 'content-type': 'application/json' })

  const server: ServerProcess = {
    dataDir,
    url: first.url,
    port,
    keys,
    child: first.child,
    async restart() {
      if (server.child) throw new Error('restart() while the server still runs: kill() it first')
      server.child = (await startServe(dataDir, port)).child
    },
    async kill(signal = 'SIGTERM') {
      const child = server.child
      if (!child) return
      server.child = null
      if (signal === 'SIGTERM') {
        await stop(child)
        return
      }
      child.child.kill(signal)
      await child.done
    },
    async auditOf(approvalId) {
      const events: WireAuditEvent[] = []
      let cursor: string | null = null
      do {
        const query: string = cursor ? `?limit=200&cursor=${encodeURIComponent(cursor)}` : '?limit=200'
        const response = await fetch(`${server.url}/v1/audit${query}`, { headers: headers(keys.admin) })
        if (!response.ok) throw new Error(`GET /v1/audit: ${response.status} ${await response.text()}`)
        const page = (await response.json()) as { items: WireAuditEvent[]; next_cursor: string | null }
        events.push(...page.items.filter((event) => event.approval_id === approvalId))
        cursor = page.next_cursor
      } while (cursor)
      return events.sort((a, b) => a.seq - b.seq)
    },
    async decide(approvalId, decision, reason) {
      const response = await fetch(`${server.url}/v1/approvals/${encodeURIComponent(approvalId)}/decision`, {
        method: 'POST',
        headers: headers(keys.decide),
        body: JSON.stringify({ decision, reason }),
      })
      await response.text()
      return response.status
    },
    async close() {
      await server.kill('SIGTERM')
      await rm(dataDir, { recursive: true, force: true })
    },
  }
  return server
}

/** Polls `check` every 50 ms until it returns a value other than undefined; rejects after `timeoutMs` (see `waitUntil`). */
export async function eventually<T>(check: () => Promise<T | undefined> | T | undefined, what: string, timeoutMs = 10_000): Promise<T> {
  return waitUntil(check, { what, timeoutMs, intervalMs: 50 }) as Promise<T>
}

/**
 * Asserts that an audit event records a wait that ran out of time. The client's deadline and
 * the server's expiry (`timeout_ms`, counted from the create's arrival) fall within
 * milliseconds of each other; whichever lands first, the trail says `timed_out` (the core
 * withdraws with `timed_out: true`), by `system` either way.
 */
export function expectTimedOut(event: WireAuditEvent): void {
  // The same actor whichever side noticed first.
  expect(event).toMatchObject({ type: 'timed_out', actor: 'system' })
}
