/**
 * The audit page's hash-chain status without re-reading the whole trail on every load: the
 * last verification of each project is reused while the chain head (newest event) is the same
 * and the result is younger than `maxAgeMs`. A new event re-verifies at once; an edit that
 * leaves the head alone (rewriting an old row behind the store's back) shows within `maxAgeMs`.
 */
import type { AuditVerification, Store } from '../store/types.js'

/** How long a verification is reused while the chain head is unchanged. */
export const AUDIT_VERIFICATION_MAX_AGE_MS = 60_000

export interface AuditVerificationCacheOptions {
  /** Default `AUDIT_VERIFICATION_MAX_AGE_MS`; 0 verifies on every load. */
  maxAgeMs?: number
  /** Clock in epoch ms (tests move it instead of waiting). Default `Date.now`. */
  now?: () => number
}

/** A verification result and when it was made (epoch ms). */
export interface TimedVerification {
  result: AuditVerification
  verifiedAt: number
}

interface Entry {
  /** `seq:hash` of the newest event when the verification started. */
  head: string
  verifiedAt: number
  /** Shared, so loads arriving during a verification wait for it instead of starting another. */
  result: Promise<AuditVerification>
}

export class AuditVerificationCache {
  private readonly entries = new Map<string, Entry>()
  private readonly maxAgeMs: number
  /** The clock verifications are timed with; pages measure their age against it too. */
  readonly now: () => number

  constructor(
    private readonly store: Store,
    options: AuditVerificationCacheOptions = {},
  ) {
    this.maxAgeMs = Math.max(0, options.maxAgeMs ?? AUDIT_VERIFICATION_MAX_AGE_MS)
    this.now = options.now ?? Date.now
  }

  /** The project's chain status: the cached one while still valid, else a fresh `verifyAudit`. */
  async verification(projectId: string): Promise<TimedVerification> {
    const newest = (await this.store.listAudit(projectId, { limit: 1 })).items[0]
    const head = newest ? `${newest.seq}:${newest.hash}` : 'empty'
    const now = this.now()
    let entry = this.entries.get(projectId)
    if (!entry || entry.head !== head || now - entry.verifiedAt >= this.maxAgeMs) {
      const fresh: Entry = { head, verifiedAt: now, result: this.store.verifyAudit(projectId) }
      // A failed verification (store error) is not remembered; the next load tries again.
      fresh.result.catch(() => {
        if (this.entries.get(projectId) === fresh) this.entries.delete(projectId)
      })
      this.entries.set(projectId, fresh)
      entry = fresh
    }
    return { result: await entry.result, verifiedAt: entry.verifiedAt }
  }
}
