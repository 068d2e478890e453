/**
 * approval-gate's polling core (JamJet-compatible): `requireApproval`, `requestApproval`,
 * the `ApprovalsClient` every part of the project uses to speak HTTP to an approvals API,
 * and the errors (also under their JamJet names).
 */
// First: a too-old Node.js fails here with one clear message, before undici loads.
import './node-check.js'
export { requestApproval, requireApproval, LONG_POLL_SECONDS } from './require-approval.js'
export { ApprovalsClient, sharedDispatcher, DEFAULT_REQUEST_TIMEOUT_MS, MAX_WAIT_SECONDS } from './client.js'
export type { ApprovalsClientOptions, ClientRequestOptions, CreateApprovalRequest, Decision, GetApprovalOptions, ListApprovalsFilter } from './client.js'
export type { ApprovalPage } from './record-parsing.js'
export {
  DEFAULT_API_URL,
  DEFAULT_CONNECT_TIMEOUT_MS,
  DEFAULT_POLL_INTERVAL_MS,
  DEFAULT_TIMEOUT_MS,
  MAX_ACTION_LENGTH,
  MAX_CONTEXT_BYTES,
  normaliseApiUrl,
  resolveApprovalOptions,
  resolveConnection,
} from './config.js'
export type { ApiConnection, ResolvedApprovalOptions, SettingNames } from './config.js'
export { withdrawRequest, WITHDRAW_BOUND_MS } from './withdraw.js'
export { currentAgent, withAgent } from './agent-scope.js'
export { ApprovalError, ApprovalGateError, ApprovalRejected, ApprovalTimeout, JamjetApprovalRejected, JamjetApprovalTimeout } from './errors.js'
export type { ApprovalErrorCode, ApprovalErrorDetails, ClientErrorCode } from './errors.js'
export type { ApprovalProgress, ApprovalRecord, ApprovalStatus, RequireApprovalOptions, WithdrawalResult } from './types.js'
