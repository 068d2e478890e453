/** Public types of the polling core. */

import type { ApprovalRecord } from '../contract/index.js'

export type { ApprovalRecord, ApprovalStatus } from '../contract/index.js'

/** What the progress callback hears about, so callers (the action, the CLI) can log without spamming. */
export type ApprovalProgress =
  | { type: 'created'; approvalId: string; url?: string; record: ApprovalRecord }
  | { type: 'waiting'; approvalId: string; waitedMs: number; remainingMs: number }
  | { type: 'retrying'; approvalId?: string; attempt: number; delayMs: number; error: string }
  | { type: 'decided'; approvalId: string; record: ApprovalRecord }

/**
 * How a withdrawal ended: `withdrawn` (the server cancelled it), `not_pending` (it was already
 * decided, expired or cancelled: nothing left pending), `nothing_created` (no id ever came back),
 * `failed` (unreachable, timed out, or no cancel endpoint, as on JamJet Cloud).
 */
export type WithdrawalResult = 'withdrawn' | 'not_pending' | 'nothing_created' | 'failed'

export interface RequireApprovalOptions {
  /** Free-form metadata shown to the approver. Default `{}`. Must be a JSON object. */
  context?: Record<string, unknown>
  /** How long to wait for a decision. Default 3_600_000 (1 h). */
  timeoutMs?: number
  /** Cancels the wait: throws a `DOMException` `AbortError` at once and withdraws the request. */
  signal?: AbortSignal
  /** Spacing of status checks against a server that ignores `?wait=`. Default 5_000. */
  pollIntervalMs?: number
  /** API base URL. Default: `APPROVAL_GATE_API_URL`, then `JAMJET_API_URL`, then `https://api.jamjet.dev`. */
  apiUrl?: string
  /** Bearer API key (or a workflow's OIDC token). Default: `APPROVAL_GATE_API_KEY`, then `JAMJET_API_KEY`. */
  apiKey?: string
  /**
   * A fresh bearer before each request, for short-lived tokens (a workflow's OIDC token lives
   * minutes; a gate may wait hours). `apiKey` is the first token.
   */
  bearer?: () => Promise<string>
  /**
   * How long to keep trying to reach an API that never answered the create (refused, DNS,
   * unroutable, silent) before failing with `ApprovalError('unreachable')`. Default 30_000.
   * Once the API has answered, only `timeoutMs` counts.
   */
  connectTimeoutMs?: number
  /** How error hints name the URL and key settings (the CLI passes `--api-url`/`--api-key`). Default: these options' names. */
  settingNames?: Partial<SettingNames>
  /** Who is asking (shown on the card). */
  agent?: string
  /** Sent as `Idempotency-Key` on create; generated once per call when absent. */
  idempotencyKey?: string
  /** Called on status changes and on each wait tick. Exceptions it throws are ignored. */
  onProgress?: (event: ApprovalProgress) => void
  /**
   * Receives the promise of the withdrawal (`cancel`) started on abort or timeout, so a
   * caller about to exit (the action) can await it. It never rejects.
   */
  onWithdraw?: (withdrawal: Promise<WithdrawalResult>) => void
}

/**
 * How the caller names the API URL and key settings, so hints speak its vocabulary:
 * `--api-url` in the CLI, the `api-url` input in the action, `apiUrl` in the library.
 */
export interface SettingNames {
  apiUrl: string
  apiKey: string
}
