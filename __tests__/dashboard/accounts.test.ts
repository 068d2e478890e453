/**
 * Accounts and sign-in over HTTP against a real server (issue #10 items 2, 3 and 9, and the
 * admin service of #11): invitations instead of account edits, per-project GitHub logins,
 * the sign-in flood limits, key warnings, and admin changes in the audit trail.
 */
import { describe, expect, it } from '@jest/globals'
import { hashPassword, hashToken } from '../../src/server/auth/secrets.js'
import { HashGate } from '../../src/server/dashboard/rate-limit.js'
import { ADMIN, createViaApi, FormClient, MEMBER, dashboardsClosedAfterEach, signedInClient } from './fixture.js'

const dashboard = dashboardsClosedAfterEach()
const signedIn = signedInClient

/** Posts the invite form; returns the answer and the one-time link in it. */
async function invite(admin: FormClient, email: string, extra: Record<string, string> = {}): Promise<{ status: number; text: string; link: string | null }> {
  const answer = await admin.request('POST', '/settings/members', { form: { _csrf: await admin.csrf('/settings/members'), email, role: 'member', ...extra } })
  const link = /id="invite-link" type="text" readonly value="([^"]+)"/.exec(answer.text)?.[1] ?? null
  return { ...answer, link }
}

/** The page text with what differs per server and invitation (ids, links, times, tokens, URLs) blanked. */
function shape(text: string): string {
  return text
    .replace(/http:\/\/127\.0\.0\.1:\d+/g, 'URL')
    .replace(/(usr|prj|inv|key)_[A-Za-z0-9_-]+/g, 'ID')
    .replace(/\/invite\/[A-Za-z0-9_-]+/g, '/invite/TOKEN')
    // Times differ by the second between the two answers: compare their place, not their value.
    .replace(/<time datetime="[^"]+"[^>]*>.*?<\/time>/g, '<time>T</time>')
    .replace(/name="_csrf" value="[^"]+"/g, 'name="_csrf" value="CSRF"')
}

describe('members are invited, never edited (item 3)', () => {
  it('answers the same for an email with and without an account, and changes no account', async () => {
    // Two servers alike except that on one carol has an account (an admin of another project).
    const withAccount = await dashboard()
    const without = await dashboard()
    const other = await withAccount.store.createProject('other')
    const carol = await withAccount.store.createUser({ email: 'carol@example.com', password_hash: await hashPassword('carol password 1') })
    await withAccount.store.setMembership(other.id, carol.id, 'admin', { github_login: 'carol-gh' })
    const before = await withAccount.store.getUserByEmail('carol@example.com')

    const answers = []
    for (const fx of [withAccount, without]) {
      const admin = await signedIn(fx, ADMIN)
      answers.push(await invite(admin, 'carol@example.com', { github_login: 'someone-else', password: 'ignored password 1' }))
    }
    expect(answers.map((a) => a.status)).toEqual([201, 201])
    expect(shape(answers[0].text)).toBe(shape(answers[1].text))
    expect(answers[0].link).toMatch(new RegExp(`^${withAccount.url}/invite/[A-Za-z0-9_-]{43}$`))
    // Nothing about the existing account changed, and nobody is a member until they accept.
    expect(await withAccount.store.getUserByEmail('carol@example.com')).toEqual(before)
    expect((await withAccount.store.listMembers(other.id))[0].github_login).toBe('carol-gh')
    expect(await withAccount.store.getMembership(withAccount.project.id, carol.id)).toBeNull()
    expect(await without.store.getUserByEmail('carol@example.com')).toBeNull()
    // Only the token's hash is stored; the members page lists open invitations without their links.
    const token = answers[0].link!.split('/invite/')[1]
    expect((await withAccount.store.getInvitationByToken(hashToken(token)))?.email).toBe('carol@example.com')
    const members = await (await signedIn(withAccount, ADMIN)).request('GET', '/settings/members')
    expect(members.text).toContain('Open invitations')
    expect(members.text).not.toContain(token)
  })

  it('a new user accepts by choosing a password, once; the GitHub login is this project’s', async () => {
    const fx = await dashboard()
    const admin = await signedIn(fx, ADMIN)
    const { link } = await invite(admin, 'dave@example.com', { github_login: 'dave-gh' })
    const path = new URL(link!).pathname
    const visitor = new FormClient(fx.url)
    const form = await visitor.request('GET', path)
    expect(form.status).toBe(200)
    expect(form.text).toContain('Create account and join')
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1]
    const short = await visitor.request('POST', path, { form: { _csrf: csrf, new_password: 'short', confirm_password: 'short' } })
    expect(short.status).toBe(400)
    expect(short.text).toContain('at least 12 characters')
    const accepted = await visitor.request('POST', path, { form: { _csrf: csrf, new_password: 'dave password 12', confirm_password: 'dave password 12' } })
    expect(accepted.status).toBe(303)
    expect(accepted.headers.get('location')).toBe('/?notice=invitation_accepted')
    expect((await visitor.request('GET', '/settings')).status).toBe(200) // signed in
    const dave = (await fx.store.listMembers(fx.project.id)).find((m) => m.email === 'dave@example.com')
    expect(dave).toMatchObject({ role: 'member', github_login: 'dave-gh' })

    // Replayed: the same link, by anyone, does nothing more.
    const replay = new FormClient(fx.url)
    expect((await replay.request('GET', path)).status).toBe(404)
    const replayCsrf = await replay.loginCsrf()
    const again = await replay.request('POST', path, { form: { _csrf: replayCsrf, new_password: 'attacker password', confirm_password: 'attacker password' } })
    expect(again.status).toBe(404)
    expect(await new FormClient(fx.url).login('dave@example.com', 'attacker password')).toBe(401)
  })

  it('an existing user accepts by signing in; their password and other projects stay as they were', async () => {
    const fx = await dashboard()
    const other = await fx.store.createProject('other')
    const carol = await fx.store.createUser({ email: 'carol@example.com', password_hash: await hashPassword('carol password 1') })
    await fx.store.setMembership(other.id, carol.id, 'admin', { github_login: 'carol-gh' })
    const admin = await signedIn(fx, ADMIN)
    const { link } = await invite(admin, 'carol@example.com', { github_login: 'carol-main' })
    const path = new URL(link!).pathname
    const visitor = new FormClient(fx.url)
    const form = await visitor.request('GET', path)
    expect(form.text).toContain('Sign in and join')
    const csrf = /name="_csrf" value="([^"]+)"/.exec(form.text)![1]
    expect((await visitor.request('POST', path, { form: { _csrf: csrf, password: 'wrong password 1' } })).status).toBe(401)
    const ok = await visitor.request('POST', path, { form: { _csrf: csrf, password: 'carol password 1' } })
    expect(ok.status).toBe(303)
    expect(await fx.store.getMembership(fx.project.id, carol.id)).toBe('member')
    expect((await fx.store.listProjectsForUser(carol.id)).map((p) => [p.name, p.role, p.github_login])).toEqual([
      ['main', 'member', 'carol-main'],
      ['other', 'admin', 'carol-gh'],
    ])
    expect(await new FormClient(fx.url).login('carol@example.com', 'carol password 1')).toBe(303)
  })

  it('a signed-in user joins with one button, and only as the invited email', async () => {
    const fx = await dashboard()
    const other = await fx.store.createProject('other')
    const otherAdmin = await fx.store.createUser({ email: 'erin@example.com', password_hash: await hashPassword('erin password 12') })
    await fx.store.setMembership(other.id, otherAdmin.id, 'admin')
    const erin = await signedIn(fx, { email: 'erin@example.com', password: 'erin password 12' })
    const { link } = await invite(erin, MEMBER.email) // erin invites bob to "other"
    const path = new URL(link!).pathname
    const admin = await signedIn(fx, ADMIN) // the wrong account
    const wrong = await admin.request('GET', path)
    expect(wrong.text).toContain('You are signed in as alice@example.com')
    expect((await admin.request('POST', path, { form: { _csrf: await admin.csrf() } })).status).toBe(403)
    const bob = await signedIn(fx, MEMBER)
    const page = await bob.request('GET', path)
    expect(page.text).toContain('Join other')
    expect((await bob.request('POST', path, { form: { _csrf: 'forged' } })).status).toBe(403)
    const joined = await bob.request('POST', path, { form: { _csrf: await bob.csrf() } })
    expect(joined.status).toBe(303)
    expect(await fx.store.getMembership(other.id, fx.member.id)).toBe('member')
    expect(await fx.store.getMembership(fx.project.id, fx.member.id)).toBe('member') // unchanged
  })

  it('refuses forged, expired, revoked and other projects’ invitations', async () => {
    const fx = await dashboard()
    const visitor = new FormClient(fx.url)
    for (const token of ['x', 'A'.repeat(43), '../../settings', 'A'.repeat(150)]) {
      const answer = await visitor.request('GET', `/invite/${encodeURIComponent(token)}`)
      expect(answer.status).toBe(404)
    }
    // Expired: made directly with a past expiry and a known token.
    await fx.store.createInvitation({
      project_id: fx.project.id,
      email: 'late@example.com',
      role: 'admin',
      github_login: null,
      token_hash: hashToken('E'.repeat(43)),
      created_by: 'test',
      expires_at: new Date(Date.now() - 1000).toISOString(),
    })
    expect((await visitor.request('GET', `/invite/${'E'.repeat(43)}`)).status).toBe(404)
    const csrf = await visitor.loginCsrf()
    expect((await visitor.request('POST', `/invite/${'E'.repeat(43)}`, { form: { _csrf: csrf, new_password: 'late password 1', confirm_password: 'late password 1' } })).status).toBe(404)
    expect(await fx.store.getUserByEmail('late@example.com')).toBeNull()

    // Revoked by the admin: the link stops working. Another project's admin cannot revoke it.
    const admin = await signedIn(fx, ADMIN)
    const { link } = await invite(admin, 'frank@example.com')
    const invitation = (await fx.store.listOpenInvitations(fx.project.id)).find((i) => i.email === 'frank@example.com')!
    const other = await fx.store.createProject('other')
    const otherAdmin = await fx.store.createUser({ email: 'erin@example.com', password_hash: await hashPassword('erin password 12') })
    await fx.store.setMembership(other.id, otherAdmin.id, 'admin')
    const erin = await signedIn(fx, { email: 'erin@example.com', password: 'erin password 12' })
    expect((await erin.request('POST', `/settings/invitations/${invitation.id}/revoke`, { form: { _csrf: await erin.csrf() } })).headers.get('location')).toBe('/settings/members?notice=no_such_invitation')
    expect((await visitor.request('GET', new URL(link!).pathname)).status).toBe(200)
    const member = await signedIn(fx, MEMBER)
    expect((await member.request('POST', `/settings/invitations/${invitation.id}/revoke`, { form: { _csrf: await member.csrf() } })).status).toBe(403)
    expect((await admin.request('POST', `/settings/invitations/${invitation.id}/revoke`, { form: { _csrf: await admin.csrf() } })).headers.get('location')).toBe('/settings/members?notice=invitation_revoked')
    expect((await visitor.request('GET', new URL(link!).pathname)).status).toBe(404)
    // An existing member of this project is named as such (the members page lists them anyway).
    const already = await invite(admin, MEMBER.email.toUpperCase())
    expect(already.status).toBe(400)
    expect(already.text).toContain('is already a member of this project')
    // A member cannot invite.
    expect((await member.request('POST', '/settings/members', { form: { _csrf: await member.csrf(), email: 'x@example.com', role: 'admin' } })).status).toBe(403)
  })

  it('one project’s admin cannot unlink the GitHub login another project’s self-approval rule reads', async () => {
    const fx = await dashboard()
    await fx.store.updateProjectSettings(fx.project.id, { blockSelfApproval: true })
    // Alice also administers project B, where she clears her own login.
    const b = await fx.store.createProject('b')
    await fx.store.setMembership(b.id, fx.admin.id, 'admin', { github_login: ADMIN.github })
    const alice = await signedIn(fx, ADMIN)
    const csrf = await alice.csrf()
    expect((await alice.request('POST', '/project', { form: { _csrf: csrf, project_id: b.id } })).status).toBe(303)
    expect((await alice.request('POST', `/settings/members/${fx.admin.id}/github`, { form: { _csrf: csrf, github_login: '' } })).status).toBe(303)
    expect((await fx.store.listMembers(b.id))[0].github_login).toBeNull()
    // In project A her run is still hers.
    expect((await alice.request('POST', '/project', { form: { _csrf: csrf, project_id: fx.project.id } })).status).toBe(303)
    const run = await createViaApi(fx.url, fx.keys.request, { action: 'deploy', context: { github: { actor: ADMIN.github } } })
    const refused = await alice.request('POST', `/approvals/${run.id}/decision`, { form: { _csrf: csrf, decision: 'approve' }, headers: { accept: 'application/json' } })
    expect(refused.status).toBe(403)
    expect((await fx.store.getApproval(fx.project.id, run.id))?.status).toBe('pending')
  })
})

describe('sign-in floods (item 9)', () => {
  it('stops one address after its failures, before any password is hashed, whatever the emails', async () => {
    const gate = new HashGate(4)
    const fx = await dashboard({ dashboard: { signInLimits: { ipMaxFailures: 5 }, hashGate: gate } })
    const client = new FormClient(fx.url)
    for (let i = 0; i < 5; i++) expect((await client.postLogin({ email: `nobody${i}@example.com`, password: 'guess guess' })).status).toBe(401)
    // Every hashing slot is now taken: an attempt that reached hashing would say "busy".
    for (let i = 0; i < 4; i++) expect(gate.tryAcquire()).toBe(true)
    try {
      const blocked = await client.postLogin({ email: ADMIN.email, password: ADMIN.password })
      expect(blocked.status).toBe(429)
      expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
      expect(blocked.text).toContain('Too many failed sign-in attempts from your network')
    } finally {
      for (let i = 0; i < 4; i++) gate.release()
    }
  })

  it('answers 429 with Retry-After when every hashing slot is busy, then works again', async () => {
    const gate = new HashGate(1)
    const fx = await dashboard({ dashboard: { hashGate: gate } })
    expect(gate.tryAcquire()).toBe(true)
    const client = new FormClient(fx.url)
    const busy = await client.postLogin({ email: ADMIN.email, password: ADMIN.password })
    expect(busy.status).toBe(429)
    expect(busy.headers.get('retry-after')).toBe('1')
    expect(busy.text).toContain('busy')
    gate.release()
    expect((await client.postLogin({ email: ADMIN.email, password: ADMIN.password })).status).toBe(303)
  })

  it('gives the same answer for an unknown email as for a wrong password', async () => {
    const fx = await dashboard()
    const unknown = await new FormClient(fx.url).postLogin({ email: 'nobody@example.com', password: 'wrong password' })
    const wrong = await new FormClient(fx.url).postLogin({ email: ADMIN.email, password: 'wrong password' })
    expect(unknown.status).toBe(401)
    expect(wrong.status).toBe(401)
    const notice = (text: string) => /<div class="notice[^>]*>([^<]*)</.exec(text)?.[1]
    expect(notice(unknown.text)).toBe(notice(wrong.text))
  })

  it('ignores X-Forwarded-For unless the proxy is trusted', async () => {
    const direct = await dashboard({ dashboard: { signInLimits: { ipMaxFailures: 3 } } })
    const client = new FormClient(direct.url)
    for (let i = 0; i < 3; i++) {
      expect((await client.postLogin({ email: `x${i}@example.com`, password: 'nope nope', ...{} })).status).toBe(401)
    }
    const spoofed = await client.request('POST', '/login', { form: { _csrf: await client.loginCsrf(), email: 'y@example.com', password: 'nope' }, headers: { 'x-forwarded-for': '203.0.113.9' } })
    expect(spoofed.status).toBe(429)

    const proxied = await dashboard({ trustProxy: true, dashboard: { signInLimits: { ipMaxFailures: 3 } } })
    const viaProxy = new FormClient(proxied.url)
    const from = (ip: string) => ({ 'x-forwarded-for': ip })
    for (let i = 0; i < 3; i++) {
      const answer = await viaProxy.request('POST', '/login', { form: { _csrf: await viaProxy.loginCsrf(), email: `x${i}@example.com`, password: 'nope nope' }, headers: from('203.0.113.1') })
      expect(answer.status).toBe(401)
    }
    const sameClient = await viaProxy.request('POST', '/login', { form: { _csrf: await viaProxy.loginCsrf(), email: ADMIN.email, password: ADMIN.password }, headers: from('203.0.113.1') })
    expect(sameClient.status).toBe(429)
    const otherClient = await viaProxy.request('POST', '/login', { form: { _csrf: await viaProxy.loginCsrf(), email: ADMIN.email, password: ADMIN.password }, headers: from('203.0.113.2') })
    expect(otherClient.status).toBe(303)
  })
})

describe('API keys and the audit of admin changes (item 2, #11)', () => {
  it('warns when a dashboard key can both ask and decide', async () => {
    const fx = await dashboard()
    const admin = await signedIn(fx, ADMIN)
    const csrf = await admin.csrf('/settings/keys')
    const plain = await admin.request('POST', '/settings/keys', { form: { _csrf: csrf, name: 'ci', scope: 'request' } })
    expect(plain.status).toBe(201)
    expect(plain.text).not.toContain('could approve its own requests')
    expect(plain.text).not.toContain('can both ask for approvals and decide them')
    const both = await admin.request('POST', '/settings/keys', { form: { _csrf: csrf, name: 'ops', scope: 'admin' } })
    expect(both.status).toBe(201)
    expect(both.text).toContain('This key can both ask for approvals and decide them')
    const bad = await admin.request('POST', '/settings/keys', { form: { _csrf: csrf, name: 'x'.repeat(101), scope: 'request' } })
    expect(bad.status).toBe(400)
    expect((await admin.request('POST', '/settings/keys', { form: { _csrf: csrf, name: 'x', scope: 'root' } })).status).toBe(400)
  })

  it('records every admin change in the project’s audit trail with who made it, and the chain verifies', async () => {
    const fx = await dashboard()
    const admin = await signedIn(fx, ADMIN)
    const csrf = await admin.csrf('/settings/members')
    await invite(admin, 'gina@example.com')
    expect((await admin.request('POST', `/settings/members/${fx.member.id}/github`, { form: { _csrf: csrf, github_login: 'bob-gh' } })).status).toBe(303)
    expect((await admin.request('POST', `/settings/members/${fx.member.id}/role`, { form: { _csrf: csrf, role: 'admin' } })).status).toBe(303)
    expect((await admin.request('POST', `/settings/members/${fx.member.id}/remove`, { form: { _csrf: csrf } })).status).toBe(303)
    const created = await admin.request('POST', '/settings/keys', { form: { _csrf: csrf, name: 'deploy-bot', scope: 'decide' } })
    const keyId = (await fx.store.listApiKeys(fx.project.id)).find((k) => k.name === 'deploy-bot')!.id
    expect(created.status).toBe(201)
    expect((await admin.request('POST', `/settings/keys/${keyId}/revoke`, { form: { _csrf: csrf } })).status).toBe(303)
    expect((await admin.request('POST', '/settings/project', { form: { _csrf: csrf, default_expiry: '2h' } })).status).toBe(303)

    const events = (await fx.store.listAudit(fx.project.id, { limit: 50 })).items.reverse()
    expect(events.map((e) => [e.type, e.action, e.actor, e.approval_id])).toEqual([
      ['invitation_created', 'invitation:gina@example.com', ADMIN.email, ''],
      ['member_changed', `member:${MEMBER.email}`, ADMIN.email, ''],
      ['member_changed', `member:${MEMBER.email}`, ADMIN.email, ''],
      ['member_removed', `member:${MEMBER.email}`, ADMIN.email, ''],
      ['key_created', 'key:deploy-bot', ADMIN.email, ''],
      ['key_revoked', 'key:deploy-bot', ADMIN.email, ''],
      ['settings_changed', 'settings', ADMIN.email, ''],
    ])
    expect(await fx.store.verifyAudit(fx.project.id)).toMatchObject({ ok: true, events: 7 })
    const page = await admin.request('GET', '/audit')
    expect(page.status).toBe(200)
    for (const label of ['Invited', 'Member removed', 'Key created', 'Key revoked', 'Settings changed']) expect(page.text).toContain(`>${label}</span>`)
  })
})
