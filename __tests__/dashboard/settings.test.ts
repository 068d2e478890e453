/**
 * Settings over HTTP (issue #16 item 12): removing a member and revoking a key or an invitation
 * go through a confirmation page (GET) whose CSRF-protected form makes the change (POST); every
 * change made from a list row is answered with a redirect back to the list and a fixed notice,
 * also when it is refused, so the browser never ends on a POST URL. Forged and other projects'
 * ids change nothing. Each test has its own server and project.
 */
import { describe, expect, it } from '@jest/globals'
import { hashPassword } from '../../src/server/auth/secrets.js'
import { ADMIN, FormClient, MEMBER, type DashboardFixture, dashboardsClosedAfterEach, signedInClient } from './fixture.js'

const dashboard = dashboardsClosedAfterEach()
const signedIn = signedInClient

/** The `action` and `_csrf` of the one confirming form on a page. */
function confirmForm(text: string): { action: string; csrf: string } | null {
  const match = /<form method="post" action="([^"]+)" class="confirm-buttons">\s*<input type="hidden" name="_csrf" value="([^"]+)">/.exec(text)
  return match ? { action: match[1], csrf: match[2] } : null
}

/** Follows a redirect's location and returns the page's notices (`role="alert"` or `status`). */
async function noticesAfter(client: FormClient, answer: { status: number; headers: Headers }): Promise<string[]> {
  expect(answer.status).toBe(303)
  const page = await client.request('GET', answer.headers.get('location')!)
  expect(page.status).toBe(200)
  return [...page.text.matchAll(/<div class="notice notice-\w+" role="(?:alert|status)">([^<]*)</g)].map((m) => m[1])
}

/** Another project with its own admin, member, key and open invitation (for cross-project ids). */
async function otherProject(fx: DashboardFixture) {
  const project = await fx.store.createProject('other')
  const owner = await fx.store.createUser({ email: 'olga@example.com', password_hash: await hashPassword('olga password 12') })
  const member = await fx.store.createUser({ email: 'oscar@example.com', password_hash: 'x' })
  await fx.store.setMembership(project.id, owner.id, 'admin')
  await fx.store.setMembership(project.id, member.id, 'member')
  const key = await fx.store.createApiKey({ project_id: project.id, name: 'other-ci', scopes: ['request'], key_hash: 'h'.repeat(64), prefix: 'agk_other' })
  const invitation = await fx.store.createInvitation({
    project_id: project.id,
    email: 'invited@example.com',
    role: 'member',
    github_login: null,
    token_hash: 'i'.repeat(64),
    created_by: 'test',
    expires_at: new Date(Date.now() + 3_600_000).toISOString(),
  })
  return { project, owner, member, key, invitation }
}

async function keyId(fx: DashboardFixture, name: string): Promise<string> {
  return (await fx.store.listApiKeys(fx.project.id)).find((k) => k.name === name)!.id
}

describe('destructive changes ask first (a page, not a script)', () => {
  it('the lists link to confirmation pages instead of posting at once', async () => {
    const fx = await dashboard()
    const admin = await signedIn(fx, ADMIN)
    await admin.request('POST', '/settings/members', { form: { _csrf: await admin.csrf('/settings/members'), email: 'dora@example.com', role: 'member' } })
    const invitation = (await fx.store.listOpenInvitations(fx.project.id))[0]
    const members = (await admin.request('GET', '/settings/members')).text
    expect(members).toContain(`<a class="btn btn-danger" href="/settings/members/${fx.member.id}/remove" aria-label="Remove ${MEMBER.email}">Remove</a>`)
    expect(members).toContain(`<a class="btn btn-danger" href="/settings/invitations/${invitation.id}/revoke"`)
    expect(members).not.toMatch(/<form[^>]+action="[^"]+\/(remove|revoke)"/)
    const keys = (await admin.request('GET', '/settings/keys')).text
    expect(keys).toContain(`<a class="btn btn-danger" href="/settings/keys/${await keyId(fx, 'ci')}/revoke" aria-label="Revoke key ci">Revoke</a>`)
    expect(keys).not.toMatch(/<form[^>]+action="[^"]+\/revoke"/)
  })

  it('removing a member: the confirmation page changes nothing, its CSRF-protected form removes', async () => {
    const fx = await dashboard()
    const admin = await signedIn(fx, ADMIN)
    const path = `/settings/members/${fx.member.id}/remove`
    const page = await admin.request('GET', path)
    expect(page.status).toBe(200)
    expect(page.text).toContain(`Remove ${MEMBER.email} from main?`)
    expect(page.text).toContain('every dashboard session of the account ends')
    expect(page.text).toContain('<a class="btn" href="/settings/members">Cancel</a>')
    expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
    expect(page.text).not.toMatch(/\sstyle=|\son[a-z]+=/)
    const form = confirmForm(page.text)
    expect(form?.action).toBe(path)
    expect(await fx.store.getMembership(fx.project.id, fx.member.id)).toBe('member')

    // The confirming POST needs the session's token, from this site.
    expect((await admin.request('POST', path, { form: {} })).status).toBe(403)
    expect((await admin.request('POST', path, { form: { _csrf: 'x'.repeat(form!.csrf.length) } })).status).toBe(403)
    expect((await admin.request('POST', path, { form: { _csrf: form!.csrf }, headers: { origin: 'http://evil.example' } })).status).toBe(403)
    expect((await admin.request('POST', path, { form: { _csrf: form!.csrf }, headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(403)
    expect(await fx.store.getMembership(fx.project.id, fx.member.id)).toBe('member')

    const done = await admin.request('POST', path, { form: { _csrf: form!.csrf } })
    expect(done.headers.get('location')).toBe('/settings/members?notice=member_removed')
    expect(await noticesAfter(admin, done)).toEqual(['Member removed.'])
    expect(await fx.store.getMembership(fx.project.id, fx.member.id)).toBeNull()
    // Confirming again (a second tab, the back button): a notice on the list, not an error page on the POST URL.
    const again = await admin.request('POST', path, { form: { _csrf: form!.csrf } })
    expect(again.headers.get('location')).toBe('/settings/members?notice=not_a_member')
    expect(await noticesAfter(admin, again)).toEqual(['That person is not a member of this project (any more). Nothing was changed.'])
  })

  it('says "this is you" before an admin removes themselves, and refuses to remove the last admin', async () => {
    const fx = await dashboard()
    const admin = await signedIn(fx, ADMIN)
    const self = `/settings/members/${fx.admin.id}/remove`
    // Alice is the only admin: no confirmation page, the list says why.
    const lastAdmin = await admin.request('GET', self)
    expect(lastAdmin.headers.get('location')).toBe('/settings/members?notice=last_admin_remove')
    const refused = await admin.request('POST', self, { form: { _csrf: await admin.csrf('/settings/members') } })
    expect(refused.headers.get('location')).toBe('/settings/members?notice=last_admin_remove')
    expect(await noticesAfter(admin, refused)).toEqual(['You cannot remove the last admin of a project: make someone else admin first. Nothing was changed.'])
    await fx.store.setMembership(fx.project.id, fx.member.id, 'admin')
    const page = await admin.request('GET', self)
    expect(page.status).toBe(200)
    expect(page.text).toContain('<strong>This is you:</strong> you lose access to this project at once')
  })

  it('revoking a key: confirmation page, CSRF-checked POST, redirect; a key revoked meanwhile is said so', async () => {
    const fx = await dashboard()
    const admin = await signedIn(fx, ADMIN)
    const id = await keyId(fx, 'deployer')
    const path = `/settings/keys/${id}/revoke`
    const page = await admin.request('GET', path)
    expect(page.status).toBe(200)
    expect(page.text).toContain('Revoke API key “deployer”?')
    expect(page.text).toContain('<dt>Last used</dt>')
    const form = confirmForm(page.text)
    expect(form?.action).toBe(path)
    expect((await admin.request('POST', path, { form: { _csrf: 'forged' } })).status).toBe(403)
    expect((await fx.store.listApiKeys(fx.project.id)).find((k) => k.id === id)?.revoked_at).toBeNull()
    const done = await admin.request('POST', path, { form: { _csrf: form!.csrf } })
    expect(done.headers.get('location')).toBe('/settings/keys?notice=key_revoked')
    expect((await fx.store.listApiKeys(fx.project.id)).find((k) => k.id === id)?.revoked_at).not.toBeNull()
    const twice = await admin.request('POST', path, { form: { _csrf: form!.csrf } })
    expect(twice.headers.get('location')).toBe('/settings/keys?notice=key_already_revoked')
    expect((await admin.request('GET', path)).headers.get('location')).toBe('/settings/keys?notice=key_already_revoked')
  })

  it('revoking an invitation: confirmation page, CSRF-checked POST, redirect', async () => {
    const fx = await dashboard()
    const admin = await signedIn(fx, ADMIN)
    await admin.request('POST', '/settings/members', { form: { _csrf: await admin.csrf('/settings/members'), email: 'dora@example.com', role: 'admin' } })
    const invitation = (await fx.store.listOpenInvitations(fx.project.id))[0]
    const path = `/settings/invitations/${invitation.id}/revoke`
    const page = await admin.request('GET', path)
    expect(page.status).toBe(200)
    expect(page.text).toContain('Revoke the invitation for dora@example.com?')
    expect(page.text).toContain('it would have made them an admin')
    const form = confirmForm(page.text)
    expect(form?.action).toBe(path)
    expect((await admin.request('POST', path, { form: {} })).status).toBe(403)
    expect(await fx.store.listOpenInvitations(fx.project.id)).toHaveLength(1)
    const done = await admin.request('POST', path, { form: { _csrf: form!.csrf } })
    expect(done.headers.get('location')).toBe('/settings/members?notice=invitation_revoked')
    expect(await fx.store.listOpenInvitations(fx.project.id)).toHaveLength(0)
    const again = await admin.request('POST', path, { form: { _csrf: form!.csrf } })
    expect(again.headers.get('location')).toBe('/settings/members?notice=no_such_invitation')
    expect((await admin.request('GET', path)).headers.get('location')).toBe('/settings/members?notice=no_such_invitation')
  })

  it('keeps members and signed-out visitors off the confirmation pages', async () => {
    const fx = await dashboard()
    const path = `/settings/members/${fx.admin.id}/remove`
    const anonymous = await new FormClient(fx.url).request('GET', path)
    expect(anonymous.headers.get('location')).toBe(`/login?next=${encodeURIComponent(path)}`)
    const member = await signedIn(fx, MEMBER)
    for (const page of [path, `/settings/keys/${await keyId(fx, 'ci')}/revoke`]) {
      const answer = await member.request('GET', page)
      expect(answer.status).toBe(403)
      expect(answer.text).toContain('Only admins of main can do this.')
      expect((await member.request('POST', page, { form: { _csrf: await member.csrf() } })).status).toBe(403)
    }
    expect(await fx.store.getMembership(fx.project.id, fx.admin.id)).toBe('admin')
    expect((await fx.store.listApiKeys(fx.project.id)).every((k) => k.revoked_at === null)).toBe(true)
  })
})

describe('forged and other projects’ ids change nothing', () => {
  it('answers every confirmation page and every POST with a redirect and a notice', async () => {
    const fx = await dashboard()
    const other = await otherProject(fx)
    const admin = await signedIn(fx, ADMIN)
    const csrf = await admin.csrf('/settings/members')
    const cases: Array<{ path: string; list: string; notice: string; form?: Record<string, string> }> = []
    for (const id of [other.member.id, other.owner.id, 'usr_doesnotexist', '..%2F..%2Fsettings', '%3Cscript%3E']) {
      cases.push({ path: `/settings/members/${id}/remove`, list: '/settings/members', notice: 'not_a_member' })
      cases.push({ path: `/settings/members/${id}/role`, list: '/settings/members', notice: 'not_a_member', form: { role: 'member' } })
      cases.push({ path: `/settings/members/${id}/github`, list: '/settings/members', notice: 'not_a_member', form: { github_login: 'x' } })
    }
    for (const id of [other.key.id, 'key_doesnotexist', '%22%3E']) cases.push({ path: `/settings/keys/${id}/revoke`, list: '/settings/keys', notice: 'no_such_key' })
    for (const id of [other.invitation.id, 'inv_doesnotexist']) cases.push({ path: `/settings/invitations/${id}/revoke`, list: '/settings/members', notice: 'no_such_invitation' })

    for (const { path, list, notice, form } of cases) {
      const location = `${list}?notice=${notice}`
      if (!form) expect([path, (await admin.request('GET', path)).headers.get('location')]).toEqual([path, location])
      const answer = await admin.request('POST', path, { form: { _csrf: csrf, ...form } })
      expect([path, answer.status, answer.headers.get('location')]).toEqual([path, 303, location])
    }
    expect(await fx.store.getMembership(other.project.id, other.member.id)).toBe('member')
    expect(await fx.store.getMembership(other.project.id, other.owner.id)).toBe('admin')
    expect((await fx.store.listApiKeys(other.project.id))[0].revoked_at).toBeNull()
    expect(await fx.store.listOpenInvitations(other.project.id)).toHaveLength(1)
    expect(await fx.store.verifyAudit(other.project.id)).toMatchObject({ ok: true, events: 0 })
  })
})

describe('every row change ends on the list’s URL', () => {
  it('redirects with a notice after a refused role, GitHub login or removal, and after success', async () => {
    const fx = await dashboard()
    const admin = await signedIn(fx, ADMIN)
    const csrf = await admin.csrf('/settings/members')
    const post = (path: string, form: Record<string, string>) => admin.request('POST', path, { form: { _csrf: csrf, ...form } })

    const demoteSelf = await post(`/settings/members/${fx.admin.id}/role`, { role: 'member' })
    expect(demoteSelf.headers.get('location')).toBe('/settings/members?notice=last_admin_role')
    expect(await noticesAfter(admin, demoteSelf)).toEqual(['A project needs at least one admin: make someone else admin first. Nothing was changed.'])
    const badRole = await post(`/settings/members/${fx.member.id}/role`, { role: 'owner' })
    expect(badRole.headers.get('location')).toBe('/settings/members?notice=bad_role')
    const badLogin = await post(`/settings/members/${fx.member.id}/github`, { github_login: '-bad login' })
    expect(badLogin.headers.get('location')).toBe('/settings/members?notice=bad_github_login')
    expect(await noticesAfter(admin, badLogin)).toEqual([expect.stringContaining('A GitHub login has 1–39 letters')])
    expect((await fx.store.listMembers(fx.project.id)).map((m) => [m.email, m.role, m.github_login])).toEqual([
      [ADMIN.email, 'admin', ADMIN.github],
      [MEMBER.email, 'member', null],
    ])

    expect((await post(`/settings/members/${fx.member.id}/github`, { github_login: 'bob-gh' })).headers.get('location')).toBe('/settings/members?notice=github_linked')
    expect((await post(`/settings/members/${fx.member.id}/role`, { role: 'admin' })).headers.get('location')).toBe('/settings/members?notice=role_changed')
    expect((await fx.store.listMembers(fx.project.id)).find((m) => m.id === fx.member.id)).toMatchObject({ role: 'admin', github_login: 'bob-gh' })
  })

  it('answers a refused project setting on /settings itself, where the form posts', async () => {
    const fx = await dashboard()
    const admin = await signedIn(fx, ADMIN)
    const page = await admin.request('GET', '/settings')
    expect(page.text).toContain('<form method="post" action="/settings" class="stack">')
    const csrf = await admin.csrf('/settings')
    const bad = await admin.request('POST', '/settings', { form: { _csrf: csrf, default_expiry: 'soon' } })
    expect(bad.status).toBe(400)
    expect(bad.text).toContain('value="soon"')
    expect(bad.text).toContain('Default expiry: &quot;soon&quot; is not a duration')
    const ok = await admin.request('POST', '/settings', { form: { _csrf: csrf, default_expiry: '2h' } })
    expect(ok.headers.get('location')).toBe('/settings?notice=settings_saved')
    expect((await fx.store.getProject(fx.project.id))?.settings.defaultTimeoutMs).toBe(7_200_000)
    expect((await admin.request('POST', '/settings', { form: { default_expiry: '3h' } })).status).toBe(403)
  })
})
