/**
 * The GitHub App part of the store contract (mappings, gates, the callback lease), registered
 * by `describeStoreContract` inside its suite so both backends run it on a fresh store.
 */
import { describe, expect, it } from '@jest/globals'
import { StoreError } from '../../src/server/store/errors.js'
import type { Project, Store } from '../../src/server/store/types.js'

const HOUR = 3_600_000

async function storeErrorCode(promise: Promise<unknown>): Promise<string | null> {
  const error = await promise.then(
    () => null,
    (e: unknown) => e,
  )
  return error instanceof StoreError ? error.code : null
}

export function describeGithubStoreContract(store: () => Store): void {
  describe('GitHub App mappings and gates', () => {
    async function approvalIn(project: Project, key: string | null = null) {
      const { approval } = await store().createApproval({
        project_id: project.id,
        action: 'deploy:production',
        context: {},
        agent: null,
        expires_at: new Date(Date.now() + HOUR).toISOString(),
        idempotency_key: key,
        requested_by: 'github-app',
      })
      return approval
    }

    function gateOf(project: Project, approvalId: string, delivery: string) {
      return { approval_id: approvalId, project_id: project.id, delivery_id: delivery, installation_id: '77', repository: 'Acme/Web', environment: 'production', run_id: '4242' }
    }

    it('creates, lists, finds case-insensitively by repository and removes mappings', async () => {
      const project = await store().createProject('p')
      const other = await store().createProject('q')
      const any = await store().createGithubMapping({ project_id: project.id, repository: 'Acme/Web' })
      expect(any).toMatchObject({ repository: 'Acme/Web', environment: null, installation_id: null })
      expect(any.id).toMatch(/^ghm_/)
      const production = await store().createGithubMapping({ project_id: other.id, repository: 'acme/web', environment: 'production', installation_id: '77' })
      expect(await store().listGithubMappings(project.id)).toEqual([any])
      expect((await store().listGithubMappingsForRepository('ACME/WEB')).map((m) => m.id).sort()).toEqual([any.id, production.id].sort())
      expect(await store().listGithubMappingsForRepository('acme/api')).toEqual([])

      expect(await store().removeGithubMapping(other.id, any.id)).toBeNull()
      expect(await store().removeGithubMapping(project.id, any.id)).toEqual(any)
      expect(await store().removeGithubMapping(project.id, any.id)).toBeNull()
      expect(await store().listGithubMappings(project.id)).toEqual([])
    })

    it('refuses a second mapping of the same repository, environment and installation, bad fields and unknown projects', async () => {
      const project = await store().createProject('p')
      const other = await store().createProject('q')
      await store().createGithubMapping({ project_id: project.id, repository: 'acme/web', environment: 'Production' })
      expect(await storeErrorCode(store().createGithubMapping({ project_id: other.id, repository: 'ACME/web', environment: 'production' }))).toBe('conflict')
      // Another environment or an installation makes a different mapping.
      await store().createGithubMapping({ project_id: other.id, repository: 'acme/web', environment: 'staging' })
      await store().createGithubMapping({ project_id: other.id, repository: 'acme/web', environment: 'production', installation_id: '9' })
      expect(await storeErrorCode(store().createGithubMapping({ project_id: project.id, repository: 'acme web' }))).toBe('invalid')
      expect(await storeErrorCode(store().createGithubMapping({ project_id: project.id, repository: 'acme/web/x' }))).toBe('invalid')
      expect(await storeErrorCode(store().createGithubMapping({ project_id: project.id, repository: 'acme/api', environment: 'prod\u202e' }))).toBe('invalid')
      expect(await storeErrorCode(store().createGithubMapping({ project_id: project.id, repository: 'acme/api', installation_id: '12a' }))).toBe('invalid')
      expect(await storeErrorCode(store().createGithubMapping({ project_id: 'prj_missing', repository: 'acme/api' }))).toBe('not_found')
    })

    it('records one gate per approval and per delivery, found by its delivery id', async () => {
      const project = await store().createProject('p')
      const approval = await approvalIn(project)
      expect(await store().createGithubGate(gateOf(project, approval.id, 'd-1'))).toBe(true)
      expect(await store().createGithubGate(gateOf(project, approval.id, 'd-2'))).toBe(false)
      const second = await approvalIn(project)
      expect(await store().createGithubGate(gateOf(project, second.id, 'd-1'))).toBe(false)
      const gate = await store().getGithubGateByDelivery('d-1')
      expect(gate).toMatchObject({ approval_id: approval.id, project_id: project.id, repository: 'Acme/Web', run_id: '4242', callback: 'pending', attempts: 0, last_error: null, completed_at: null })
      expect(await store().getGithubGateByDelivery('d-2')).toBeNull()
      expect((await store().listGithubGatesAwaitingDecision(10)).map((g) => g.approval_id)).toEqual([approval.id])
    })

    it('lists a project’s gates newest first, or one approval’s, never another project’s', async () => {
      const project = await store().createProject('p')
      const other = await store().createProject('q')
      const first = await approvalIn(project)
      const second = await approvalIn(project)
      const theirs = await approvalIn(other)
      await store().createGithubGate({ ...gateOf(project, first.id, 'd-first'), at: '2026-01-01T00:00:00.000Z' })
      await store().createGithubGate({ ...gateOf(project, second.id, 'd-second'), environment: 'staging', at: '2026-01-02T00:00:00.000Z' })
      await store().createGithubGate(gateOf(other, theirs.id, 'd-theirs'))
      await store().recordGithubCallbackAttempt(first.id, { callback: 'failed', at: '2026-01-01T00:01:00.000Z', error: 'HTTP 422: not waiting' })

      expect((await store().listGithubGates(project.id)).map((g) => [g.approval_id, g.environment])).toEqual([
        [second.id, 'staging'],
        [first.id, 'production'],
      ])
      expect((await store().listGithubGates(project.id, { limit: 1 })).map((g) => g.approval_id)).toEqual([second.id])
      const [one, ...rest] = await store().listGithubGates(project.id, { approvalId: first.id })
      expect(rest).toEqual([])
      expect(one).toEqual({ ...(await store().getGithubGateByDelivery('d-first')), callback: 'failed', attempts: 1, last_error: 'HTTP 422: not waiting', completed_at: '2026-01-01T00:01:00.000Z' })
      // Another project's approval id finds nothing, whatever the id.
      expect(await store().listGithubGates(project.id, { approvalId: theirs.id })).toEqual([])
      expect(await store().listGithubGates(other.id, { approvalId: first.id })).toEqual([])
      expect((await store().listGithubGates(other.id)).map((g) => g.approval_id)).toEqual([theirs.id])
    })

    it('leases only settled, due gates with an open callback, once, and records attempts', async () => {
      const project = await store().createProject('p')
      const waiting = await approvalIn(project)
      const decided = await approvalIn(project)
      await store().createGithubGate(gateOf(project, waiting.id, 'd-wait'))
      await store().createGithubGate(gateOf(project, decided.id, 'd-done'))
      await store().decideApproval(project.id, decided.id, { decision: 'approve', reason: null, decided_by: 'ana@example.com' })
      const now = new Date(Date.now() + 1000).toISOString()
      const lease = new Date(Date.now() + 60_000).toISOString()

      const claimed = await store().claimGithubCallbacks(now, lease, 10)
      expect(claimed.map((g) => g.approval_id)).toEqual([decided.id])
      expect(claimed[0].next_attempt_at).toBe(lease)
      // Leased: a second sweep (another replica) gets nothing until the lease ends.
      expect(await store().claimGithubCallbacks(now, lease, 10)).toEqual([])
      expect((await store().listGithubGatesAwaitingDecision(10)).map((g) => g.approval_id)).toEqual([waiting.id])

      const retryAt = new Date(Date.now() + 2000).toISOString()
      await store().recordGithubCallbackAttempt(decided.id, { callback: 'pending', at: now, next_attempt_at: retryAt, error: 'HTTP 502' })
      expect(await store().claimGithubCallbacks(now, lease, 10)).toEqual([])
      const later = new Date(Date.now() + 3000).toISOString()
      const again = await store().claimGithubCallbacks(later, lease, 10)
      expect(again).toHaveLength(1)
      expect(again[0]).toMatchObject({ attempts: 1, last_error: 'HTTP 502', callback: 'pending' })

      await store().recordGithubCallbackAttempt(decided.id, { callback: 'done', at: later, error: null })
      expect(await store().claimGithubCallbacks(new Date(Date.now() + HOUR).toISOString(), lease, 10)).toEqual([])
      expect(await store().getGithubGateByDelivery('d-done')).toMatchObject({ callback: 'done', attempts: 2, last_error: null, completed_at: later })
    })
  })
}
