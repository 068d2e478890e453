/**
 * The admin-change part of the store contract, registered by `describeStoreContract` so both
 * backends run it: a mutation given an `audit` builder writes its change and that event in one
 * transaction — both or neither — in the change's own project, and no event when nothing changed.
 */
import { describe, expect, it } from '@jest/globals'
import { hashToken } from '../../src/server/auth/secrets.js'
import type { AdminAudit, AdminChange, AdminEventType, AuditEvent, NewChannel, Project, Store } from '../../src/server/store/types.js'
import { expectStoreError } from './store-errors.js'

const DAY = 24 * 3_600_000

/** An audit builder that makes `type` events and counts how often the store asked for one. */
function auditOf<R>(type: AdminEventType, detail: (result: R) => string | null = () => null): AdminAudit<R> & { calls: number } {
  const audit = Object.assign(
    (result: R): AdminChange => {
      audit.calls++
      return { type, subject: `subject:${type}`, actor: 'ada@example.com', detail: detail(result), at: new Date().toISOString() }
    },
    { calls: 0 },
  )
  return audit
}

function keyInput(project: Project, secret: string) {
  return { project_id: project.id, name: `key-${secret}`, scopes: ['request' as const], key_hash: hashToken(secret), prefix: secret.slice(0, 6) }
}

function webhook(project: Project, name = 'ops-hook'): NewChannel {
  return {
    project_id: project.id,
    kind: 'webhook',
    name,
    config: { url: 'https://hooks.example.com/in' },
    events: ['approval.created'],
    remind_after_ms: null,
    escalate_after_ms: null,
    escalate_to: null,
    secret: null,
  }
}

export function describeAdminChangeStoreContract(store: () => Store): void {
  describe('admin changes and their audit events, in one transaction', () => {
    /** Every event of the project, oldest first. */
    async function eventsOf(project: Project): Promise<AuditEvent[]> {
      const events: AuditEvent[] = []
      for await (const event of store().exportAudit(project.id)) events.push(event)
      return events
    }

    it('creates a key with its event, built from the new key, in the key’s project only; the chain verifies', async () => {
      const web = await store().createProject('web')
      const other = await store().createProject('other')
      const audit = auditOf<{ id: string }>('key_created', (key) => key.id)
      const key = await store().createApiKey(keyInput(web, 'agk_first'), audit)
      expect(await store().listApiKeys(web.id)).toEqual([key])
      const [event] = await eventsOf(web)
      expect(await eventsOf(web)).toHaveLength(1)
      expect(event).toMatchObject({ seq: 1, type: 'key_created', approval_id: '', action: 'subject:key_created', actor: 'ada@example.com', reason: key.id })
      expect(await store().verifyAudit(web.id)).toMatchObject({ ok: true, events: 1 })

      // A builder naming another project cannot put the event in that project's chain.
      const forged = (() => ({ ...audit(key), project_id: other.id })) as AdminAudit<unknown>
      const second = await store().createApiKey(keyInput(web, 'agk_second'), forged)
      expect((await eventsOf(web)).map((e) => e.type)).toEqual(['key_created', 'key_created'])
      expect(await eventsOf(other)).toEqual([])
      expect(await store().listApiKeys(other.id)).toEqual([])
      expect((await store().listApiKeys(web.id)).map((k) => k.id)).toEqual([key.id, second.id])
    })

    it('writes neither the key nor an event when the key is refused (reused hash, unknown project)', async () => {
      const web = await store().createProject('web')
      await store().createApiKey(keyInput(web, 'agk_taken'), auditOf('key_created'))
      const refused = auditOf('key_created')
      await expectStoreError(store().createApiKey({ ...keyInput(web, 'agk_taken'), name: 'again' }, refused), 'conflict')
      await expectStoreError(store().createApiKey(keyInput({ ...web, id: 'prj_nope' }, 'agk_nowhere'), refused), 'not_found')
      expect((await store().listApiKeys(web.id)).map((k) => k.name)).toEqual(['key-agk_taken'])
      expect(await eventsOf(web)).toHaveLength(1)
      expect(await store().verifyAudit(web.id)).toMatchObject({ ok: true, events: 1 })
    })

    it('keeps no change whose event cannot be written (a bad time, a builder that throws)', async () => {
      const web = await store().createProject('web')
      const badTime: AdminAudit<unknown> = () => ({ type: 'key_created', subject: 'key:x', actor: 'cli', detail: null, at: 'yesterday' })
      await expectStoreError(store().createApiKey(keyInput(web, 'agk_badtime'), badTime), 'invalid')
      const throwing: AdminAudit<unknown> = () => {
        throw new Error('no event today')
      }
      await expect(store().createChannel(webhook(web), throwing)).rejects.toThrow('no event today')
      await expect(store().updateProjectSettings(web.id, { blockSelfApproval: true }, throwing)).rejects.toThrow('no event today')
      expect(await store().listApiKeys(web.id)).toEqual([])
      expect(await store().findApiKey(hashToken('agk_badtime'))).toBeNull()
      expect(await store().listChannels(web.id)).toEqual([])
      expect((await store().getProject(web.id))?.settings.blockSelfApproval).toBe(false)
      expect(await eventsOf(web)).toEqual([])
    })

    it('revokes a key with one event; revoking it again or an unknown key records nothing', async () => {
      const web = await store().createProject('web')
      const key = await store().createApiKey(keyInput(web, 'agk_revoke'))
      const audit = auditOf('key_revoked')
      expect(await store().revokeApiKey(web.id, key.id, audit)).toBe(true)
      expect(await store().revokeApiKey(web.id, key.id, audit)).toBe(true)
      expect(await store().revokeApiKey(web.id, 'key_nope', audit)).toBe(false)
      expect(audit.calls).toBe(1)
      expect((await eventsOf(web)).map((e) => e.type)).toEqual(['key_revoked'])
    })

    it('adds and changes a member with an event each; a refused or empty change records nothing', async () => {
      const web = await store().createProject('web')
      const ada = await store().createUser({ email: 'ada@example.com', password_hash: 'h' })
      await store().setMembership(web.id, ada.id, 'member', {}, auditOf('member_added', () => 'role member'))
      await store().setMembership(web.id, ada.id, 'admin', {}, auditOf('member_changed', () => 'role admin'))
      expect(await store().getMembership(web.id, ada.id)).toBe('admin')
      expect((await eventsOf(web)).map((e) => [e.type, e.reason])).toEqual([
        ['member_added', 'role member'],
        ['member_changed', 'role admin'],
      ])

      const nothing = auditOf('member_changed')
      await expectStoreError(store().setMembership(web.id, 'usr_nope', 'admin', {}, nothing), 'not_found')
      await expectStoreError(store().setMembership(web.id, ada.id, 'owner' as 'admin', {}, nothing), 'invalid')
      expect(await store().setMemberGithubLogin(web.id, 'usr_nope', 'ghost', nothing)).toBe(false)
      expect(await store().setMemberSlackUser(web.id, 'usr_nope', 'U0GHOST', nothing)).toBe(false)
      expect(await store().removeMembership(web.id, 'usr_nope', nothing)).toBe(false)
      expect(nothing.calls).toBe(0)
      expect(await store().getMembership(web.id, ada.id)).toBe('admin')

      expect(await store().removeMembership(web.id, ada.id, auditOf('member_removed'))).toBe(true)
      expect((await eventsOf(web)).map((e) => e.type)).toEqual(['member_added', 'member_changed', 'member_removed'])
      expect(await store().verifyAudit(web.id)).toMatchObject({ ok: true, events: 3 })
    })

    it('records an accepted invitation in the invitation’s project, once', async () => {
      const web = await store().createProject('web')
      const tokenHash = hashToken('accept-me')
      const expires = new Date(Date.now() + DAY).toISOString()
      const invitation = await store().createInvitation(
        { project_id: web.id, email: 'new@example.com', role: 'member', github_login: null, token_hash: tokenHash, created_by: 'cli', expires_at: expires },
        auditOf('invitation_created', (created) => created.id),
      )
      const audit = auditOf<{ user: { email: string } }>('member_added', (accepted) => accepted.user.email)
      const accepted = await store().acceptInvitation(tokenHash, { new_password_hash: 'x' }, new Date().toISOString(), audit)
      expect(accepted?.user.email).toBe('new@example.com')
      expect(await store().acceptInvitation(tokenHash, { new_password_hash: 'x' }, new Date().toISOString(), audit)).toBeNull()
      expect(await store().acceptInvitation(hashToken('unknown'), { new_password_hash: 'x' }, new Date().toISOString(), audit)).toBeNull()
      expect(audit.calls).toBe(1)
      expect((await eventsOf(web)).map((e) => [e.type, e.reason])).toEqual([
        ['invitation_created', invitation.id],
        ['member_added', 'new@example.com'],
      ])
      expect(await store().listMembers(web.id)).toHaveLength(1)
    })

    it('adds and removes a channel with its events; a duplicate name or an unknown channel records nothing, and no delivery announces them', async () => {
      const web = await store().createProject('web')
      const channel = await store().createChannel(webhook(web), auditOf('channel_added', (added) => added.id))
      await expectStoreError(store().createChannel(webhook(web), auditOf('channel_added')), 'conflict')
      expect(await store().removeChannel(web.id, 'chn_nope', auditOf('channel_removed'))).toBe(false)
      expect((await eventsOf(web)).map((e) => [e.type, e.reason])).toEqual([['channel_added', channel.id]])
      expect(await store().materializeDeliveries(new Date().toISOString())).toBe(0)
      expect(await store().removeChannel(web.id, channel.id, auditOf('channel_removed'))).toBe(true)
      expect((await eventsOf(web)).map((e) => e.type)).toEqual(['channel_added', 'channel_removed'])
      expect(await store().verifyAudit(web.id)).toMatchObject({ ok: true, events: 2 })
    })

    it('maps and unmaps a GitHub repository with its events; a conflicting or unknown mapping records nothing', async () => {
      const web = await store().createProject('web')
      const other = await store().createProject('other')
      const mapping = await store().createGithubMapping({ project_id: web.id, repository: 'acme/web' }, auditOf('github_mapped', (m) => m.id))
      await expectStoreError(store().createGithubMapping({ project_id: other.id, repository: 'Acme/Web' }, auditOf('github_mapped')), 'conflict')
      expect(await store().removeGithubMapping(other.id, mapping.id, auditOf('github_unmapped'))).toBeNull()
      expect(await eventsOf(other)).toEqual([])
      expect((await store().removeGithubMapping(web.id, mapping.id, auditOf('github_unmapped', (m) => m.id)))?.id).toBe(mapping.id)
      expect((await eventsOf(web)).map((e) => [e.type, e.reason])).toEqual([
        ['github_mapped', mapping.id],
        ['github_unmapped', mapping.id],
      ])
    })

    it('adds and removes a trust rule and changes settings with their events', async () => {
      const web = await store().createProject('web')
      const rule = await store().createTrustRule({ project_id: web.id, issuer: 'https://token.actions.githubusercontent.com', audience: 'approval-gate', repository: 'acme/web' }, auditOf('trust_rule_added', (r) => r.id))
      await expectStoreError(store().createTrustRule({ project_id: web.id, issuer: '', audience: 'a', repository: 'acme/web' }, auditOf('trust_rule_added')), 'invalid')
      expect(await store().removeTrustRule(web.id, rule.id, auditOf('trust_rule_removed'))).toBe(true)
      expect(await store().removeTrustRule(web.id, rule.id, auditOf('trust_rule_removed'))).toBe(false)
      await store().updateProjectSettings(web.id, { blockSelfApproval: true }, auditOf('settings_changed', (p) => String(p.settings.blockSelfApproval)))
      await expectStoreError(store().updateProjectSettings(web.id, { defaultTimeoutMs: -1 }, auditOf('settings_changed')), 'invalid')
      expect((await eventsOf(web)).map((e) => [e.type, e.reason])).toEqual([
        ['trust_rule_added', rule.id],
        ['trust_rule_removed', null],
        ['settings_changed', 'true'],
      ])
    })

    it('numbers concurrent admin changes’ events without gaps, one per change', async () => {
      const web = await store().createProject('web')
      const keys = await Promise.all(Array.from({ length: 16 }, (_, i) => store().createApiKey(keyInput(web, `agk_concurrent_${i}`), auditOf('key_created', (k) => k.id))))
      const events = await eventsOf(web)
      expect(events.map((e) => e.seq)).toEqual(Array.from({ length: 16 }, (_, i) => i + 1))
      expect(events.map((e) => e.reason).sort()).toEqual(keys.map((k) => k.id).sort())
      expect(await store().verifyAudit(web.id)).toMatchObject({ ok: true, events: 16 })
    })
  })
}
