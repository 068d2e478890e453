/**
 * Settings → Policy over HTTP: admins set a policy through the admin service (checked whole:
 * a refused document comes back with its errors at their lines and nothing changes), members
 * only read, and forged, cross-project, oversized and hostile posts change nothing. Each test
 * has its own server and project.
 */
import { createHash } from 'node:crypto'
import { describe, expect, it } from '@jest/globals'
import { AdminService } from '../../src/server/admin/admin-service.js'
import { MAX_POLICY_BYTES } from '../../src/server/policies/index.js'
import { ADMIN, MEMBER, dashboardsClosedAfterEach, signedInClient, TWO_SRE_POLICY, type DashboardFixture } from './fixture.js'

const dashboard = dashboardsClosedAfterEach()

const TYPO = `rules:
  - name: production
    match: { action: "deploy-prod*" }
    approvers:
      requried: 2
      members: [alice@example.com, bob@example.com]
`

/** A dashboard whose project has `TWO_SRE_POLICY` as version 1, set by the admin. */
async function dashboardWithPolicy(): Promise<DashboardFixture> {
  const fx = await dashboard()
  await new AdminService(fx.store).setPolicy(fx.project, ADMIN.email, TWO_SRE_POLICY)
  return fx
}

/** Audit events of the project about its policy, as [type, actor, reason]. */
async function policyEvents(fx: DashboardFixture, projectId = fx.project.id): Promise<string[][]> {
  const events = (await fx.store.listAudit(projectId, { limit: 100 })).items
  return events.filter((event) => event.type.startsWith('policy_')).map((event) => [event.type, event.actor, event.reason ?? ''])
}

describe('the policy page', () => {
  it('an admin saves a valid document: a new version, by them, with its hash in the audit trail', async () => {
    const fx = await dashboard()
    const admin = await signedInClient(fx, ADMIN)
    const page = await admin.request('GET', '/settings/policy')
    expect(page.status).toBe(200)
    expect(page.text).toContain('This project has no policy')
    expect(page.text).toContain('<textarea id="policy-source" name="source"')

    const saved = await admin.request('POST', '/settings/policy', { form: { _csrf: await admin.csrf('/settings/policy'), source: TWO_SRE_POLICY } })
    expect(saved.status).toBe(303)
    expect(saved.headers.get('location')).toBe('/settings/policy?notice=policy_saved')
    const current = await fx.store.getPolicy(fx.project.id)
    expect(current).toMatchObject({ version: 1, source: TWO_SRE_POLICY, format: 'yaml', created_by: ADMIN.email })
    const hash = createHash('sha256').update(TWO_SRE_POLICY).digest('hex')
    expect(await policyEvents(fx)).toEqual([['policy_set', ADMIN.email, `version 1, yaml, sha256 ${hash}`]])
    const after = await admin.request('GET', '/settings/policy?notice=policy_saved')
    expect(after.text).toContain('Policy saved as a new version')
    expect(after.text).toContain(hash)
    expect(after.text).toContain('href="/settings/policy/versions/1"')
  })

  it('refuses an invalid document whole: 400, every error at its line, what was typed kept, nothing changed', async () => {
    const fx = await dashboard()
    const admin = await signedInClient(fx, ADMIN)
    const refused = await admin.request('POST', '/settings/policy', { form: { _csrf: await admin.csrf('/settings/policy'), source: TYPO } })
    expect(refused.status).toBe(400)
    expect(refused.text).toContain('The policy was not saved: 2 errors. Nothing was changed.')
    expect(refused.text).toContain('<a href="#policy-line-5">Line 5</a> · <code>rules[0].approvers.requried</code>: unknown field &quot;requried&quot;')
    expect(refused.text).toContain('<li id="policy-line-5" class="policy-line-error"><code>      requried: 2</code><span class="policy-line-message">rules[0].approvers.requried: unknown field')
    expect(refused.text).toContain('<li id="policy-line-4" class="policy-line-error">')
    expect(refused.text).toContain('      requried: 2\n      members: [alice@example.com, bob@example.com]\n</textarea>')
    expect(await fx.store.listPolicyVersions(fx.project.id)).toEqual([])
    expect(await policyEvents(fx)).toEqual([])
  })

  it('members read the policy and its history but cannot change or remove it', async () => {
    const fx = await dashboardWithPolicy()
    const member = await signedInClient(fx, MEMBER)
    const page = await member.request('GET', '/settings/policy')
    expect(page.status).toBe(200)
    expect(page.text).toContain('<pre class="policy-source" aria-label="Policy document">groups:')
    expect(page.text).not.toContain('<textarea')
    expect(page.text).toContain('Only project admins can change the policy.')

    const csrf = await member.csrf('/settings/policy')
    const post = await member.request('POST', '/settings/policy', { form: { _csrf: csrf, source: 'rules: []\n' } })
    expect(post.status).toBe(403)
    expect(post.text).toContain('Admins only')
    expect((await member.request('GET', '/settings/policy/clear')).status).toBe(403)
    expect((await member.request('POST', '/settings/policy/clear', { form: { _csrf: csrf } })).status).toBe(403)
    expect((await fx.store.listPolicyVersions(fx.project.id)).map((version) => version.version)).toEqual([1])
  })

  it('refuses forged posts (no token, a wrong token, another site) with 403 and changes nothing', async () => {
    const fx = await dashboard()
    const admin = await signedInClient(fx, ADMIN)
    const csrf = await admin.csrf('/settings/policy')
    expect((await admin.request('POST', '/settings/policy', { form: { source: TWO_SRE_POLICY } })).status).toBe(403)
    expect((await admin.request('POST', '/settings/policy', { form: { _csrf: `${csrf}x`, source: TWO_SRE_POLICY } })).status).toBe(403)
    expect((await admin.request('POST', '/settings/policy', { form: { _csrf: csrf, source: TWO_SRE_POLICY }, headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(403)
    expect((await admin.request('POST', '/settings/policy', { form: { _csrf: csrf, source: TWO_SRE_POLICY }, headers: { origin: 'https://evil.example.com' } })).status).toBe(403)
    expect(await fx.store.listPolicyVersions(fx.project.id)).toEqual([])
  })

  it("never reads or changes another project's policy, whatever project cookie or version is sent", async () => {
    const fx = await dashboard()
    const other = await fx.store.createProject('other')
    const secret = '# other project only\nrules: []\n'
    await new AdminService(fx.store).setPolicy(other, 'cli', secret)
    const admin = await signedInClient(fx, ADMIN)
    const csrf = await admin.csrf('/settings/policy')
    // A forged project cookie naming a project alice is not in falls back to her own project.
    const response = await fetch(`${fx.url}/settings/policy`, {
      method: 'POST',
      redirect: 'manual',
      headers: { cookie: `${admin.cookieHeader()}; ag_project=${other.id}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: csrf, source: TWO_SRE_POLICY }).toString(),
    })
    expect(response.status).toBe(303)
    expect((await fx.store.getPolicy(other.id))?.source).toBe(secret)
    expect((await fx.store.getPolicy(fx.project.id))?.source).toBe(TWO_SRE_POLICY)
    expect((await fx.store.listPolicyVersions(other.id)).map((version) => version.version)).toEqual([1])

    // Version 1 of main is main's; version 2 exists only in the other project's numbering.
    await new AdminService(fx.store).setPolicy(other, 'cli', `${secret}# v2\n`)
    const missing = await admin.request('GET', '/settings/policy/versions/2')
    expect(missing.status).toBe(404)
    expect(missing.text).toContain('This project has no such policy version.')
    expect(missing.text).not.toContain('other project only')
    expect((await admin.request('GET', '/settings/policy/versions/1')).text).not.toContain('other project only')
    expect((await admin.request('GET', '/settings/policy/versions/..%2F1')).status).toBe(404)
  })

  it('refuses an oversized document with a clear error, and a body over the form limit with 413, changing nothing', async () => {
    const fx = await dashboard()
    const admin = await signedInClient(fx, ADMIN)
    const csrf = await admin.csrf('/settings/policy')
    const big = `${TWO_SRE_POLICY}# ${'x'.repeat(MAX_POLICY_BYTES)}\n`
    const refused = await admin.request('POST', '/settings/policy', { form: { _csrf: csrf, source: big } })
    expect(refused.status).toBe(400)
    expect(refused.text).toContain(`the document is ${Buffer.byteLength(big)} bytes; a policy is at most ${MAX_POLICY_BYTES} bytes`)
    expect(refused.text).not.toContain('x'.repeat(1_000))
    const huge = await admin.request('POST', '/settings/policy', { form: { _csrf: csrf, source: '%'.repeat(MAX_POLICY_BYTES * 2) } })
    expect(huge.status).toBe(413)
    expect(await fx.store.listPolicyVersions(fx.project.id)).toEqual([])
  })

  it('escapes hostile text of a refused document and of stored versions', async () => {
    const fx = await dashboard()
    const admin = await signedInClient(fx, ADMIN)
    const hostile = '# </textarea><script>alert(1)</script>\nrules: [{ name: "<img src=x onerror=alert(1)>", match: { action: x }, colour: red }]\n'
    const refused = await admin.request('POST', '/settings/policy', { form: { _csrf: await admin.csrf('/settings/policy'), source: hostile } })
    expect(refused.status).toBe(400)
    expect(refused.text).not.toContain('<script>alert(1)')
    expect(refused.text).not.toContain('<img src=x')
    expect(refused.text).toContain('&lt;/textarea&gt;&lt;script&gt;')
    await new AdminService(fx.store).setPolicy(fx.project, ADMIN.email, '# <script>alert(2)</script>\nrules: []\n')
    const version = await admin.request('GET', '/settings/policy/versions/1')
    expect(version.text).not.toContain('<script>alert(2)')
    expect(version.text).toContain('&lt;script&gt;alert(2)')
  })

  it('shows each version with the lines changed from the one before', async () => {
    const fx = await dashboard()
    const admin = await signedInClient(fx, ADMIN)
    const service = new AdminService(fx.store)
    await service.setPolicy(fx.project, ADMIN.email, TWO_SRE_POLICY)
    await service.setPolicy(fx.project, ADMIN.email, TWO_SRE_POLICY.replace('required: 2', 'required: 1'))
    const page = await admin.request('GET', '/settings/policy/versions/2')
    expect(page.status).toBe(200)
    expect(page.text).toContain('Changes from version 1')
    expect(page.text).toContain('<span class="diff-removed">-     approvers: { required: 2, groups: [sre] }\n</span><span class="diff-added">+     approvers: { required: 1, groups: [sre] }\n</span>')
    expect(page.text).toContain('<span class="diff-same">  groups:\n</span>')
  })

  it('removing the policy asks first, then records a version and a policy_cleared event', async () => {
    const fx = await dashboardWithPolicy()
    const admin = await signedInClient(fx, ADMIN)
    const confirm = await admin.request('GET', '/settings/policy/clear')
    expect(confirm.status).toBe(200)
    expect(confirm.text).toContain('Remove the approval policy of main?')
    expect(await fx.store.getPolicy(fx.project.id)).not.toBeNull()
    const csrf = /name="_csrf" value="([^"]+)"/.exec(confirm.text)![1]
    const cleared = await admin.request('POST', '/settings/policy/clear', { form: { _csrf: csrf } })
    expect(cleared.headers.get('location')).toBe('/settings/policy?notice=policy_cleared')
    expect(await fx.store.getPolicy(fx.project.id)).toBeNull()
    expect((await policyEvents(fx))[0]).toEqual(['policy_cleared', ADMIN.email, 'version 2: policy removed, any one member approves'])
    const again = await admin.request('POST', '/settings/policy/clear', { form: { _csrf: csrf } })
    expect(again.headers.get('location')).toBe('/settings/policy?notice=no_policy')
  })
})
