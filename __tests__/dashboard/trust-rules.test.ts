/**
 * Settings → Trust rules over HTTP: an admin adds a rule (the same validation as `trust add`,
 * through the admin service, recorded on the audit chain) and a workflow's verified token is
 * accepted at once; removing it refuses the token at once. A member, a forged CSRF token and
 * another project's admin change nothing; bad input is refused naming the field.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { hashPassword } from '../../src/server/auth/secrets.js'
import type { AuditEvent } from '../../src/server/store/types.js'
import { TestIssuer } from '../helpers/oidc-issuer.js'
import { ADMIN, MEMBER, dashboardsClosedAfterEach, signedInClient, type DashboardFixture } from './fixture.js'

const dashboard = dashboardsClosedAfterEach()
let issuer: TestIssuer
beforeAll(async () => {
  issuer = await TestIssuer.start()
})
afterAll(async () => {
  await issuer?.close()
})

/** POST /v1/approvals with a workflow's OIDC token (audience: the server). */
async function requestWithToken(fx: DashboardFixture): Promise<number> {
  const token = await issuer.mint({}, { audience: fx.url })
  const response = await fetch(`${fx.url}/v1/approvals`, { method: 'POST', headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' }, body: JSON.stringify({ action: 'deploy' }) })
  await response.text()
  return response.status
}

async function auditEvents(fx: DashboardFixture, projectId = fx.project.id): Promise<AuditEvent[]> {
  const events: AuditEvent[] = []
  for await (const event of fx.store.exportAudit(projectId)) events.push(event)
  return events
}

function ruleForm(fx: DashboardFixture, overrides: Record<string, string> = {}): Record<string, string> {
  return { issuer: issuer.url, audience: fx.url, repository: 'acme/web', ref: 'refs/heads/main', environment: '', workflow_ref: '', ...overrides }
}

describe('trust rules page', () => {
  it('an admin adds a rule (a workflow is accepted at once) and removes it (refused at once), both on the audit chain', async () => {
    const fx = await dashboard()
    expect(await requestWithToken(fx)).toBe(401)
    const admin = await signedInClient(fx, ADMIN)
    const added = await admin.request('POST', '/settings/trust', { form: { _csrf: await admin.csrf('/settings/trust'), ...ruleForm(fx) } })
    expect(added.status).toBe(201)
    expect(added.text).toContain('Trust rule added')
    const [rule] = await fx.store.listTrustRules(fx.project.id)
    expect(rule).toMatchObject({ issuer: issuer.url, audience: fx.url, repository: 'acme/web', ref: 'refs/heads/main', environment: null, workflow_ref: null })
    expect((await auditEvents(fx)).at(-1)).toMatchObject({ type: 'trust_rule_added', actor: ADMIN.email, action: `trust:${rule.id}`, reason: expect.stringContaining('repository acme/web, ref refs/heads/main') })
    expect(await requestWithToken(fx)).toBe(201)

    const listed = await admin.request('GET', '/settings/trust')
    expect(listed.text).toContain('acme/web')
    const confirm = await admin.request('GET', `/settings/trust/${rule.id}/remove`)
    expect(confirm.status).toBe(200)
    const csrf = /name="_csrf" value="([^"]+)"/.exec(confirm.text)![1]
    const removed = await admin.request('POST', `/settings/trust/${rule.id}/remove`, { form: { _csrf: csrf } })
    expect(removed.status).toBe(303)
    expect(removed.headers.get('location')).toBe('/settings/trust?notice=trust_rule_removed')
    expect(await fx.store.listTrustRules(fx.project.id)).toEqual([])
    expect(await requestWithToken(fx)).toBe(401)
    expect((await auditEvents(fx)).at(-1)).toMatchObject({ type: 'trust_rule_removed', actor: ADMIN.email, action: `trust:${rule.id}` })
    expect(await fx.store.verifyAudit(fx.project.id)).toMatchObject({ ok: true })
  })

  it('refuses bad input naming the field, keeps what was typed, and creates nothing', async () => {
    const fx = await dashboard()
    const admin = await signedInClient(fx, ADMIN)
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ repository: 'acme' }, /Repository is required, as owner\/repo/],
      [{ audience: '  ' }, /Audience is required/],
      [{ issuer: 'http://issuer.example.com' }, /Issuer must use https \(plain http only to this machine\)/],
      [{ issuer: 'not a url' }, /Issuer is not a URL/],
      [{ ref: 'refs/heads/has space' }, /ref must be 1-500 characters without spaces/],
      [{ environment: 'x'.repeat(501) }, /environment must be 1-500 characters/],
    ]
    for (const [overrides, message] of cases) {
      const answer = await admin.request('POST', '/settings/trust', { form: { _csrf: await admin.csrf('/settings/trust'), ...ruleForm(fx, overrides) } })
      expect(answer.status).toBe(400)
      expect(answer.text).toMatch(message)
      expect(answer.text).toContain('Nothing was changed')
    }
    const kept = await admin.request('POST', '/settings/trust', { form: { _csrf: await admin.csrf('/settings/trust'), ...ruleForm(fx, { repository: 'acme', environment: 'prod<script>' }) } })
    expect(kept.text).toContain('value="prod&lt;script&gt;"')
    expect(await fx.store.listTrustRules(fx.project.id)).toEqual([])
    expect((await auditEvents(fx)).some((e) => e.type === 'trust_rule_added')).toBe(false)
  })

  it('a member can neither see nor change trust rules (403), and nothing changes', async () => {
    const fx = await dashboard()
    const rule = await fx.store.createTrustRule({ project_id: fx.project.id, issuer: issuer.url, audience: fx.url, repository: 'acme/web' })
    const member = await signedInClient(fx, MEMBER)
    expect((await member.request('GET', '/settings/trust')).status).toBe(403)
    const csrf = await member.csrf('/')
    expect((await member.request('POST', '/settings/trust', { form: { _csrf: csrf, ...ruleForm(fx, { repository: 'mallory/evil' }) } })).status).toBe(403)
    expect((await member.request('GET', `/settings/trust/${rule.id}/remove`)).status).toBe(403)
    expect((await member.request('POST', `/settings/trust/${rule.id}/remove`, { form: { _csrf: csrf } })).status).toBe(403)
    expect(await fx.store.listTrustRules(fx.project.id)).toEqual([rule])
  })

  it('refuses a forged or missing CSRF token and a cross-site post (403), and nothing changes', async () => {
    const fx = await dashboard()
    const rule = await fx.store.createTrustRule({ project_id: fx.project.id, issuer: issuer.url, audience: fx.url, repository: 'acme/web' })
    const admin = await signedInClient(fx, ADMIN)
    for (const _csrf of ['', 'forged-token-0123456789']) {
      expect((await admin.request('POST', '/settings/trust', { form: { _csrf, ...ruleForm(fx, { repository: 'mallory/evil' }) } })).status).toBe(403)
      expect((await admin.request('POST', `/settings/trust/${rule.id}/remove`, { form: { _csrf } })).status).toBe(403)
    }
    const csrf = await admin.csrf('/settings/trust')
    const crossSite = await admin.request('POST', '/settings/trust', { form: { _csrf: csrf, ...ruleForm(fx, { repository: 'mallory/evil' }) }, headers: { origin: 'https://evil.example', 'sec-fetch-site': 'cross-site' } })
    expect(crossSite.status).toBe(403)
    expect(await fx.store.listTrustRules(fx.project.id)).toEqual([rule])
  })

  it("another project's admin cannot see or remove this project's rules", async () => {
    const fx = await dashboard()
    const rule = await fx.store.createTrustRule({ project_id: fx.project.id, issuer: issuer.url, audience: fx.url, repository: 'secret-org/payroll' })
    const other = await fx.store.createProject('other')
    const olga = await fx.store.createUser({ email: 'olga@example.com', password_hash: await hashPassword('olga password 12') })
    await fx.store.setMembership(other.id, olga.id, 'admin')
    const client = await signedInClient(fx, { email: 'olga@example.com', password: 'olga password 12' })
    expect((await client.request('GET', '/settings/trust')).text).not.toContain('secret-org/payroll')
    expect((await client.request('GET', `/settings/trust/${rule.id}/remove`)).headers.get('location')).toBe('/settings/trust?notice=no_such_trust_rule')
    const removed = await client.request('POST', `/settings/trust/${rule.id}/remove`, { form: { _csrf: await client.csrf('/settings/trust') } })
    expect(removed.headers.get('location')).toBe('/settings/trust?notice=no_such_trust_rule')
    expect(await fx.store.listTrustRules(fx.project.id)).toEqual([rule])
    // A rule the other admin adds lands in their own project only.
    await client.request('POST', '/settings/trust', { form: { _csrf: await client.csrf('/settings/trust'), ...ruleForm(fx, { repository: 'olga/site' }) } })
    expect((await fx.store.listTrustRules(other.id)).map((r) => r.repository)).toEqual(['olga/site'])
    expect(await fx.store.listTrustRules(fx.project.id)).toEqual([rule])
  })
})
