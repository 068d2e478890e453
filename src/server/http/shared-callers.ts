/**
 * Requests made with one API key share one `Caller` while the key's and its project's rows are
 * unchanged. The key is still looked up on every request (a revoked key fails at once); only the
 * result is shared, so thousands of long-polls held for one key keep one caller alive, not one
 * each (~0.5 KB per held request otherwise). Shared callers are frozen: nothing may edit them.
 */

/** Keys remembered at most; the oldest is forgotten first (its next request builds a new caller). */
const DEFAULT_MAX_KEYS = 1_000

/** What a caller must have to be shared: the key it came with (null: a workflow identity) and its project. */
interface ShareableCaller {
  key: { id: string } | null
  project: unknown
}

export class SharedCallers<Caller extends ShareableCaller> {
  private readonly byKey = new Map<string, { rows: string; caller: Caller }>()

  constructor(private readonly maxKeys = DEFAULT_MAX_KEYS) {}

  /** `fresh`, or the caller an earlier request built from identical rows of the same key. */
  share(fresh: Caller): Caller {
    // Workflow identities carry per-run claims: nothing to share.
    if (!fresh.key) return fresh
    const rows = JSON.stringify([fresh.key, fresh.project])
    const known = this.byKey.get(fresh.key.id)
    if (known?.rows === rows) return known.caller
    this.byKey.delete(fresh.key.id)
    if (this.byKey.size >= this.maxKeys) this.byKey.delete(this.byKey.keys().next().value as string)
    const caller = deepFreeze(fresh)
    this.byKey.set(fresh.key.id, { rows, caller })
    return caller
  }

  /** Number of keys remembered (tests). */
  get size(): number {
    return this.byKey.size
  }
}

function deepFreeze<T>(value: T): T {
  if (value && typeof value === 'object' && !Object.isFrozen(value)) {
    Object.freeze(value)
    for (const inner of Object.values(value)) deepFreeze(inner)
  }
  return value
}
