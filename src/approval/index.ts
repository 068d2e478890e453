/** approval-gate's polling core: `requireApproval` and its errors (JamJet-compatible). */
export { requireApproval } from './require-approval.js'
export { ApprovalError, ApprovalRejected, ApprovalTimeout, JamjetApprovalRejected, JamjetApprovalTimeout } from './errors.js'
export type { ApprovalErrorCode } from './errors.js'
export type { ApprovalProgress, ApprovalRecord, ApprovalStatus, RequireApprovalOptions } from './types.js'
