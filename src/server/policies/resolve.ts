/**
 * Which rule applies to a request, and what it asks once group names become people: the
 * first rule whose `match` fits wins; otherwise the document's default; with no document,
 * the seed's rule (any one member).
 */
import type { ApprovalRequester } from '../../contract/index.js'
import { anyGlobMatches } from './glob.js'
import { anyOneMember } from './validate.js'
import type { AppliedPolicy, Policy, PolicyMatch, RuleBody } from './types.js'

/** What the engine looks at in a request. */
export interface PolicyRequest {
  action: string
  context: Record<string, unknown>
  /** Verified claims of the workflow that asked; `null` for requests made with an API key. */
  requester_claims: Partial<ApprovalRequester> | null
}

/** The rule that applies to `request` and what it asks, as stored with the approval. */
export function resolvePolicy(
  policy: Policy | null,
  version: number | null,
  request: PolicyRequest,
  defaults: { block_self_approval: boolean },
): AppliedPolicy {
  const { name, body } = ruleFor(policy, request)
  return {
    version: policy ? version : null,
    rule: name,
    requirements: body.requirements.map((requirement) => ({
      name: requirement.name,
      members: requirement.members === null ? null : [...new Set([...requirement.members, ...requirement.groups.flatMap((group) => policy?.groups[group] ?? [])])],
      required: requirement.required,
    })),
    block_self_approval: body.block_self_approval ?? defaults.block_self_approval,
    require_reason: body.require_reason,
    reject: body.reject,
    windows: body.windows,
  }
}

/** The longest a request may wait under the rule that applies (`max_timeout`), or null for no limit. */
export function maxTimeoutMs(policy: Policy | null, request: PolicyRequest): number | null {
  return ruleFor(policy, request).body.max_timeout_ms
}

/** The first rule that fits, else the default. */
export function ruleFor(policy: Policy | null, request: PolicyRequest): { name: string; body: RuleBody } {
  if (!policy) return { name: 'default', body: anyOneMember() }
  const rule = policy.rules.find((candidate) => matches(candidate.match, request))
  return rule ? { name: rule.name, body: rule } : { name: 'default', body: policy.default }
}

function matches(match: PolicyMatch, request: PolicyRequest): boolean {
  if (!anyGlobMatches(match.actions, request.action)) return false
  for (const [claim, globs] of Object.entries(match.requester)) {
    // Only verified claims: a request made with an API key never matches a rule about its requester.
    const value = request.requester_claims?.[claim as keyof ApprovalRequester]
    if (typeof value !== 'string' || !anyGlobMatches(globs, value)) return false
  }
  for (const [key, allowed] of Object.entries(match.context)) {
    const value = Object.hasOwn(request.context, key) ? request.context[key] : undefined
    const comparable = typeof value === 'string' || typeof value === 'number' || typeof value === 'boolean'
    if (!comparable || !allowed.includes(String(value))) return false
  }
  return true
}
