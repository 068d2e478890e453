/** Approval records as the store returns them, for tests that render or inspect one without a server. */
import type { Approval } from '../../src/server/store/types.js'

/** A pending approval of project prj_1, requested by key ci at 2030-01-01 12:00 UTC and expiring an hour later; `overrides` win. */
export function pendingApproval(overrides: Partial<Approval> = {}): Approval {
  return {
    id: 'apr_0123456789abcdefghijkl',
    project_id: 'prj_1',
    action: 'production_deploy',
    context: {},
    agent: null,
    status: 'pending',
    reason: null,
    decided_by: null,
    decided_at: null,
    created_at: '2030-01-01T12:00:00.000Z',
    expires_at: '2030-01-01T13:00:00.000Z',
    idempotency_key: null,
    requested_by: 'key:ci',
    requested_by_key_id: null,
    ...overrides,
  }
}
