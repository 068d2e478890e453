/** The dashboard over plain HTTP: sign-in, cookies, security headers, CSRF/cross-site refusals, rate limit, exports. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { ADMIN, createViaApi, decideViaApi, FormClient, MEMBER, startDashboard, type DashboardFixture } from './fixture.js'

let fx: DashboardFixture

beforeAll(async () => {
  fx = await startDashboard()
})
afterAll(async () => {
  await fx?.close()
})

describe('sign in', () => {
  it('redirects anonymous visitors to the sign-in page, keeping where they were going', async () => {
    const client = new FormClient(fx.url)
    const home = await client.request('GET', '/')
    expect(home.status).toBe(303)
    expect(home.headers.get('location')).toBe('/login')
    const deep = await client.request('GET', '/approvals/apr_abc')
    expect(deep.headers.get('location')).toBe('/login?next=%2Fapprovals%2Fapr_abc')
  })

  it('sets an HttpOnly SameSite session cookie for Path=/ and stores only its hash', async () => {
    const anonymous = new FormClient(fx.url)
    const _csrf = await anonymous.loginCsrf()
    const response = await fetch(`${fx.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded', cookie: anonymous.cookieHeader() },
      body: new URLSearchParams({ _csrf, email: ADMIN.email, password: ADMIN.password, next: '/audit' }).toString(),
      redirect: 'manual',
    })
    expect(response.status).toBe(303)
    expect(response.headers.get('location')).toBe('/audit')
    const cookie = response.headers.getSetCookie().find((c) => c.startsWith('ag_session='))
    expect(cookie).toBeDefined()
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Lax/)
    expect(cookie).toMatch(/Path=\//)
    expect(cookie).not.toMatch(/Secure/) // plain http in tests; https publicUrl sets Secure
    const token = decodeURIComponent(cookie!.split(';')[0].split('=')[1])
    const { hashToken } = await import('../../src/server/auth/secrets.js')
    expect(await fx.store.getSession(token, new Date().toISOString())).toBeNull()
    expect(await fx.store.getSession(hashToken(token), new Date().toISOString())).not.toBeNull()
  })

  it('never redirects to another origin after sign-in', async () => {
    const client = new FormClient(fx.url)
    const response = await client.postLogin({ email: ADMIN.email, password: ADMIN.password, next: '//evil.example/' })
    expect(response.headers.get('location')).toBe('/')
  })

  it('refuses a wrong password without saying whether the account exists', async () => {
    const client = new FormClient(fx.url)
    const wrong = await client.postLogin({ email: MEMBER.email, password: 'nope' })
    const unknown = await client.postLogin({ email: 'nobody@example.com', password: 'nope' })
    expect(wrong.status).toBe(401)
    expect(unknown.status).toBe(401)
    expect(wrong.text).toContain('That email and password do not match an account.')
    expect(unknown.text).toContain('That email and password do not match an account.')
    expect(wrong.headers.getSetCookie()).toEqual([])
  })

  it('rate-limits failed sign-ins per address and email with a clear message', async () => {
    const client = new FormClient(fx.url)
    const email = 'ratelimited@example.com'
    for (let i = 0; i < 5; i++) expect((await client.postLogin({ email, password: `guess ${i}` })).status).toBe(401)
    const blocked = await client.postLogin({ email, password: 'guess 6' })
    expect(blocked.status).toBe(429)
    expect(Number(blocked.headers.get('retry-after'))).toBeGreaterThan(0)
    expect(blocked.text).toContain('Too many failed sign-in attempts for this email from your network. Try again in 15 minutes.')
    // Another email from the same address is not locked out.
    expect(await client.login(MEMBER.email, MEMBER.password)).toBe(303)
  })

  it('gives the sign-in form a token in a SameSite=Strict HttpOnly cookie and the same value in the form', async () => {
    const page = await fetch(`${fx.url}/login`)
    const cookie = page.headers.getSetCookie().find((c) => c.startsWith('ag_login_csrf='))
    expect(cookie).toMatch(/HttpOnly/)
    expect(cookie).toMatch(/SameSite=Strict/)
    expect(cookie).toMatch(/Path=\//)
    const cookieValue = cookie!.split(';')[0].split('=')[1]
    expect(cookieValue).toMatch(/^[A-Za-z0-9_-]{32}$/)
    expect(await page.text()).toContain(`name="_csrf" value="${cookieValue}"`)
    // Reloading the form keeps the token, so two open sign-in tabs both work.
    const client = new FormClient(fx.url)
    expect(await client.loginCsrf()).toBe(await client.loginCsrf())
  })

  it('refuses a forged sign-in (no token, wrong token, token without its cookie) with 403 and changes nothing', async () => {
    const email = 'forged-login@example.com'
    const client = new FormClient(fx.url)
    const token = await client.loginCsrf()
    const stranger = new FormClient(fx.url) // has no sign-in cookie
    const attempts = [
      () => client.request('POST', '/login', { form: { email: ADMIN.email, password: ADMIN.password } }),
      () => client.request('POST', '/login', { form: { _csrf: 'x'.repeat(32), email: ADMIN.email, password: ADMIN.password } }),
      () => client.request('POST', '/login', { form: { _csrf: `${token}x`, email: ADMIN.email, password: ADMIN.password } }),
      () => stranger.request('POST', '/login', { form: { _csrf: token, email: ADMIN.email, password: ADMIN.password } }),
      () => stranger.request('POST', '/login', { form: { _csrf: '', email: ADMIN.email, password: ADMIN.password }, headers: { cookie: 'ag_login_csrf=' } }),
    ]
    for (const attempt of attempts) {
      const answer = await attempt()
      expect(answer.status).toBe(403)
      expect(answer.headers.getSetCookie()).toEqual([]) // no session cookie, no new token
      expect(answer.text).toContain('Request refused')
    }
    expect(client.cookieHeader()).not.toContain('ag_session=')
    // Refused posts are not counted as failed attempts: six of them leave the email unlocked.
    for (let i = 0; i < 6; i++) expect((await client.request('POST', '/login', { form: { email, password: `guess ${i}` } })).status).toBe(403)
    expect((await client.postLogin({ email, password: 'still a normal failure' })).status).toBe(401)
  })

  it('signs in with the token and rotates it afterwards', async () => {
    const client = new FormClient(fx.url)
    const before = await client.loginCsrf()
    const answer = await client.request('POST', '/login', { form: { _csrf: before, email: MEMBER.email, password: MEMBER.password } })
    expect(answer.status).toBe(303)
    expect(answer.headers.getSetCookie().some((c) => c.startsWith('ag_session='))).toBe(true)
    expect(answer.headers.getSetCookie().find((c) => c.startsWith('ag_login_csrf='))).toMatch(/Max-Age=0/)
    expect(client.cookieHeader()).not.toContain('ag_login_csrf=')
    // The used token no longer signs anyone in; the next form has a new one.
    const replay = await fetch(`${fx.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/x-www-form-urlencoded' },
      body: new URLSearchParams({ _csrf: before, email: MEMBER.email, password: MEMBER.password }).toString(),
      redirect: 'manual',
    })
    expect(replay.status).toBe(403)
    await client.request('POST', '/logout', { form: { _csrf: await client.csrf() } })
    expect(await client.loginCsrf()).not.toBe(before)
  })

  it('deletes expired sessions when someone signs in', async () => {
    const { hashToken } = await import('../../src/server/auth/secrets.js')
    const longAgo = new Date(Date.now() - 30 * 24 * 3_600_000).toISOString()
    const stale = { token_hash: hashToken('stale session'), user_id: fx.member.id, csrf_token: 'stale', created_at: longAgo, expires_at: new Date(Date.now() - 1000).toISOString() }
    await fx.store.createSession(stale)
    expect(await fx.store.getSession(stale.token_hash, longAgo)).not.toBeNull() // still stored, only refused
    expect(await new FormClient(fx.url).login(ADMIN.email, ADMIN.password)).toBe(303)
    expect(await fx.store.getSession(stale.token_hash, longAgo)).toBeNull()
  })

  it('signs out (with the CSRF token) and the old cookie stops working', async () => {
    const client = new FormClient(fx.url)
    await client.login(MEMBER.email, MEMBER.password)
    const cookieBefore = client.cookieHeader()
    const csrf = await client.csrf()
    const out = await client.request('POST', '/logout', { form: { _csrf: csrf } })
    expect(out.headers.get('location')).toBe('/login?notice=signed_out')
    const replay = await fetch(`${fx.url}/`, { headers: { cookie: cookieBefore }, redirect: 'manual' })
    expect(replay.status).toBe(303)
  })
})

describe('security headers and escaping', () => {
  it('sends a strict CSP and anti-framing headers on pages, and no inline script or style', async () => {
    const client = new FormClient(fx.url)
    await client.login(ADMIN.email, ADMIN.password)
    for (const path of ['/', '/audit', '/settings', '/settings/members', '/settings/keys', '/login']) {
      const page = await client.request('GET', path)
      expect(page.headers.get('content-security-policy')).toBe(
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'",
      )
      expect(page.headers.get('x-frame-options')).toBe('DENY')
      expect(page.headers.get('x-content-type-options')).toBe('nosniff')
      expect(page.headers.get('referrer-policy')).toBe('same-origin')
      expect(page.text).not.toMatch(/<script(?![^>]*\bsrc=)/)
      expect(page.text).not.toMatch(/\sstyle=/)
      expect(page.text).not.toMatch(/\son[a-z]+=/)
    }
  })

  it('escapes hostile context on the server-rendered card', async () => {
    const created = await createViaApi(fx.url, fx.keys.request, {
      action: '<b>deploy</b>',
      agent: '"><script>alert(1)</script>',
      context: { '<img src=x onerror=alert(1)>': '<script>alert(2)</script>', github: { run_url: 'javascript:alert(3)', repository: 'o/r' } },
    })
    const client = new FormClient(fx.url)
    await client.login(ADMIN.email, ADMIN.password)
    const page = await client.request('GET', `/approvals/${created.id}`)
    expect(page.status).toBe(200)
    expect(page.text).toContain('&lt;b&gt;deploy&lt;/b&gt;')
    expect(page.text).toContain('&lt;img src=x onerror=alert(1)&gt;')
    expect(page.text).toContain('&lt;script&gt;alert(2)&lt;/script&gt;')
    expect(page.text).not.toContain('<script>alert')
    expect(page.text).not.toContain('javascript:')
  })

  it('serves the compiled client script and the stylesheet', async () => {
    const script = await fetch(`${fx.url}/assets/live.js`)
    expect(script.status).toBe(200)
    expect(script.headers.get('content-type')).toMatch(/^text\/javascript/)
    expect(await script.text()).toContain('EventSource')
    const css = await fetch(`${fx.url}/assets/dashboard.css`)
    expect(css.headers.get('content-type')).toMatch(/^text\/css/)
    expect((await fetch(`${fx.url}/assets/..%2Fpackage.json`)).status).toBe(404)
  })
})

describe('state changes are refused without the CSRF token or from another site', () => {
  it('refuses a decision without a token, with a wrong token, and from another origin', async () => {
    const created = await createViaApi(fx.url, fx.keys.request, { action: 'csrf_target' })
    const client = new FormClient(fx.url)
    await client.login(MEMBER.email, MEMBER.password)
    const csrf = await client.csrf()
    const path = `/approvals/${created.id}/decision`
    expect((await client.request('POST', path, { form: { decision: 'approve' } })).status).toBe(403)
    expect((await client.request('POST', path, { form: { decision: 'approve', _csrf: 'x'.repeat(csrf.length) } })).status).toBe(403)
    expect((await client.request('POST', path, { form: { decision: 'approve', _csrf: csrf }, headers: { origin: 'http://evil.example' } })).status).toBe(403)
    expect((await client.request('POST', path, { form: { decision: 'approve', _csrf: csrf }, headers: { 'sec-fetch-site': 'cross-site' } })).status).toBe(403)
    expect((await client.request('POST', path, { form: { decision: 'approve', _csrf: csrf }, headers: { 'sec-fetch-site': 'same-site' } })).status).toBe(403)
    expect((await fx.store.getApproval(fx.project.id, created.id))?.status).toBe('pending')
    // With the token, from our own origin, it works.
    const ok = await client.request('POST', path, { form: { decision: 'approve', _csrf: csrf, reason: 'fine' }, headers: { origin: fx.url, 'sec-fetch-site': 'same-origin' } })
    expect(ok.status).toBe(303)
    const after = await fx.store.getApproval(fx.project.id, created.id)
    expect(after).toMatchObject({ status: 'approved', decided_by: MEMBER.email, reason: 'fine' })
  })

  it('leaves /v1 JSON-only: a form body there is still refused', async () => {
    const response = await fetch(`${fx.url}/v1/approvals`, {
      method: 'POST',
      headers: { authorization: `Bearer ${fx.keys.request}`, 'content-type': 'application/x-www-form-urlencoded' },
      body: 'action=x',
    })
    expect(response.status).toBe(415)
  })

  it('keeps members out of admin actions', async () => {
    const client = new FormClient(fx.url)
    await client.login(MEMBER.email, MEMBER.password)
    const csrf = await client.csrf('/settings')
    const add = await client.request('POST', '/settings/members', { form: { _csrf: csrf, email: 'mallory@example.com', password: 'long enough password', role: 'admin' } })
    expect(add.status).toBe(403)
    expect(await fx.store.getUserByEmail('mallory@example.com')).toBeNull()
  })
})

describe('audit export', () => {
  it('needs a session and answers NDJSON and CSV with the filters applied', async () => {
    expect((await fetch(`${fx.url}/audit/export.csv`, { redirect: 'manual' })).status).toBe(303)
    await createViaApi(fx.url, fx.keys.request, { action: '=HYPERLINK("x")', agent: 'exporter' })
    const client = new FormClient(fx.url)
    await client.login(ADMIN.email, ADMIN.password)
    const ndjson = await client.request('GET', '/audit/export.ndjson?agent=exporter')
    expect(ndjson.headers.get('content-type')).toMatch(/^application\/x-ndjson/)
    const lines = ndjson.text.trim().split('\n').map((line) => JSON.parse(line) as { agent: string; type: string })
    expect(lines).toEqual([expect.objectContaining({ agent: 'exporter', type: 'created' })])
    const csv = await client.request('GET', '/audit/export.csv?agent=exporter')
    expect(csv.headers.get('content-disposition')).toBe('attachment; filename="audit-main.csv"')
    expect(csv.text.split('\r\n')[0]).toBe('seq,at,type,approval_id,action,agent,actor,reason,prev_hash,hash')
    expect(csv.text).toContain(`"'=HYPERLINK(""x"")"`)
    expect((await client.request('GET', '/audit/export.csv?from=yesterday')).status).toBe(400)
  })
})

describe('settings and projects', () => {
  it('saves project settings and explains a bad default expiry', async () => {
    const client = new FormClient(fx.url)
    await client.login(ADMIN.email, ADMIN.password)
    const csrf = await client.csrf('/settings')
    const bad = await client.request('POST', '/settings/project', { form: { _csrf: csrf, default_expiry: 'soon' } })
    expect(bad.status).toBe(400)
    expect(bad.text).toContain('Default expiry: &quot;soon&quot; is not a duration')
    const ok = await client.request('POST', '/settings/project', { form: { _csrf: csrf, default_expiry: '2h', block_self_approval: 'on' } })
    expect(ok.headers.get('location')).toBe('/settings?notice=settings_saved')
    expect((await fx.store.getProject(fx.project.id))?.settings).toEqual({ blockSelfApproval: true, defaultTimeoutMs: 7_200_000 })
  })

  it('refuses self-approval with a message that says why', async () => {
    const created = await createViaApi(fx.url, fx.keys.request, { action: 'self', context: { github: { actor: ADMIN.github } } })
    const client = new FormClient(fx.url)
    await client.login(ADMIN.email, ADMIN.password)
    const csrf = await client.csrf()
    const refused = await client.request('POST', `/approvals/${created.id}/decision`, { form: { _csrf: csrf, decision: 'approve' }, headers: { accept: 'application/json' } })
    expect(refused.status).toBe(403)
    expect(JSON.parse(refused.text)).toEqual({ result: 'refused', message: expect.stringContaining('this project blocks self-approval'), html: expect.stringContaining('You cannot vote: you requested this run.') })
    const rejectOwn = await client.request('POST', `/approvals/${created.id}/decision`, { form: { _csrf: csrf, decision: 'reject', reason: 'never mind' }, headers: { accept: 'application/json' } })
    expect(JSON.parse(rejectOwn.text)).toMatchObject({ result: 'refused' }) // the rule covers any decision on one's own run
    const plain = await client.request('POST', `/approvals/${created.id}/decision`, { form: { _csrf: csrf, decision: 'approve' } })
    expect(plain.status).toBe(403)
    expect(plain.text).toContain('You cannot decide this request: the run was triggered by alice-gh')
    expect((await fx.store.getApproval(fx.project.id, created.id))?.status).toBe('pending')
    expect(await decideViaApi(fx.url, fx.keys.decide, created.id, 'reject', 'cleanup')).toBe(200)
    await fx.store.updateProjectSettings(fx.project.id, { blockSelfApproval: false })
  })

  it('keeps at least one admin and manages roles, GitHub logins and removal', async () => {
    const client = new FormClient(fx.url)
    await client.login(ADMIN.email, ADMIN.password)
    const csrf = await client.csrf('/settings/members')
    const demoteSelf = await client.request('POST', `/settings/members/${fx.admin.id}/role`, { form: { _csrf: csrf, role: 'member' } })
    // Refusals redirect back to the list with a notice (issue #16 item 12; more in settings.test.ts).
    expect(demoteSelf.headers.get('location')).toBe('/settings/members?notice=last_admin_role')
    expect((await client.request('GET', demoteSelf.headers.get('location')!)).text).toContain('A project needs at least one admin')
    const link = await client.request('POST', `/settings/members/${fx.member.id}/github`, { form: { _csrf: csrf, github_login: 'bob-gh' } })
    expect(link.status).toBe(303)
    expect((await fx.store.listMembers(fx.project.id)).find((m) => m.id === fx.member.id)?.github_login).toBe('bob-gh')
    const badLogin = await client.request('POST', `/settings/members/${fx.member.id}/github`, { form: { _csrf: csrf, github_login: '-bad login' } })
    expect(badLogin.headers.get('location')).toBe('/settings/members?notice=bad_github_login')
    const outsider = await fx.store.createUser({ email: 'outsider@example.com', password_hash: 'x' })
    expect((await client.request('POST', `/settings/members/${outsider.id}/github`, { form: { _csrf: csrf, github_login: 'x' } })).headers.get('location')).toBe('/settings/members?notice=not_a_member')
    const temp = await fx.store.createUser({ email: 'temp@example.com', password_hash: 'x' })
    await fx.store.setMembership(fx.project.id, temp.id, 'member')
    expect((await client.request('POST', `/settings/members/${temp.id}/role`, { form: { _csrf: csrf, role: 'admin' } })).status).toBe(303)
    expect(await fx.store.getMembership(fx.project.id, temp.id)).toBe('admin')
    expect((await client.request('POST', `/settings/members/${temp.id}/remove`, { form: { _csrf: csrf } })).status).toBe(303)
    expect(await fx.store.getMembership(fx.project.id, temp.id)).toBeNull()
  })

  it('switches between the projects a member belongs to, and only those', async () => {
    const second = await fx.store.createProject('second')
    const stranger = await fx.store.createProject('stranger')
    await fx.store.setMembership(second.id, fx.member.id, 'member')
    const client = new FormClient(fx.url)
    await client.login(MEMBER.email, MEMBER.password)
    const home = await client.request('GET', '/')
    expect(home.text).toContain('<select id="project-select" name="project_id">')
    const csrf = await client.csrf()
    const switched = await client.request('POST', '/project', { form: { _csrf: csrf, project_id: second.id } })
    expect(switched.headers.get('location')).toBe('/?notice=project_switched')
    expect((await client.request('GET', '/settings')).text).toContain(`<code>${second.id}</code>`)
    expect((await client.request('POST', '/project', { form: { _csrf: csrf, project_id: stranger.id } })).status).toBe(404)
    // A forged project cookie is ignored: the first membership is used instead.
    const forged = await fetch(`${fx.url}/settings`, { headers: { cookie: `${client.cookieHeader()}; ag_project=${stranger.id}` } })
    expect(await forged.text()).not.toContain(stranger.id)
  })
})

describe('the live event stream', () => {
  it('needs a session, streams rendered cards, and does not hold up shutdown', async () => {
    const own = await startDashboard()
    try {
      expect((await fetch(`${own.url}/events`)).status).toBe(401)
      const client = new FormClient(own.url)
      await client.login(MEMBER.email, MEMBER.password)
      const other = await own.store.createProject('other')
      expect((await fetch(`${own.url}/events?project=${other.id}`, { headers: { cookie: client.cookieHeader() } })).status).toBe(404)

      const controller = new AbortController()
      const response = await fetch(`${own.url}/events?project=${own.project.id}`, { headers: { cookie: client.cookieHeader() }, signal: controller.signal })
      expect(response.status).toBe(200)
      expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
      expect(response.headers.get('content-security-policy')).toContain("default-src 'none'")
      const reader = response.body!.getReader()
      const decoder = new TextDecoder()
      let received = ''
      const readUntil = async (needle: string) => {
        while (!received.includes(needle)) {
          const { value, done } = await reader.read()
          if (done) throw new Error(`stream ended before ${needle}`)
          received += decoder.decode(value, { stream: true })
        }
      }
      await readUntil('retry:')
      const created = await createViaApi(own.url, own.keys.request, { action: 'streamed', context: { x: '<b>' } })
      await readUntil(created.id)
      const dataLine = received.split('\n').find((line) => line.startsWith('data: '))!
      const message = JSON.parse(dataLine.slice(6)) as { type: string; id: string; pending: number; html: string }
      expect(message).toMatchObject({ type: 'created', id: created.id, pending: 1 })
      expect(message.html).toContain('&lt;b&gt;')
      expect(message.html).toContain('name="_csrf"')
      // Closing the server ends open streams instead of waiting for them.
      await own.close()
      await expect(readUntil('never')).rejects.toThrow()
      controller.abort()
    } finally {
      await own.close()
    }
  })
})
