/** The decision route's answer when the project's self-approval rule refuses the decider. */
import { describe, expect, it } from '@jest/globals'
import { buildApp } from '../../src/server/app.js'
import type { ApprovalService } from '../../src/server/approvals/contracts.js'
import { hashToken } from '../../src/server/auth/secrets.js'
import { InMemoryNotifier } from '../../src/server/approvals/notifier.js'
import type { ApiKeyInfo, Approval, Project, Store } from '../../src/server/store/types.js'

const project: Project = { id: 'prj_1', name: 'p', settings: { blockSelfApproval: true, defaultTimeoutMs: 60_000 }, created_at: '2024-01-01T00:00:00.000Z' }
const key: ApiKeyInfo = { id: 'key_1', project_id: 'prj_1', name: 'octo', scopes: ['decide'], prefix: 'agk_x', created_at: project.created_at, last_used_at: null, revoked_at: null }
const approval: Approval = {
  id: 'apr_1',
  project_id: 'prj_1',
  action: 'deploy',
  context: { github: { actor: 'octocat' } },
  agent: null,
  status: 'pending',
  reason: null,
  decided_by: null,
  decided_at: null,
  created_at: project.created_at,
  expires_at: '2099-01-01T00:00:00.000Z',
  idempotency_key: null,
  requested_by: 'key:ci',
  requested_by_key_id: 'key_ci',
}

describe('decision route', () => {
  it("answers 403 self_approval with the untouched record when the service refuses", async () => {
    // Only the calls the route makes are implemented; the rule itself is tested in approval-service.test.ts.
    const store = {
      findApiKey: async (hash: string) => (hash === hashToken('agk_secret') ? key : null),
      getProject: async () => project,
      touchApiKey: async () => {},
    } as unknown as Store
    const approvals: ApprovalService = {
      create: async () => ({ approval, created: true }),
      decide: async () => ({ changed: false, refused: 'self_approval', rule: 'run_actor', login: 'octocat', approval }),
      cancel: async () => null,
      expireDue: async () => 0,
      nextExpiry: async () => null,
      pruneExpired: async () => 0,
      standing: () => ({ may: true }),
    }
    const app = await buildApp({ store, notifier: new InMemoryNotifier(), approvals, publicUrl: 'http://x' })
    try {
      const response = await app.inject({ method: 'POST', url: '/v1/approvals/apr_1/decision', headers: { authorization: 'Bearer agk_secret' }, payload: { decision: 'approve' } })
      expect(response.statusCode).toBe(403)
      const body = response.json()
      expect(body.error.code).toBe('self_approval')
      expect(body.approval).toMatchObject({ id: 'apr_1', status: 'pending', url: 'http://x/approvals/apr_1' })
      expect(body.approval.project_id).toBeUndefined()
    } finally {
      await app.close()
    }
  })
})
