/** A fixed audit key for tests that run on PostgreSQL (where a key is required). */
import { parseAuditKey, type AuditKey } from '../../src/server/store/audit-key.js'

/** The key's text form, as `APPROVAL_GATE_AUDIT_KEY` takes it. */
export const TEST_AUDIT_KEY = 'a1'.repeat(32)

export function testAuditKey(): AuditKey {
  return parseAuditKey(TEST_AUDIT_KEY, 'the test key')
}
