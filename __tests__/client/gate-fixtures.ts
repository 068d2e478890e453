/** Shared set-up for the core's tests: options pointing at a scripted server, and small waits. */
import type { RequireApprovalOptions } from '../../src/client/index.js'
import type { RecordedRequest, ScriptedServer } from '../helpers/scripted-server.js'

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
  const until = Date.now() + timeoutMs
  while (server.activeWaits === 0) {
    if (Date.now() > until) throw new Error('no long-poll was held open in time')
    await new Promise((resolve) => setTimeout(resolve, 5))
  }
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
