/**
 * `parsePolicy`: a policy document's text → a validated `Policy` with its format and hash,
 * or every error it has, each naming the line and field.
 */
import { createHash } from 'node:crypto'
import { detectFormat, readDocument, type PolicyFormat } from './document.js'
import { validatePolicy } from './validate.js'
import type { Policy, PolicyError } from './types.js'

export type ParsedPolicy = { ok: true; policy: Policy; format: PolicyFormat; hash: string } | { ok: false; errors: PolicyError[] }

/** Parses and validates a document; without `format`, a document starting with `{` is JSON, else YAML. */
export function parsePolicy(source: string, format?: PolicyFormat): ParsedPolicy {
  const chosen = format ?? detectFormat(source)
  const read = readDocument(source, chosen)
  if (!read.ok) return read
  const validated = validatePolicy(read.document)
  if (!validated.ok) return validated
  return { ok: true, policy: validated.policy, format: chosen, hash: policyHash(source) }
}

/** sha256 of the document exactly as submitted, hex: what audit events and versions carry. */
export function policyHash(source: string): string {
  return createHash('sha256').update(source, 'utf8').digest('hex')
}

/** Errors as lines people read: `line 7: rules[0].approvers.required: must be …`. */
export function formatPolicyErrors(errors: readonly PolicyError[]): string[] {
  return errors.map((error) => `${error.line === null ? '' : `line ${error.line}: `}${error.path}: ${error.message}`)
}
