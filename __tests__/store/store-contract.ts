/**
 * The behaviour every `Store` backend must have. Backends run it with their own way of
 * getting an empty store: `describeStoreContract('sqlite', openFreshStore, cleanup)`.
 * Not a test file itself (no `.test.ts`), so jest only runs it through a backend's suite.
 */
import { afterAll, afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { createHash } from 'node:crypto'
import { hashToken } from '../../src/server/auth/secrets.js'
import { claimsHash, GENESIS_HASH, hashAuditEvent } from '../../src/server/store/audit-chain.js'
import type { AuditEvent, KeyScope, NewApproval, Project, Store, VoteCounter } from '../../src/server/store/types.js'
import { describeAdminChangeStoreContract } from './admin-change-contract.js'
import { describeChannelStoreContract } from './channel-store-contract.js'
import { describeGithubStoreContract } from './github-store-contract.js'
import { expectStoreError } from './store-errors.js'

const ISO = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/
const HOUR = 3_600_000

function inOneHour(): string {
  return new Date(Date.now() + HOUR).toISOString()
}

function newApproval(project: Project, overrides: Partial<NewApproval> = {}): NewApproval {
  return {
    project_id: project.id,
    action: 'deploy production',
    context: { repo: 'acme/web', sha: 'abc123' },
    agent: 'ci-bot',
    expires_at: inOneHour(),
    idempotency_key: null,
    requested_by: 'key:ci',
    ...overrides,
  }
}

/** A counter for store tests (the policy engine is not the store's business): `required` approvals settle it, one reject rejects it. */
function countUpTo(required: number): VoteCounter {
  return (votes) => {
    const approvers = votes.filter((vote) => vote.decision === 'approve').map((vote) => vote.by)
    const groups = Object.fromEntries(votes.map((vote) => [vote.by, vote.decision === 'approve' ? ['approvers'] : []]))
    if (votes.some((vote) => vote.decision === 'reject')) return { outcome: 'rejected', groups }
    return { outcome: approvers.length >= required ? 'approved' : 'pending', groups }
  }
}

async function collect<T>(iterable: AsyncIterable<T>): Promise<T[]> {
  const items: T[] = []
  for await (const item of iterable) items.push(item)
  return items
}

/**
 * Registers the contract suite. `openFreshStore` must return an empty store each time;
 * every store it returns is closed after its test; `cleanup` runs once at the end.
 */
export function describeStoreContract(name: string, openFreshStore: () => Promise<Store>, cleanup: () => Promise<void> = async () => {}): void {
  describe(`Store contract: ${name}`, () => {
    let store: Store

    beforeEach(async () => {
      store = await openFreshStore()
    })
    afterEach(async () => {
      await store.close()
    })
    afterAll(async () => {
      await cleanup()
    })

    describe('projects', () => {
      it('creates a project with default settings and finds it by id and name', async () => {
        const project = await store.createProject('web')
        expect(project.id).toMatch(/^prj_[A-Za-z0-9_-]{20,}$/)
        expect(project.name).toBe('web')
        expect(project.settings).toEqual({ blockSelfApproval: false, defaultTimeoutMs: HOUR })
        expect(project.created_at).toMatch(ISO)
        expect(await store.getProject(project.id)).toEqual(project)
        expect(await store.getProjectByName('web')).toEqual(project)
        expect(await store.getProject('prj_nope')).toBeNull()
        expect(await store.getProjectByName('Web')).toBeNull()
      })

      it('keeps given settings, lists projects by name and refuses a duplicate name', async () => {
        const b = await store.createProject('b', { blockSelfApproval: true })
        const a = await store.createProject('a', { defaultTimeoutMs: 60_000 })
        expect(b.settings).toEqual({ blockSelfApproval: true, defaultTimeoutMs: HOUR })
        expect(a.settings).toEqual({ blockSelfApproval: false, defaultTimeoutMs: 60_000 })
        expect((await store.listProjects()).map((p) => p.name)).toEqual(['a', 'b'])
        await expectStoreError(store.createProject('a'), 'conflict')
      })

      it('updates settings by patch and rejects bad values and unknown projects', async () => {
        const project = await store.createProject('web')
        const updated = await store.updateProjectSettings(project.id, { blockSelfApproval: true })
        expect(updated.settings).toEqual({ blockSelfApproval: true, defaultTimeoutMs: HOUR })
        expect((await store.updateProjectSettings(project.id, { defaultTimeoutMs: 5000 })).settings).toEqual({ blockSelfApproval: true, defaultTimeoutMs: 5000 })
        expect((await store.getProject(project.id))?.settings).toEqual({ blockSelfApproval: true, defaultTimeoutMs: 5000 })
        await expectStoreError(store.updateProjectSettings(project.id, { defaultTimeoutMs: -1 }), 'invalid')
        await expectStoreError(store.updateProjectSettings('prj_nope', { blockSelfApproval: true }), 'not_found')
      })
    })

    describe('users and memberships', () => {
      it('creates users, finds them by id and by email case-insensitively', async () => {
        const user = await store.createUser({ email: 'Ada@Example.com', password_hash: 'scrypt$x' })
        expect(user).toEqual({ id: expect.stringMatching(/^usr_/), email: 'Ada@Example.com', created_at: expect.stringMatching(ISO) })
        expect(user).not.toHaveProperty('password_hash')
        expect(await store.getUser(user.id)).toEqual(user)
        expect(await store.getUserByEmail('ada@example.COM')).toEqual({ ...user, password_hash: 'scrypt$x' })
        expect(await store.getUserByEmail('bob@example.com')).toBeNull()
        expect(await store.getUser('usr_nope')).toBeNull()
      })

      it('refuses a second user whose email differs only in case', async () => {
        await store.createUser({ email: 'ada@example.com', password_hash: 'h' })
        await expectStoreError(store.createUser({ email: 'ADA@example.com', password_hash: 'h' }), 'conflict')
      })

      it('sets the password hash', async () => {
        const user = await store.createUser({ email: 'ada@example.com', password_hash: 'old' })
        expect(await store.setPasswordHash(user.id, 'new')).toEqual(user)
        expect((await store.getUserByEmail('ada@example.com'))?.password_hash).toBe('new')
        await expectStoreError(store.setPasswordHash('usr_nope', 'x'), 'not_found')
      })

      it('adds, changes, lists and removes memberships', async () => {
        const web = await store.createProject('web')
        const api = await store.createProject('api')
        const ada = await store.createUser({ email: 'ada@example.com', password_hash: 'h' })
        const bob = await store.createUser({ email: 'bob@example.com', password_hash: 'h' })
        await store.setMembership(web.id, ada.id, 'admin')
        await store.setMembership(web.id, bob.id, 'member', { github_login: 'bob' })
        await store.setMembership(api.id, bob.id, 'admin')
        expect(await store.getMembership(web.id, ada.id)).toBe('admin')
        expect(await store.getMembership(api.id, ada.id)).toBeNull()
        expect(await store.listMembers(web.id)).toEqual([
          { ...ada, role: 'admin', github_login: null, slack_user_id: null },
          { ...bob, role: 'member', github_login: 'bob', slack_user_id: null },
        ])
        expect(await store.listProjectsForUser(bob.id)).toEqual([
          { ...api, role: 'admin', github_login: null, slack_user_id: null },
          { ...web, role: 'member', github_login: 'bob', slack_user_id: null },
        ])

        await store.setMembership(web.id, bob.id, 'admin')
        expect(await store.getMembership(web.id, bob.id)).toBe('admin')
        expect((await store.listMembers(web.id))[1].github_login).toBe('bob') // a role change keeps the login
        expect(await store.removeMembership(web.id, bob.id)).toBe(true)
        expect(await store.removeMembership(web.id, bob.id)).toBe(false)
        expect(await store.getMembership(web.id, bob.id)).toBeNull()
        expect((await store.listMembers(web.id)).map((m) => m.email)).toEqual(['ada@example.com'])
        expect(await store.listProjectsForUser(ada.id)).toEqual([{ ...web, role: 'admin', github_login: null, slack_user_id: null }])
      })

      it('keeps a GitHub login per membership: changing it in one project leaves the others alone', async () => {
        const web = await store.createProject('web')
        const api = await store.createProject('api')
        const ada = await store.createUser({ email: 'ada@example.com', password_hash: 'h' })
        await store.setMembership(web.id, ada.id, 'member', { github_login: 'ada' })
        await store.setMembership(api.id, ada.id, 'admin', { github_login: 'ada' })
        expect(await store.setMemberGithubLogin(api.id, ada.id, null)).toBe(true)
        expect((await store.listMembers(api.id))[0].github_login).toBeNull()
        expect((await store.listMembers(web.id))[0].github_login).toBe('ada')
        expect((await store.listProjectsForUser(ada.id)).map((p) => [p.name, p.github_login])).toEqual([
          ['api', null],
          ['web', 'ada'],
        ])
        expect(await store.setMemberGithubLogin(api.id, 'usr_nope', 'x')).toBe(false)
        await store.setMembership(api.id, ada.id, 'admin', { github_login: 'ada-api' })
        expect((await store.listMembers(api.id))[0].github_login).toBe('ada-api')
      })

      it('links a Slack user id per project, one member per id, and finds the member by it', async () => {
        const web = await store.createProject('web')
        const api = await store.createProject('api')
        const ada = await store.createUser({ email: 'ada@example.com', password_hash: 'h' })
        const bob = await store.createUser({ email: 'bob@example.com', password_hash: 'h' })
        await store.setMembership(web.id, ada.id, 'member')
        await store.setMembership(api.id, ada.id, 'member')
        await store.setMembership(web.id, bob.id, 'member')
        expect((await store.listMembers(web.id)).map((m) => m.slack_user_id)).toEqual([null, null])

        expect(await store.setMemberSlackUser(web.id, ada.id, 'U0ADA')).toBe(true)
        expect((await store.getMemberBySlackUser(web.id, 'U0ADA'))?.email).toBe('ada@example.com')
        expect((await store.getMemberBySlackUser(web.id, 'U0ADA'))?.role).toBe('member')
        // Linked in web only: api does not know the Slack user.
        expect(await store.getMemberBySlackUser(api.id, 'U0ADA')).toBeNull()
        expect((await store.listProjectsForUser(ada.id)).map((p) => [p.name, p.slack_user_id])).toEqual([
          ['api', null],
          ['web', 'U0ADA'],
        ])
        // One Slack user is one member of a project; the same id may link in another project.
        await expectStoreError(store.setMemberSlackUser(web.id, bob.id, 'U0ADA'), 'conflict')
        expect((await store.listMembers(web.id)).find((m) => m.email === 'bob@example.com')?.slack_user_id).toBeNull()
        expect(await store.setMemberSlackUser(api.id, ada.id, 'U0ADA')).toBe(true)
        // A role change keeps the link; unlinking frees the id.
        await store.setMembership(web.id, ada.id, 'admin')
        expect((await store.getMemberBySlackUser(web.id, 'U0ADA'))?.role).toBe('admin')
        expect(await store.setMemberSlackUser(web.id, ada.id, null)).toBe(true)
        expect(await store.getMemberBySlackUser(web.id, 'U0ADA')).toBeNull()
        expect(await store.setMemberSlackUser(web.id, bob.id, 'U0ADA')).toBe(true)
        expect(await store.setMemberSlackUser(web.id, 'usr_nope', 'U0NOPE')).toBe(false)
        // Removal ends the link with the membership.
        await store.removeMembership(web.id, bob.id)
        expect(await store.getMemberBySlackUser(web.id, 'U0ADA')).toBeNull()
      })

      it('refuses memberships of unknown projects or users', async () => {
        const web = await store.createProject('web')
        const ada = await store.createUser({ email: 'ada@example.com', password_hash: 'h' })
        await expectStoreError(store.setMembership('prj_nope', ada.id, 'member'), 'not_found')
        await expectStoreError(store.setMembership(web.id, 'usr_nope', 'member'), 'not_found')
        await expectStoreError(store.setMembership(web.id, ada.id, 'owner' as 'admin'), 'invalid')
      })
    })

    describe('invitations', () => {
      const DAY = 24 * HOUR
      const invite = (project: Project, overrides: Partial<Parameters<Store['createInvitation']>[0]> = {}) =>
        store.createInvitation({
          project_id: project.id,
          email: 'New@Example.com',
          role: 'member',
          github_login: 'newbie',
          token_hash: hashToken(`token ${Math.random()}`),
          created_by: 'ada@example.com',
          expires_at: new Date(Date.now() + 7 * DAY).toISOString(),
          ...overrides,
        })

      it('creates an invitation that a new account accepts once, in one step', async () => {
        const web = await store.createProject('web')
        const tokenHash = hashToken('secret-1')
        const invitation = await invite(web, { token_hash: tokenHash })
        expect(invitation).toMatchObject({ id: expect.stringMatching(/^inv_/), project_id: web.id, email: 'New@Example.com', role: 'member', accepted_at: null, revoked_at: null })
        expect(await store.getInvitationByToken(tokenHash)).toEqual(invitation)
        expect(await store.getInvitationByToken(hashToken('other'))).toBeNull()
        expect(await store.listOpenInvitations(web.id)).toEqual([invitation])

        const now = new Date().toISOString()
        const accepted = await store.acceptInvitation(tokenHash, { new_password_hash: 'scrypt$x' }, now)
        expect(accepted?.user.email).toBe('New@Example.com')
        expect(accepted?.invitation.accepted_at).toBe(now)
        expect((await store.getUserByEmail('new@example.com'))?.password_hash).toBe('scrypt$x')
        expect(await store.listMembers(web.id)).toEqual([{ ...accepted!.user, role: 'member', github_login: 'newbie', slack_user_id: null }])
        expect(await store.listOpenInvitations(web.id)).toEqual([])
        // Used: a replay does nothing.
        expect(await store.acceptInvitation(tokenHash, { new_password_hash: 'scrypt$y' }, now)).toBeNull()
        expect(await store.acceptInvitation(tokenHash, { user_id: accepted!.user.id }, now)).toBeNull()
      })

      it('lets only the invited existing account accept, and keeps a higher role', async () => {
        const web = await store.createProject('web')
        const ada = await store.createUser({ email: 'ada@example.com', password_hash: 'h' })
        const bob = await store.createUser({ email: 'bob@example.com', password_hash: 'h' })
        await store.setMembership(web.id, ada.id, 'admin', { github_login: 'ada' })
        const tokenHash = hashToken('for-ada')
        await invite(web, { token_hash: tokenHash, email: 'ADA@example.com', github_login: null })
        const now = new Date().toISOString()
        expect(await store.acceptInvitation(tokenHash, { user_id: bob.id }, now)).toBeNull()
        expect(await store.acceptInvitation(tokenHash, { new_password_hash: 'x' }, now)).toBeNull() // the account exists
        expect((await store.acceptInvitation(tokenHash, { user_id: ada.id }, now))?.user).toEqual(ada)
        expect(await store.listMembers(web.id)).toEqual([{ ...ada, role: 'admin', github_login: 'ada', slack_user_id: null }])
        expect((await store.getUserByEmail('ada@example.com'))?.password_hash).toBe('h')
      })

      it('refuses expired and revoked invitations; revoking is per project', async () => {
        const web = await store.createProject('web')
        const api = await store.createProject('api')
        const expiredHash = hashToken('expired')
        await invite(web, { token_hash: expiredHash, expires_at: new Date(Date.now() - 1000).toISOString() })
        expect(await store.acceptInvitation(expiredHash, { new_password_hash: 'x' }, new Date().toISOString())).toBeNull()
        const revokedHash = hashToken('revoked')
        const revoked = await invite(web, { token_hash: revokedHash })
        expect(await store.revokeInvitation(api.id, revoked.id)).toBe(false)
        expect(await store.revokeInvitation(web.id, revoked.id)).toBe(true)
        expect(await store.revokeInvitation(web.id, revoked.id)).toBe(false)
        expect((await store.getInvitationByToken(revokedHash))?.revoked_at).toMatch(ISO)
        expect(await store.acceptInvitation(revokedHash, { new_password_hash: 'x' }, new Date().toISOString())).toBeNull()
        expect(await store.getUserByEmail('new@example.com')).toBeNull()
        expect(await store.listOpenInvitations(web.id)).toHaveLength(1) // the expired one stays listed (to revoke)
        await expectStoreError(invite(web, { token_hash: expiredHash }), 'conflict')
        await expectStoreError(invite(web, { role: 'owner' as 'admin' }), 'invalid')
      })

      it('lets exactly one of concurrent acceptances win', async () => {
        const web = await store.createProject('web')
        const tokenHash = hashToken('race')
        await invite(web, { token_hash: tokenHash })
        const now = new Date().toISOString()
        const results = await Promise.all(Array.from({ length: 10 }, () => store.acceptInvitation(tokenHash, { new_password_hash: 'x' }, now).catch(() => null)))
        expect(results.filter((r) => r !== null)).toHaveLength(1)
        expect(await store.listMembers(web.id)).toHaveLength(1)
      })
    })

    describe('administrative audit events', () => {
      it('appends admin events to the project chain without an approval, and the chain verifies', async () => {
        const web = await store.createProject('web')
        await store.createApproval(newApproval(web))
        const event = await store.recordAdminEvent({ project_id: web.id, type: 'member_added', subject: 'member:ana@example.com', actor: 'cli', detail: 'role member', at: new Date().toISOString() })
        expect(event).toMatchObject({ seq: 2, type: 'member_added', approval_id: '', action: 'member:ana@example.com', actor: 'cli', reason: 'role member', agent: null })
        expect((await store.listAudit(web.id, { outcome: 'member_added' })).items).toEqual([event])
        expect(await store.verifyAudit(web.id)).toMatchObject({ ok: true, events: 2 })
      })
    })

    describe('API keys', () => {
      const keyInput = (projectId: string, secret: string, scopes: KeyScope[] = ['request']) => ({
        project_id: projectId,
        name: `key-${secret}`,
        scopes,
        key_hash: hashToken(secret),
        prefix: secret.slice(0, 6),
      })

      it('creates a key without exposing its hash and finds it by hash', async () => {
        const project = await store.createProject('web')
        const key = await store.createApiKey(keyInput(project.id, 'agk_secret1', ['request', 'decide']))
        expect(key).toEqual({
          id: expect.stringMatching(/^key_/),
          project_id: project.id,
          name: 'key-agk_secret1',
          scopes: ['request', 'decide'],
          prefix: 'agk_se',
          created_at: expect.stringMatching(ISO),
          last_used_at: null,
          revoked_at: null,
        })
        expect(JSON.stringify(key)).not.toContain(hashToken('agk_secret1'))
        expect(await store.findApiKey(hashToken('agk_secret1'))).toEqual(key)
        expect(await store.findApiKey(hashToken('agk_other'))).toBeNull()
      })

      it('lists a project’s keys only and records the last use', async () => {
        const web = await store.createProject('web')
        const api = await store.createProject('api')
        const a = await store.createApiKey(keyInput(web.id, 'agk_a'))
        const b = await store.createApiKey(keyInput(web.id, 'agk_b', ['admin']))
        await store.createApiKey(keyInput(api.id, 'agk_c'))
        expect((await store.listApiKeys(web.id)).map((k) => k.id).sort()).toEqual([a.id, b.id].sort())
        const at = new Date().toISOString()
        await store.touchApiKey(a.id, at)
        expect((await store.findApiKey(hashToken('agk_a')))?.last_used_at).toBe(at)
        const later = new Date(Date.now() + 2 * HOUR).toISOString()
        await store.touchApiKey(a.id, later)
        expect((await store.findApiKey(hashToken('agk_a')))?.last_used_at).toBe(later)
      })

      it('revokes a key: findApiKey ignores it, the list shows when', async () => {
        const web = await store.createProject('web')
        const api = await store.createProject('api')
        const key = await store.createApiKey(keyInput(web.id, 'agk_a'))
        expect(await store.revokeApiKey(api.id, key.id)).toBe(false)
        expect(await store.findApiKey(hashToken('agk_a'))).not.toBeNull()
        expect(await store.revokeApiKey(web.id, key.id)).toBe(true)
        expect(await store.findApiKey(hashToken('agk_a'))).toBeNull()
        const [listed] = await store.listApiKeys(web.id)
        expect(listed.revoked_at).toMatch(ISO)
        expect(await store.revokeApiKey(web.id, key.id)).toBe(true)
        expect((await store.listApiKeys(web.id))[0].revoked_at).toBe(listed.revoked_at)
        expect(await store.revokeApiKey(web.id, 'key_nope')).toBe(false)
      })

      it('refuses unknown scopes, no scopes, unknown projects and a reused hash', async () => {
        const web = await store.createProject('web')
        await expectStoreError(store.createApiKey(keyInput(web.id, 'agk_a', ['root' as KeyScope])), 'invalid')
        await expectStoreError(store.createApiKey(keyInput(web.id, 'agk_a', [])), 'invalid')
        await expectStoreError(store.createApiKey(keyInput('prj_nope', 'agk_a')), 'not_found')
        await store.createApiKey(keyInput(web.id, 'agk_a'))
        await expectStoreError(store.createApiKey(keyInput(web.id, 'agk_a')), 'conflict')
      })
    })

    describe('approvals', () => {
      let project: Project
      let other: Project
      beforeEach(async () => {
        project = await store.createProject('web')
        other = await store.createProject('other')
      })

      it('creates a pending approval and reads it back within its project only', async () => {
        const input = newApproval(project)
        const { approval, created } = await store.createApproval(input)
        expect(created).toBe(true)
        expect(approval).toEqual({
          id: expect.stringMatching(/^apr_[A-Za-z0-9_-]{20,}$/),
          project_id: project.id,
          action: input.action,
          context: input.context,
          agent: 'ci-bot',
          status: 'pending',
          reason: null,
          decided_by: null,
          decided_at: null,
          created_at: expect.stringMatching(ISO),
          expires_at: input.expires_at,
          idempotency_key: null,
          requested_by: 'key:ci',
          requested_by_key_id: null,
          requester_claims: null,
          applied_policy: null,
          votes: [],
        })
        expect(await store.getApproval(project.id, approval.id)).toEqual(approval)
        expect(await store.getApproval(other.id, approval.id)).toBeNull()
        expect(await store.getApproval(project.id, 'apr_nope')).toBeNull()
      })

      it('reads an approval by id alone, in any project (for the server’s own use)', async () => {
        const { approval } = await store.createApproval(newApproval(project))
        const { approval: elsewhere } = await store.createApproval(newApproval(other, { action: 'rotate keys' }))
        expect(await store.getApprovalById(approval.id)).toEqual(approval)
        expect(await store.getApprovalById(elsewhere.id)).toEqual(elsewhere)
        const decided = await store.decideApproval(other.id, elsewhere.id, { decision: 'reject', reason: 'no', decided_by: 'ana@example.com' })
        expect(await store.getApprovalById(elsewhere.id)).toEqual(decided!.approval)
        expect(await store.getApprovalById('apr_nope')).toBeNull()
        expect(await store.getApprovalById('')).toBeNull()
      })

      it('stores context as JSON exactly, including hostile text', async () => {
        // JSON.parse makes `__proto__` an own key, as a request body would.
        const json = JSON.stringify({
          html: '<script>alert(1)</script>',
          sql: "'); DROP TABLE approvals; --",
          unicode: 'naïve 🚀 \u2028 \u0000',
          nested: { list: [1, 2.5, null, true, { deep: 'x' }] },
        }).replace(/^\{/, '{"__proto__":{"polluted":true},')
        const { approval } = await store.createApproval(newApproval(project, { context: JSON.parse(json), agent: null }))
        const read = await store.getApproval(project.id, approval.id)
        expect(JSON.stringify(read?.context)).toBe(json)
        expect(read?.agent).toBeNull()
        expect(({} as Record<string, unknown>).polluted).toBeUndefined()
      })

      it('returns the existing approval for a repeated idempotency key, per project', async () => {
        const first = await store.createApproval(newApproval(project, { idempotency_key: 'run-1' }))
        const again = await store.createApproval(newApproval(project, { idempotency_key: 'run-1', action: 'something else' }))
        expect(again).toEqual({ approval: first.approval, created: false })
        const elsewhere = await store.createApproval(newApproval(other, { idempotency_key: 'run-1' }))
        expect(elsewhere.created).toBe(true)
        expect(elsewhere.approval.id).not.toBe(first.approval.id)
        const withoutKey = await Promise.all([store.createApproval(newApproval(project)), store.createApproval(newApproval(project))])
        expect(withoutKey[0].approval.id).not.toBe(withoutKey[1].approval.id)
        // Only the first create writes an audit event.
        expect((await collect(store.exportAudit(project.id))).filter((e) => e.approval_id === first.approval.id)).toHaveLength(1)
      })

      it('binds an idempotency key to its fingerprint for 24 hours, then rebinds it to a new approval', async () => {
        const start = Date.now() - 2 * 24 * HOUR
        const at = (ms: number) => new Date(start + ms).toISOString()
        const keyed = (fingerprint: string, ms: number, action = 'deploy') =>
          store.createApproval(newApproval(project, { action, idempotency_key: 'k', idempotency_fingerprint: fingerprint, at: at(ms) }))
        const first = await keyed('f1', 0)
        expect(first).toMatchObject({ created: true, approval: { created_at: at(0) } })
        // Another request under a live key: the bound approval, flagged, and nothing written.
        expect(await keyed('f2', HOUR, 'drop database')).toEqual({ approval: first.approval, created: false, key_reused: true })
        expect(await keyed('f1', 24 * HOUR - 1)).toEqual({ approval: first.approval, created: false })
        expect((await store.listApprovals(project.id)).items).toHaveLength(1)
        expect((await collect(store.exportAudit(project.id))).map((e) => e.type)).toEqual(['created'])
        // 24 hours on, the key starts a new approval and binds to it.
        const later = await keyed('f2', 24 * HOUR, 'drop database')
        expect(later.created).toBe(true)
        expect(later.approval.id).not.toBe(first.approval.id)
        expect(await keyed('f1', 24 * HOUR + 1)).toEqual({ approval: later.approval, created: false, key_reused: true })
        expect(await keyed('f2', 24 * HOUR + 2)).toEqual({ approval: later.approval, created: false })
      })

      it('prunes idempotency keys past 24 hours only, and says how many', async () => {
        const now = Date.now()
        const ago = (ms: number) => new Date(now - ms).toISOString()
        await store.createApproval(newApproval(project, { idempotency_key: 'old', idempotency_fingerprint: 'f', at: ago(25 * HOUR) }))
        await store.createApproval(newApproval(other, { idempotency_key: 'old', idempotency_fingerprint: 'f', at: ago(24 * HOUR) }))
        const recent = await store.createApproval(newApproval(project, { idempotency_key: 'recent', idempotency_fingerprint: 'f', at: ago(HOUR) }))
        expect(await store.deleteExpiredIdempotencyKeys(new Date(now).toISOString())).toBe(2)
        expect(await store.deleteExpiredIdempotencyKeys(new Date(now).toISOString())).toBe(0)
        expect(await store.createApproval(newApproval(project, { idempotency_key: 'recent', idempotency_fingerprint: 'g' }))).toMatchObject({ key_reused: true, approval: { id: recent.approval.id } })
        expect((await store.createApproval(newApproval(project, { idempotency_key: 'old', idempotency_fingerprint: 'g' }))).created).toBe(true)
        // Approvals themselves stay.
        expect((await store.listApprovals(project.id)).items).toHaveLength(3)
      })

      it('records which API key asked', async () => {
        const { approval } = await store.createApproval(newApproval(project, { requested_by_key_id: 'key_abc' }))
        expect(approval.requested_by_key_id).toBe('key_abc')
        expect((await store.getApproval(project.id, approval.id))?.requested_by_key_id).toBe('key_abc')
        const decided = await store.decideApproval(project.id, approval.id, { decision: 'approve', reason: null, decided_by: 'ada' })
        expect(decided?.approval.requested_by_key_id).toBe('key_abc')
      })

      it('creates exactly one approval under concurrent creates with one key', async () => {
        const results = await Promise.all(Array.from({ length: 10 }, () => store.createApproval(newApproval(project, { idempotency_key: 'same' }))))
        expect(results.filter((r) => r.created)).toHaveLength(1)
        expect(new Set(results.map((r) => r.approval.id)).size).toBe(1)
        expect((await store.listApprovals(project.id)).items).toHaveLength(1)
      })

      it('refuses an approval for an unknown project', async () => {
        await expectStoreError(store.createApproval(newApproval({ ...project, id: 'prj_nope' })), 'not_found')
      })

      it('lists newest first with filters', async () => {
        const a = (await store.createApproval(newApproval(project, { action: 'deploy', agent: 'bot-a' }))).approval
        const b = (await store.createApproval(newApproval(project, { action: 'migrate', agent: 'bot-b' }))).approval
        const c = (await store.createApproval(newApproval(project, { action: 'deploy', agent: 'bot-b' }))).approval
        await store.createApproval(newApproval(other, { action: 'deploy' }))
        await store.decideApproval(project.id, a.id, { decision: 'approve', reason: null, decided_by: 'ada@example.com' })
        await store.decideApproval(project.id, b.id, { decision: 'reject', reason: 'no', decided_by: 'bob@example.com' })

        const ids = async (filter: Parameters<Store['listApprovals']>[1]) => (await store.listApprovals(project.id, filter)).items.map((x) => x.id)
        expect(await ids({})).toEqual([c.id, b.id, a.id])
        expect(await ids({ status: 'pending' })).toEqual([c.id])
        expect(await ids({ status: 'approved' })).toEqual([a.id])
        expect(await ids({ action: 'deploy' })).toEqual([c.id, a.id])
        expect(await ids({ agent: 'bot-b' })).toEqual([c.id, b.id])
        expect(await ids({ decided_by: 'bob@example.com' })).toEqual([b.id])
        expect(await ids({ action: 'deploy', status: 'rejected' })).toEqual([])
        expect((await store.listApprovals(project.id)).next_cursor).toBeNull()
      })

      it('pages with an opaque cursor, without repeats, stable while new approvals arrive', async () => {
        const created: string[] = []
        for (let i = 0; i < 7; i++) created.push((await store.createApproval(newApproval(project, { action: `a${i}` }))).approval.id)
        const seen: string[] = []
        let cursor: string | undefined
        let pages = 0
        do {
          const page = await store.listApprovals(project.id, { limit: 3, cursor })
          seen.push(...page.items.map((x) => x.id))
          cursor = page.next_cursor ?? undefined
          pages++
          // A newer approval must not show up on the older pages.
          if (pages === 1) await store.createApproval(newApproval(project, { action: 'late' }))
        } while (cursor)
        expect(pages).toBe(3)
        expect(seen).toEqual([...created].reverse())
        expect((await store.listApprovals(project.id, { limit: 500 })).items).toHaveLength(8)
        expect((await store.listApprovals(project.id, { limit: 0 })).items).toHaveLength(1)
      })

      it('rejects a cursor it did not issue', async () => {
        await expectStoreError(store.listApprovals(project.id, { cursor: 'not-a-cursor' }), 'invalid')
        await store.createApproval(newApproval(project))
        await store.createApproval(newApproval(project))
        const auditCursor = (await store.listAudit(project.id, { limit: 1 })).next_cursor
        expect(auditCursor).not.toBeNull()
        await expectStoreError(store.listApprovals(project.id, { cursor: auditCursor as string }), 'invalid')
      })

      it('lets the first decision win and reports the current record after', async () => {
        const { approval } = await store.createApproval(newApproval(project))
        const at = new Date().toISOString()
        const first = await store.decideApproval(project.id, approval.id, { decision: 'approve', reason: 'ship it', decided_by: 'ada@example.com', at })
        expect(first?.changed).toBe(true)
        if (!first?.changed) throw new Error('unreachable')
        expect(first.approval).toEqual({ ...approval, status: 'approved', reason: 'ship it', decided_by: 'ada@example.com', decided_at: at })
        expect(first.event).toMatchObject({ type: 'approved', approval_id: approval.id, actor: 'ada@example.com', reason: 'ship it', at })

        const second = await store.decideApproval(project.id, approval.id, { decision: 'reject', reason: 'no', decided_by: 'bob@example.com' })
        expect(second).toEqual({ changed: false, approval: first.approval })
        expect(await store.getApproval(project.id, approval.id)).toEqual(first.approval)
        expect(await store.decideApproval(other.id, approval.id, { decision: 'reject', reason: null, decided_by: 'x' })).toBeNull()
        expect(await store.decideApproval(project.id, 'apr_nope', { decision: 'reject', reason: null, decided_by: 'x' })).toBeNull()
      })

      it('records a rejection with its reason', async () => {
        const { approval } = await store.createApproval(newApproval(project))
        const result = await store.decideApproval(project.id, approval.id, { decision: 'reject', reason: 'not today', decided_by: 'key:ops' })
        expect(result).toMatchObject({ changed: true, approval: { status: 'rejected', reason: 'not today', decided_by: 'key:ops', decided_at: expect.stringMatching(ISO) } })
      })

      it('lets exactly one of 20 concurrent decisions win', async () => {
        const { approval } = await store.createApproval(newApproval(project))
        const results = await Promise.all(
          Array.from({ length: 20 }, (_, i) =>
            store.decideApproval(project.id, approval.id, { decision: i % 2 ? 'approve' : 'reject', reason: `r${i}`, decided_by: `user${i}` }),
          ),
        )
        const winners = results.filter((r) => r?.changed)
        expect(winners).toHaveLength(1)
        const final = await store.getApproval(project.id, approval.id)
        expect(final?.decided_by).toBe(winners[0]?.approval.decided_by)
        for (const r of results) expect(r?.approval).toEqual(final)
        const events = await collect(store.exportAudit(project.id))
        expect(events.map((e) => e.type)).toEqual(['created', final?.status])
      })

      it('cancels only a pending approval', async () => {
        const { approval } = await store.createApproval(newApproval(project))
        const cancelled = await store.cancelApproval(project.id, approval.id, { reason: 'step cancelled', by: 'key:ci' })
        expect(cancelled).toMatchObject({
          changed: true,
          approval: { status: 'cancelled', reason: 'step cancelled', decided_by: 'key:ci', decided_at: expect.stringMatching(ISO) },
          event: { type: 'cancelled', actor: 'key:ci', reason: 'step cancelled' },
        })
        const late = await store.decideApproval(project.id, approval.id, { decision: 'approve', reason: null, decided_by: 'ada' })
        expect(late).toEqual({ changed: false, approval: cancelled?.approval })
        expect(await store.cancelApproval(project.id, approval.id, { reason: null, by: 'key:ci' })).toEqual({ changed: false, approval: cancelled?.approval })

        const decided = (await store.createApproval(newApproval(project))).approval
        await store.decideApproval(project.id, decided.id, { decision: 'approve', reason: null, decided_by: 'ada' })
        expect(await store.cancelApproval(project.id, decided.id, { reason: null, by: 'key:ci' })).toMatchObject({ changed: false, approval: { status: 'approved' } })
        expect(await store.cancelApproval(other.id, decided.id, { reason: null, by: 'key:ci' })).toBeNull()
      })

      it('records a withdrawal at the requester deadline as expired and timed out by system, like the sweep', async () => {
        const { approval } = await store.createApproval(newApproval(project))
        const withdrawn = await store.cancelApproval(project.id, approval.id, { reason: 'no decision within 1s', by: 'key:ci', timed_out: true })
        expect(withdrawn).toMatchObject({
          changed: true,
          approval: { status: 'expired', reason: 'no decision within 1s; withdrawn by key:ci', decided_by: 'system' },
          event: { type: 'timed_out', actor: 'system', reason: 'no decision within 1s; withdrawn by key:ci' },
        })
        const bare = (await store.createApproval(newApproval(project))).approval
        expect(await store.cancelApproval(project.id, bare.id, { reason: null, by: 'key:ci', timed_out: true })).toMatchObject({
          event: { type: 'timed_out', actor: 'system', reason: 'no decision before the deadline; withdrawn by key:ci' },
        })
        expect(await store.cancelApproval(project.id, approval.id, { reason: null, by: 'key:ci', timed_out: true })).toEqual({ changed: false, approval: withdrawn?.approval })
        expect((await store.verifyAudit(project.id)).ok).toBe(true)
      })

      it('expires due approvals once, as timed out by system, and reports the next expiry', async () => {
        const now = Date.now()
        const past = (await store.createApproval(newApproval(project, { expires_at: new Date(now - 1000).toISOString() }))).approval
        const exact = (await store.createApproval(newApproval(other, { expires_at: new Date(now).toISOString() }))).approval
        const future = (await store.createApproval(newApproval(project, { expires_at: new Date(now + 60_000).toISOString() }))).approval
        const decidedPast = (await store.createApproval(newApproval(project, { expires_at: new Date(now - 2000).toISOString() }))).approval
        await store.decideApproval(project.id, decidedPast.id, { decision: 'approve', reason: null, decided_by: 'ada' })

        expect(await store.nextExpiry()).toBe(past.expires_at)
        expect(await store.countPending(project.id)).toBe(2)
        const nowIso = new Date(now).toISOString()
        const expired = await store.expireDue(nowIso)
        expect(expired.map((a) => a.id).sort()).toEqual([past.id, exact.id].sort())
        for (const a of expired) expect(a).toMatchObject({ status: 'expired', decided_by: 'system', decided_at: nowIso, reason: null })
        expect(await store.getApproval(project.id, past.id)).toMatchObject({ status: 'expired' })
        expect(await store.getApproval(project.id, future.id)).toMatchObject({ status: 'pending' })
        expect(await store.getApproval(project.id, decidedPast.id)).toMatchObject({ status: 'approved' })
        expect(await store.expireDue(nowIso)).toEqual([])
        expect(await store.nextExpiry()).toBe(future.expires_at)
        expect(await store.countPending(project.id)).toBe(1)
        expect(await store.countPending(other.id)).toBe(0)

        const timedOut = (await collect(store.exportAudit(project.id, { outcome: 'timed_out' }))).map((e) => [e.approval_id, e.actor, e.at])
        expect(timedOut).toEqual([[past.id, 'system', nowIso]])
        expect(await store.decideApproval(project.id, past.id, { decision: 'approve', reason: null, decided_by: 'ada' })).toMatchObject({ changed: false, approval: { status: 'expired' } })
      })

      it('expires in bounded batches, earliest deadline first', async () => {
        const now = Date.now()
        const due: string[] = []
        // Created latest-deadline first, so deadline order differs from creation order.
        for (let i = 5; i >= 1; i--) due.push((await store.createApproval(newApproval(i % 2 ? project : other, { expires_at: new Date(now - i * 1000).toISOString() }))).approval.id)
        const nowIso = new Date(now).toISOString()
        const batches: string[][] = []
        for (let round = 0; round < 4; round++) batches.push((await store.expireDue(nowIso, 2)).map((a) => a.id).sort())
        expect(batches).toEqual([[due[0], due[1]].sort(), [due[2], due[3]].sort(), [due[4]], []])
        expect((await store.verifyAudit(project.id)).ok).toBe(true)
        expect((await store.verifyAudit(other.id)).ok).toBe(true)
      })

      it('has no next expiry when nothing is pending', async () => {
        expect(await store.nextExpiry()).toBeNull()
      })
    })

    describe('votes', () => {
      let project: Project
      let other: Project
      const applied = {
        version: 3,
        rule: 'two people',
        requirements: [{ name: 'approvers', members: null, required: 2 }],
        block_self_approval: false,
        require_reason: 'none' as const,
        reject: 'any' as const,
        windows: [],
      }

      beforeEach(async () => {
        project = await store.createProject('votes')
        other = await store.createProject('votes-other')
      })

      it('keeps the applied policy with the approval and starts it with no votes', async () => {
        const { approval } = await store.createApproval(newApproval(project, { applied_policy: applied }))
        expect(approval).toMatchObject({ applied_policy: applied, votes: [] })
        expect(await store.getApproval(project.id, approval.id)).toEqual(approval)
        const plain = (await store.createApproval(newApproval(project))).approval
        expect(plain).toMatchObject({ applied_policy: null, votes: [] })
        expect((await store.listApprovals(project.id)).items).toEqual([plain, approval])
      })

      it('records votes until the counter settles it, each an audit event that the chain and the decision proof accept', async () => {
        const { approval } = await store.createApproval(newApproval(project, { applied_policy: applied }))
        const first = await store.recordVote(project.id, approval.id, { by: 'ada@example.com', email: 'ada@example.com', decision: 'approve', reason: null, at: '2030-01-01T12:00:00.000Z' }, countUpTo(2))
        expect(first).toMatchObject({ recorded: true, settled: false, approval: { status: 'pending' }, event: { type: 'vote_approve', actor: 'ada@example.com', approval_id: approval.id } })
        const ada = { by: 'ada@example.com', email: 'ada@example.com', decision: 'approve', reason: null, at: '2030-01-01T12:00:00.000Z', groups: ['approvers'] }
        expect(await store.getApproval(project.id, approval.id)).toMatchObject({ status: 'pending', votes: [ada] })

        const second = await store.recordVote(project.id, approval.id, { by: 'key:ops', email: null, decision: 'approve', reason: 'looks fine', at: '2030-01-01T12:01:00.000Z' }, countUpTo(2))
        expect(second).toMatchObject({
          recorded: true,
          settled: true,
          approval: { status: 'approved', decided_by: 'key:ops', reason: 'looks fine', decided_at: '2030-01-01T12:01:00.000Z' },
          event: { type: 'approved', actor: 'key:ops', reason: 'looks fine' },
        })
        const stored = await store.getApproval(project.id, approval.id)
        expect(stored?.votes).toEqual([ada, { by: 'key:ops', email: null, decision: 'approve', reason: 'looks fine', at: '2030-01-01T12:01:00.000Z', groups: ['approvers'] }])
        expect(second?.recorded && second.approval).toEqual(stored)
        expect(await store.verifyDecision(project.id, stored!)).toBeNull()
        expect(await store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: 3 })
        expect((await collect(store.exportAudit(project.id))).map((e) => e.type)).toEqual(['created', 'vote_approve', 'approved'])
      })

      it('refuses a second vote by the same voter, a vote on a settled approval and one from another project, writing nothing', async () => {
        const { approval } = await store.createApproval(newApproval(project))
        await store.recordVote(project.id, approval.id, { by: 'ada@example.com', email: 'ada@example.com', decision: 'approve', reason: null }, countUpTo(2))
        const again = await store.recordVote(project.id, approval.id, { by: 'ada@example.com', email: 'ada@example.com', decision: 'reject', reason: 'changed my mind' }, countUpTo(2))
        expect(again).toMatchObject({ recorded: false, refused: 'already_voted', approval: { status: 'pending', votes: [{ by: 'ada@example.com', decision: 'approve' }] } })
        expect(await store.recordVote(other.id, approval.id, { by: 'bob@example.com', email: 'bob@example.com', decision: 'approve', reason: null }, countUpTo(2))).toBeNull()
        expect(await store.recordVote(project.id, 'apr_nope', { by: 'bob@example.com', email: 'bob@example.com', decision: 'approve', reason: null }, countUpTo(2))).toBeNull()

        const rejected = await store.recordVote(project.id, approval.id, { by: 'bob@example.com', email: 'bob@example.com', decision: 'reject', reason: 'no' }, countUpTo(2))
        expect(rejected).toMatchObject({ recorded: true, settled: true, approval: { status: 'rejected', decided_by: 'bob@example.com' } })
        const late = await store.recordVote(project.id, approval.id, { by: 'cy@example.com', email: 'cy@example.com', decision: 'approve', reason: null }, countUpTo(2))
        expect(late).toMatchObject({ recorded: false, refused: 'not_pending', approval: { status: 'rejected' } })
        expect((await collect(store.exportAudit(project.id))).map((e) => e.type)).toEqual(['created', 'vote_approve', 'rejected'])
      })

      it('counts each of 12 concurrent votes once, and exactly one of them settles it', async () => {
        const { approval } = await store.createApproval(newApproval(project, { applied_policy: { ...applied, requirements: [{ name: 'approvers', members: null, required: 12 }] } }))
        const results = await Promise.all(
          Array.from({ length: 12 }, (_, i) => store.recordVote(project.id, approval.id, { by: `user${i}@example.com`, email: `user${i}@example.com`, decision: 'approve', reason: null }, countUpTo(12))),
        )
        expect(results.every((result) => result?.recorded)).toBe(true)
        expect(results.filter((result) => result?.recorded && result.settled)).toHaveLength(1)
        const final = await store.getApproval(project.id, approval.id)
        expect(final?.status).toBe('approved')
        expect(new Set(final?.votes?.map((vote) => vote.by)).size).toBe(12)
        const events = await collect(store.exportAudit(project.id))
        expect(events.filter((e) => e.type === 'vote_approve')).toHaveLength(11)
        expect(events[events.length - 1].type).toBe('approved')
        expect(await store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true })
      })

      it('refuses one voter racing themself: one vote counted', async () => {
        const { approval } = await store.createApproval(newApproval(project))
        const results = await Promise.all(
          Array.from({ length: 6 }, () => store.recordVote(project.id, approval.id, { by: 'ada@example.com', email: 'ada@example.com', decision: 'approve', reason: null }, countUpTo(2))),
        )
        expect(results.filter((result) => result?.recorded)).toHaveLength(1)
        expect(results.filter((result) => result && !result.recorded && result.refused === 'already_voted')).toHaveLength(5)
        expect((await store.getApproval(project.id, approval.id))?.votes).toHaveLength(1)
      })

      it("stores the groups each recount gives earlier votes, changed or not, also when the vote settles it", async () => {
        // The newest vote counts toward 'newest', every earlier one toward 'earlier'; the third settles it.
        const shifting: VoteCounter = (votes) => ({
          outcome: votes.length >= 3 ? 'approved' : 'pending',
          groups: Object.fromEntries(votes.map((vote, i) => [vote.by, [i === votes.length - 1 ? 'newest' : 'earlier']])),
        })
        const { approval } = await store.createApproval(newApproval(project, { applied_policy: applied }))
        const voteBy = (by: string) => store.recordVote(project.id, approval.id, { by, email: by, decision: 'approve', reason: null }, shifting)
        const groupsNow = async () => (await store.getApproval(project.id, approval.id))?.votes?.map((vote) => [vote.by, vote.groups])

        expect(await voteBy('ada@example.com')).toMatchObject({ recorded: true, settled: false })
        expect(await groupsNow()).toEqual([['ada@example.com', ['newest']]])
        const second = await voteBy('bob@example.com')
        expect(second?.approval.votes?.map((vote) => [vote.by, vote.groups])).toEqual([['ada@example.com', ['earlier']], ['bob@example.com', ['newest']]])
        expect(await groupsNow()).toEqual([['ada@example.com', ['earlier']], ['bob@example.com', ['newest']]])
        const third = await voteBy('cy@example.com')
        expect(third).toMatchObject({ recorded: true, settled: true, approval: { status: 'approved', decided_by: 'cy@example.com' } })
        expect(await groupsNow()).toEqual([['ada@example.com', ['earlier']], ['bob@example.com', ['earlier']], ['cy@example.com', ['newest']]])
        expect(third?.approval).toEqual(await store.getApproval(project.id, approval.id))
        expect(await store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: 4 })
      })
    })

    describe('audit trail', () => {
      let project: Project
      let other: Project

      /** created ×4 (deploy/bot-a, migrate/bot-b, deploy/bot-b, deploy/bot-a), approved, rejected, cancelled. */
      async function seedHistory(): Promise<{ times: string[] }> {
        const times: string[] = []
        const t = (minutes: number) => {
          const iso = new Date(Date.UTC(2030, 0, 1, 12, minutes)).toISOString()
          times.push(iso)
          return iso
        }
        const a = (await store.createApproval(newApproval(project, { action: 'deploy', agent: 'bot-a' }))).approval
        const b = (await store.createApproval(newApproval(project, { action: 'migrate', agent: 'bot-b' }))).approval
        const c = (await store.createApproval(newApproval(project, { action: 'deploy', agent: 'bot-b' }))).approval
        await store.createApproval(newApproval(project, { action: 'deploy', agent: 'bot-a' }))
        await store.decideApproval(project.id, a.id, { decision: 'approve', reason: 'ok', decided_by: 'ada@example.com', at: t(1) })
        await store.decideApproval(project.id, b.id, { decision: 'reject', reason: 'risky', decided_by: 'bob@example.com', at: t(2) })
        await store.cancelApproval(project.id, c.id, { reason: 'aborted', by: 'ada@example.com', at: t(3) })
        await store.createApproval(newApproval(other))
        return { times }
      }

      beforeEach(async () => {
        project = await store.createProject('web')
        other = await store.createProject('other')
      })

      it('chains each project’s events from seq 1 with linked hashes', async () => {
        await seedHistory()
        const events = await collect(store.exportAudit(project.id))
        expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6, 7])
        expect(events.map((e) => e.type)).toEqual(['created', 'created', 'created', 'created', 'approved', 'rejected', 'cancelled'])
        expect(events[0].prev_hash).toBe(GENESIS_HASH)
        events.forEach((event, i) => {
          expect(event.project_id).toBe(project.id)
          expect(event.hash).toMatch(/^[0-9a-f]{64}$/)
          expect(event.hash).toBe(hashAuditEvent(event))
          if (i > 0) expect(event.prev_hash).toBe(events[i - 1].hash)
        })
        expect(events[0]).toMatchObject({ actor: 'key:ci', reason: null, action: 'deploy', agent: 'bot-a' })
        expect(events[4]).toMatchObject({ actor: 'ada@example.com', reason: 'ok' })
        const otherEvents = await collect(store.exportAudit(other.id))
        expect(otherEvents.map((e) => [e.seq, e.prev_hash])).toEqual([[1, GENESIS_HASH]])
      })

      it('lists newest first with filters and pages', async () => {
        const { times } = await seedHistory()
        const types = async (filter: Parameters<Store['listAudit']>[1]) => (await store.listAudit(project.id, filter)).items.map((e) => `${e.seq}:${e.type}`)
        expect(await types({})).toEqual(['7:cancelled', '6:rejected', '5:approved', '4:created', '3:created', '2:created', '1:created'])
        expect(await types({ action: 'migrate' })).toEqual(['6:rejected', '2:created'])
        expect(await types({ agent: 'bot-a' })).toEqual(['5:approved', '4:created', '1:created'])
        expect(await types({ approver: 'ada@example.com' })).toEqual(['5:approved'])
        expect(await types({ approver: 'key:ci' })).toEqual([])
        expect(await types({ outcome: 'rejected' })).toEqual(['6:rejected'])
        expect(await types({ from: times[1], to: times[2] })).toEqual(['7:cancelled', '6:rejected'])
        expect(await types({ from: times[1], to: times[1] })).toEqual(['6:rejected'])
        expect(await types({ from: '2030-01-01', to: '2030-01-01T12:01:00Z' })).toEqual(['5:approved'])

        const first = await store.listAudit(project.id, { limit: 4 })
        expect(first.items.map((e) => e.seq)).toEqual([7, 6, 5, 4])
        const second = await store.listAudit(project.id, { limit: 4, cursor: first.next_cursor ?? undefined })
        expect(second.items.map((e) => e.seq)).toEqual([3, 2, 1])
        expect(second.next_cursor).toBeNull()
        await expectStoreError(store.listAudit(project.id, { from: 'yesterday' }), 'invalid')
        await expectStoreError(store.listAudit(project.id, { cursor: '!!' }), 'invalid')
      })

      it('exports oldest first with the same filters', async () => {
        const { times } = await seedHistory()
        const seqs = async (filter?: Parameters<Store['exportAudit']>[1]) => (await collect(store.exportAudit(project.id, filter))).map((e) => e.seq)
        expect(await seqs()).toEqual([1, 2, 3, 4, 5, 6, 7])
        expect(await seqs({ outcome: 'created' })).toEqual([1, 2, 3, 4])
        expect(await seqs({ action: 'deploy', agent: 'bot-b' })).toEqual([3, 7])
        expect(await seqs({ approver: 'bob@example.com' })).toEqual([6])
        expect(await seqs({ from: times[0] })).toEqual([5, 6, 7])
        expect(await seqs({ to: times[0] })).toEqual([1, 2, 3, 4, 5])
      })

      it('exports long histories completely, across internal batches', async () => {
        for (let i = 0; i < 1210; i++) await store.createApproval(newApproval(project, { action: `a${i}` }))
        const events: AuditEvent[] = await collect(store.exportAudit(project.id))
        expect(events).toHaveLength(1210)
        expect(events.every((e, i) => e.seq === i + 1)).toBe(true)
        expect(await store.verifyAudit(project.id)).toEqual({ ok: true, events: 1210, head: events[1209].hash })
      })

      it('verifies an intact chain and reports its head', async () => {
        expect(await store.verifyAudit(project.id)).toEqual({ ok: true, events: 0, head: GENESIS_HASH })
        await seedHistory()
        const events = await collect(store.exportAudit(project.id))
        expect(await store.verifyAudit(project.id)).toEqual({ ok: true, events: 7, head: events[6].hash })
        expect(await store.verifyAudit(other.id)).toMatchObject({ ok: true, events: 1 })
      })

      it('keys every event: a MAC chained to the previous one, and the context hash of the approval', async () => {
        await seedHistory()
        const events = await collect(store.exportAudit(project.id))
        events.forEach((event, i) => {
          expect(event.mac).toMatch(/^[0-9a-f]{64}$/)
          expect(event.prev_mac).toBe(i === 0 ? GENESIS_HASH : events[i - 1].mac)
          expect(event.sealed_at).toBeNull()
          expect(event.context_hash).toMatch(/^[0-9a-f]{64}$/)
        })
        // A decision vouches for the context recorded at create.
        expect(events[4].context_hash).toBe(events[0].context_hash)
      })

      it('proves settled approvals from their audit event, and names what a changed record disagrees with', async () => {
        const { approval } = await store.createApproval(newApproval(project))
        expect(await store.verifyDecision(project.id, approval)).toBeNull()
        const decided = await store.decideApproval(project.id, approval.id, { decision: 'approve', reason: 'fine', decided_by: 'ada@example.com' })
        const record = decided!.approval
        expect(await store.verifyDecision(project.id, record)).toBeNull()
        expect(await store.verifyDecision(project.id, { ...record, decided_by: 'mallory' })).toMatch(/decided_by/)
        expect(await store.verifyDecision(project.id, { ...record, status: 'rejected' })).toMatch(/records approved/)
        expect(await store.verifyDecision(project.id, { ...record, context: { sha: 'other' } })).toMatch(/context/)
        const { approval: pending } = await store.createApproval(newApproval(project))
        expect(await store.verifyDecision(project.id, { ...pending, status: 'approved', decided_by: 'ada@example.com' })).toMatch(/no audit event records that decision/)
      })

      it('signs a checkpoint of the verified head and checks that the chain still extends it', async () => {
        await seedHistory()
        const checkpoint = await store.auditCheckpoint(project.id)
        const events = await collect(store.exportAudit(project.id))
        expect(checkpoint).toMatchObject({ project: project.id, seq: 7, head: events[6].hash, mac: expect.stringMatching(/^[0-9a-f]{64}$/) })
        await store.createApproval(newApproval(project))
        expect(await store.verifyAuditCheckpoint(project.id, checkpoint)).toMatchObject({ ok: true })
        expect(await store.verifyAuditCheckpoint(project.id, { ...checkpoint, seq: 6 })).toMatchObject({ ok: false, problem: expect.stringMatching(/signature/) })
        expect(await store.verifyAuditCheckpoint(other.id, checkpoint)).toMatchObject({ ok: false, problem: expect.stringMatching(/another project|of project/) })
        expect(await store.verifyAuditCheckpoint(project.id, 'nonsense')).toMatchObject({ ok: false })
      })
    })

    describe('trust rules', () => {
      it('creates, lists per project and per issuer, and removes trust rules', async () => {
        const project = await store.createProject('p')
        const other = await store.createProject('q')
        const rule = await store.createTrustRule({
          project_id: project.id,
          issuer: 'https://token.actions.githubusercontent.com/',
          audience: 'https://gate.example.com',
          repository: 'acme/web',
          ref: 'refs/heads/main',
          environment: 'production',
        })
        expect(rule).toMatchObject({ issuer: 'https://token.actions.githubusercontent.com', repository: 'acme/web', ref: 'refs/heads/main', environment: 'production', workflow_ref: null })
        expect(rule.id).toMatch(/^trs_/)
        expect(rule.created_at).toMatch(ISO)
        const second = await store.createTrustRule({ project_id: other.id, issuer: 'https://token.actions.githubusercontent.com', audience: 'a', repository: 'acme/api' })
        await store.createTrustRule({ project_id: other.id, issuer: 'https://ghes.example.com/_services/token', audience: 'a', repository: 'acme/api' })

        expect(await store.listTrustRules(project.id)).toEqual([rule])
        // Rules made in the same millisecond come in id order, which is random: compare as sets.
        expect((await store.listTrustRulesForIssuer('https://token.actions.githubusercontent.com')).map((r) => r.id).sort()).toEqual([rule.id, second.id].sort())
        expect(await store.listTrustRulesForIssuer('https://unknown.example.com')).toEqual([])

        expect(await store.removeTrustRule(other.id, rule.id)).toBe(false)
        expect(await store.removeTrustRule(project.id, rule.id)).toBe(true)
        expect(await store.removeTrustRule(project.id, rule.id)).toBe(false)
        expect(await store.listTrustRules(project.id)).toEqual([])
      })

      it('refuses empty fields and unknown projects', async () => {
        const project = await store.createProject('p')
        await expectStoreError(store.createTrustRule({ project_id: project.id, issuer: 'https://i.example.com', audience: '', repository: 'acme/web' }), 'invalid')
        await expectStoreError(store.createTrustRule({ project_id: project.id, issuer: 'https://i.example.com', audience: 'a', repository: 'acme web' }), 'invalid')
        await expectStoreError(store.createTrustRule({ project_id: 'prj_missing', issuer: 'https://i.example.com', audience: 'a', repository: 'acme/web' }), 'not_found')
      })

      it('stores the verified requester claims of an approval apart from its context', async () => {
        const project = await store.createProject('p')
        const claims = {
          issuer: 'https://token.actions.githubusercontent.com',
          repository: 'acme/web',
          ref: 'refs/heads/main',
          sha: 'abc',
          workflow_ref: 'acme/web/.github/workflows/deploy.yml@refs/heads/main',
          run_id: '42',
          run_attempt: '1',
          actor: 'octocat',
          triggering_actor: 'hubot',
          environment: null,
          event_name: 'push',
        }
        const { approval } = await store.createApproval(newApproval(project, { requester_claims: claims, requested_by: 'oidc:acme/web@refs/heads/main' }))
        expect(approval.requester_claims).toEqual(claims)
        expect((await store.getApproval(project.id, approval.id))?.requester_claims).toEqual(claims)
        const plain = await store.createApproval(newApproval(project))
        expect((await store.getApproval(project.id, plain.approval.id))?.requester_claims).toBeNull()
        // The created events record the claims' hash (of null when an API key asked), under the MAC.
        const created = new Map<string, AuditEvent>()
        for await (const event of store.exportAudit(project.id)) if (event.type === 'created') created.set(event.approval_id, event)
        expect(created.get(approval.id)?.claims_hash).toBe(claimsHash(claims))
        expect(created.get(plain.approval.id)?.claims_hash).toBe(claimsHash(null))
        expect(claimsHash(claims)).not.toBe(claimsHash(null))
        expect(await store.verifyAudit(project.id)).toMatchObject({ ok: true })
      })
    })

    describe('policy documents', () => {
      const sha = (text: string): string => createHash('sha256').update(text).digest('hex')
      const YAML = 'rules: []\n'
      const JSON_DOC = '{"rules": []}'

      it('stores numbered versions with their audit events; the newest is current, per project', async () => {
        const project = await store.createProject('p')
        const other = await store.createProject('q')
        expect(await store.getPolicy(project.id)).toBeNull()
        expect(await store.listPolicyVersions(project.id)).toEqual([])

        const first = await store.setPolicy({ project_id: project.id, source: YAML, format: 'yaml', hash: sha(YAML), created_by: 'ada@example.com' })
        expect(first).toEqual({ project_id: project.id, version: 1, source: YAML, format: 'yaml', hash: sha(YAML), created_by: 'ada@example.com', created_at: expect.stringMatching(ISO), cleared: false })
        const second = await store.setPolicy({ project_id: project.id, source: JSON_DOC, format: 'json', hash: sha(JSON_DOC), created_by: 'cli', at: '2026-11-26T10:00:00.000Z' })
        expect(second).toMatchObject({ version: 2, format: 'json', created_at: '2026-11-26T10:00:00.000Z' })
        expect(await store.getPolicy(project.id)).toEqual(second)
        expect(await store.listPolicyVersions(project.id)).toEqual([second, first])
        // Another project's numbering and current policy are its own.
        expect(await store.getPolicy(other.id)).toBeNull()
        expect((await store.setPolicy({ project_id: other.id, source: YAML, format: 'yaml', hash: sha(YAML), created_by: 'cli' })).version).toBe(1)

        const events = (await collect(store.exportAudit(project.id))).map((event) => [event.type, event.action, event.actor, event.reason])
        expect(events).toEqual([
          ['policy_set', 'policy', 'ada@example.com', `version 1, yaml, sha256 ${sha(YAML)}`],
          ['policy_set', 'policy', 'cli', `version 2, json, sha256 ${sha(JSON_DOC)}`],
        ])
        expect(await store.verifyAudit(project.id)).toMatchObject({ ok: true, events: 2 })
      })

      it('clears the policy with a version of its own: no current policy, the history keeps it', async () => {
        const project = await store.createProject('p')
        await store.setPolicy({ project_id: project.id, source: YAML, format: 'yaml', hash: sha(YAML), created_by: 'cli' })
        const cleared = await store.setPolicy({ project_id: project.id, source: null, format: 'yaml', hash: '', created_by: 'ada@example.com' })
        expect(cleared).toMatchObject({ version: 2, source: '', hash: '', cleared: true })
        expect(await store.getPolicy(project.id)).toBeNull()
        expect((await store.listPolicyVersions(project.id)).map((version) => [version.version, version.cleared])).toEqual([[2, true], [1, false]])
        const last = (await store.listAudit(project.id, { limit: 1 })).items[0]
        expect([last.type, last.actor, last.reason]).toEqual(['policy_cleared', 'ada@example.com', 'version 2: policy removed, any one member approves'])
        expect((await store.setPolicy({ project_id: project.id, source: YAML, format: 'yaml', hash: sha(YAML), created_by: 'cli' })).version).toBe(3)
        expect((await store.getPolicy(project.id))?.version).toBe(3)
      })

      it('numbers concurrent versions without gaps or repeats, each with its event', async () => {
        const project = await store.createProject('p')
        const versions = await Promise.all(
          Array.from({ length: 8 }, (_, index) => store.setPolicy({ project_id: project.id, source: `# ${index}\n${YAML}`, format: 'yaml', hash: sha(`# ${index}\n${YAML}`), created_by: `u${index}@example.com` })),
        )
        expect(versions.map((version) => version.version).sort((a, b) => a - b)).toEqual([1, 2, 3, 4, 5, 6, 7, 8])
        expect(await store.verifyAudit(project.id)).toMatchObject({ ok: true, events: 8 })
      })

      it('refuses empty documents, bad hashes and formats, and unknown projects, writing nothing', async () => {
        const project = await store.createProject('p')
        await expectStoreError(store.setPolicy({ project_id: project.id, source: '', format: 'yaml', hash: sha(''), created_by: 'cli' }), 'invalid')
        await expectStoreError(store.setPolicy({ project_id: project.id, source: YAML, format: 'yaml', hash: 'abc', created_by: 'cli' }), 'invalid')
        await expectStoreError(store.setPolicy({ project_id: project.id, source: YAML, format: 'toml' as 'yaml', hash: sha(YAML), created_by: 'cli' }), 'invalid')
        await expectStoreError(store.setPolicy({ project_id: 'prj_missing', source: YAML, format: 'yaml', hash: sha(YAML), created_by: 'cli' }), 'not_found')
        expect(await store.listPolicyVersions(project.id)).toEqual([])
        expect(await store.verifyAudit(project.id)).toMatchObject({ ok: true, events: 0 })
      })
    })

    describeGithubStoreContract(() => store)

    describe('sessions', () => {
      it('creates, reads until expiry and deletes sessions', async () => {
        const user = await store.createUser({ email: 'ada@example.com', password_hash: 'h' })
        const created_at = new Date().toISOString()
        const expires_at = new Date(Date.now() + HOUR).toISOString()
        const session = { token_hash: hashToken('cookie-token'), user_id: user.id, csrf_token: 'csrf-1', created_at, expires_at }
        await store.createSession(session)
        expect(await store.getSession(session.token_hash, created_at)).toEqual(session)
        expect(await store.getSession(session.token_hash, expires_at)).toBeNull()
        expect(await store.getSession(hashToken('other'), created_at)).toBeNull()
        await store.deleteSession(session.token_hash)
        expect(await store.getSession(session.token_hash, created_at)).toBeNull()
        await store.deleteSession(session.token_hash)
      })

      it('deletes expired sessions only, and says how many', async () => {
        const user = await store.createUser({ email: 'ada@example.com', password_hash: 'h' })
        const now = Date.now()
        const at = (offsetMs: number) => new Date(now + offsetMs).toISOString()
        const session = (name: string, expiresInMs: number) => ({ token_hash: hashToken(name), user_id: user.id, csrf_token: `csrf-${name}`, created_at: at(-2 * HOUR), expires_at: at(expiresInMs) })
        const expired = session('expired', -HOUR)
        const endsNow = session('ends-now', 0)
        const live = session('live', HOUR)
        for (const s of [expired, endsNow, live]) await store.createSession(s)
        // createSession itself sweeps nothing: the expired rows are still there to delete.
        expect(await store.deleteExpiredSessions(at(-2 * HOUR))).toBe(0)
        expect(await store.deleteExpiredSessions(at(0))).toBe(2) // expires_at <= now is expired, as getSession sees it
        expect(await store.deleteExpiredSessions(at(0))).toBe(0)
        expect(await store.getSession(live.token_hash, at(0))).toEqual(live)
        // Gone for good, not only hidden: even a lookup "in the past" finds nothing.
        expect(await store.getSession(expired.token_hash, at(-3 * HOUR))).toBeNull()
        expect(await store.getSession(endsNow.token_hash, at(-3 * HOUR))).toBeNull()
      })

      it('deletes every session of one user, and only theirs', async () => {
        const ada = await store.createUser({ email: 'ada@example.com', password_hash: 'h' })
        const bob = await store.createUser({ email: 'bob@example.com', password_hash: 'h' })
        const now = new Date().toISOString()
        const later = new Date(Date.now() + HOUR).toISOString()
        for (const [name, user] of [['a1', ada], ['a2', ada], ['b1', bob]] as const) {
          await store.createSession({ token_hash: hashToken(name), user_id: user.id, csrf_token: name, created_at: now, expires_at: later })
        }
        expect(await store.deleteUserSessions(ada.id)).toBe(2)
        expect(await store.getSession(hashToken('a1'), now)).toBeNull()
        expect(await store.getSession(hashToken('a2'), now)).toBeNull()
        expect(await store.getSession(hashToken('b1'), now)).not.toBeNull()
        expect(await store.deleteUserSessions(ada.id)).toBe(0)
      })

      it('refuses a session for an unknown user', async () => {
        const now = new Date().toISOString()
        await expectStoreError(store.createSession({ token_hash: 'h', user_id: 'usr_nope', csrf_token: 'c', created_at: now, expires_at: now }), 'not_found')
      })
    })

    describeChannelStoreContract(() => store)
    describeAdminChangeStoreContract(() => store)

    it('closes idempotently and refuses work afterwards', async () => {
      await store.close()
      await store.close()
      await expect(store.listProjects()).rejects.toThrow(/closed/)
    })
  })
}
