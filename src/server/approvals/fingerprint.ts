/**
 * What an `Idempotency-Key` is bound to: the SHA-256 of the request's canonical JSON (object
 * keys sorted at every level, no whitespace), so the same request hashes the same however its
 * client ordered the keys, and any change of action, context, agent or timeout does not.
 */
import { createHash } from 'node:crypto'

/** The fields of a create request that make it "the same request". */
export interface FingerprintedRequest {
  action: string
  context: Record<string, unknown>
  agent: string | null
  timeout_ms: number | null
}

/** Hex SHA-256 of the canonical JSON of `request`. */
export function requestFingerprint(request: FingerprintedRequest): string {
  const canonical = canonicalJson({ action: request.action, agent: request.agent, context: request.context, timeout_ms: request.timeout_ms })
  return createHash('sha256').update(canonical, 'utf8').digest('hex')
}

/**
 * JSON with object keys in code-unit order at every level. Built as text, so a `__proto__`
 * key (an own key after JSON.parse) is kept like any other. Callers bound the depth first.
 */
export function canonicalJson(value: unknown): string {
  if (value === null || typeof value !== 'object') return JSON.stringify(value) ?? 'null'
  if (Array.isArray(value)) return `[${value.map(canonicalJson).join(',')}]`
  const record = value as Record<string, unknown>
  const fields = Object.keys(record)
    .filter((key) => record[key] !== undefined)
    .sort()
    .map((key) => `${JSON.stringify(key)}:${canonicalJson(record[key])}`)
  return `{${fields.join(',')}}`
}
