/** Shared set-up for the core's tests: options pointing at a scripted server, and small waits. */
import type { RequireApprovalOptions } from '../../src/client/index.js'
import type { RecordedRequest, ScriptedServer } from '../helpers/scripted-server.js'
import { waitUntil } from '../helpers/wait-until.js'

/** Options for `requireApproval` against `server`, fast enough for tests. */
export function gateOptions(server: ScriptedServer, extra: RequireApprovalOptions = {}): RequireApprovalOptions {
  return { apiUrl: server.url, apiKey: server.apiKey ?? undefined, timeoutMs: 10_000, pollIntervalMs: 20, ...extra }
}

/** Resolves with the first status check (`GET /v1/approvals/:id`) the server receives. */
export function firstStatusCheck(server: ScriptedServer): Promise<RecordedRequest> {
  return server.waitForRequest('get')
}

/** Waits until a long-poll is held open on the server (so a decision must wake it). */
export async function longPollHeld(server: ScriptedServer, timeoutMs = 5_000): Promise<void> {
  await waitUntil(() => server.activeWaits > 0, { what: 'a long-poll held open on the scripted server', timeoutMs, intervalMs: 5 })
}

/** The error a promise rejects with (fails the test if it resolves). */
export async function rejectionOf(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected the promise to reject, but it resolved')
}
