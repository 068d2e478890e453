/**
 * The policy engine: pure functions (no I/O) that parse a project's policy document, resolve
 * the rule that applies to a request, decide who may vote, count votes and judge windows.
 * The approval service applies them; the admin service stores the documents.
 */
export { parsePolicy, policyHash, formatPolicyErrors, type ParsedPolicy } from './parse.js'
export { resolvePolicy, maxTimeoutMs, type PolicyRequest } from './resolve.js'
export { eligibility, tally, type Voter, type CastVote, type Eligibility } from './tally.js'
export { windowState, describeWindowOpening } from './windows.js'
export { MATCHABLE_CLAIMS } from './validate.js'
export { describeAppliedPolicy, describeRequirement, describeWindow } from './describe.js'
export * from './limits.js'
export * from './types.js'
