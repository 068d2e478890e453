/** A plain `NewApproval` for store tests: pending for an hour, no context, agent or idempotency key. */
import type { NewApproval, Project } from '../../src/server/store/types.js'

/** The input for a new approval in `project`, with `overrides` applied. */
export function approvalFor(project: Pick<Project, 'id'>, overrides: Partial<NewApproval> = {}): NewApproval {
  return {
    project_id: project.id,
    action: 'deploy',
    context: {},
    agent: null,
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
    idempotency_key: null,
    requested_by: 'key:ci',
    ...overrides,
  }
}
