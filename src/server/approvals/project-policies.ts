/**
 * A project's current policy document, resolved for a new request: the rule that applies
 * (the snapshot stored with the approval) and its `max_timeout`. Parsed documents are kept by
 * hash, so a request does not re-parse the YAML a thousand requests already parsed.
 */
import { maxTimeoutMs, parsePolicy, resolvePolicy, type PolicyRequest } from '../policies/index.js'
import type { AppliedPolicy, Policy } from '../policies/types.js'
import type { Project, Store } from '../store/types.js'

/** Parsed documents kept (a few per project that changes its policy; old ones fall out first). */
const CACHED_DOCUMENTS = 100

export interface ResolvedPolicy {
  /** `null`: the project has no policy document (the seed's any-one-member rule, judged at vote time). */
  applied: AppliedPolicy | null
  /** The rule's `max_timeout`, or `null` for no cap. */
  maxTimeoutMs: number | null
}

export class ProjectPolicies {
  private readonly parsed = new Map<string, Policy>()

  constructor(private readonly store: Pick<Store, 'getPolicy'>) {}

  async resolve(project: Project, request: PolicyRequest): Promise<ResolvedPolicy> {
    const stored = await this.store.getPolicy(project.id)
    if (!stored) return { applied: null, maxTimeoutMs: null }
    const policy = this.policyOf(stored.hash, stored.source, stored.format)
    return {
      applied: resolvePolicy(policy, stored.version, request, { block_self_approval: project.settings.blockSelfApproval }),
      maxTimeoutMs: maxTimeoutMs(policy, request),
    }
  }

  private policyOf(hash: string, source: string, format: 'yaml' | 'json'): Policy {
    const cached = this.parsed.get(hash)
    if (cached) return cached
    const result = parsePolicy(source, format)
    // Stored documents were validated when set; one that no longer parses is a damaged database.
    if (!result.ok) throw new Error(`the stored policy document ${hash.slice(0, 12)}… no longer parses: ${result.errors.map((error) => error.message).join('; ')}`)
    if (this.parsed.size >= CACHED_DOCUMENTS) this.parsed.delete(this.parsed.keys().next().value as string)
    this.parsed.set(hash, result.policy)
    return result.policy
  }
}
