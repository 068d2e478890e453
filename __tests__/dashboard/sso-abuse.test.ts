/**
 * Single sign-on abuse over HTTP, against a scripted OpenID provider on loopback (a key pair,
 * discovery document, JWKS and a token endpoint whose ID token each test shapes): a wrong
 * nonce, issuer, audience, an expired token, a signature by another key and `alg: none` are
 * each refused with no session; so are a forged, oversized or missing pre-login cookie, a
 * provider that cannot be reached, and a flood of refused callbacks (429). The real provider
 * (`oidc-provider`) and a real browser are in `sso.browser.test.ts`.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer, type Server } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair, SignJWT, type CryptoKey, type JWTPayload } from 'jose'
import { AdminService } from '../../src/server/admin/admin-service.js'
import { hashPassword } from '../../src/server/auth/secrets.js'
import { dashboardsClosedAfterEach, FormClient, type DashboardFixture } from './fixture.js'

const CLIENT_ID = 'dashboard'
const CLIENT_SECRET = 'scripted provider client secret'

/** What the scripted provider's token endpoint puts in the next ID token (given the nonce the sign-in sent). */
type IdTokenShaper = (nonce: string, issuer: string) => Promise<string>

interface ScriptedProvider {
  issuer: string
  key: CryptoKey
  /** Shapes the ID token of every code exchange from now on. */
  answer(shaper: IdTokenShaper): void
  close(): Promise<void>
}

let provider: ScriptedProvider
let lastNonce = ''

beforeAll(async () => {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const jwk = { ...(await exportJWK(publicKey)), kid: 'k1', alg: 'RS256', use: 'sig' }
  let shaper: IdTokenShaper = () => Promise.reject(new Error('no answer scripted'))
  let issuer = ''
  const server: Server = createServer((request, response) => {
    const path = (request.url ?? '').split('?')[0]
    const json = (status: number, body: unknown) => response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
    if (path === '/.well-known/openid-configuration') {
      return json(200, { issuer, authorization_endpoint: `${issuer}/authorize`, token_endpoint: `${issuer}/token`, jwks_uri: `${issuer}/jwks`, userinfo_endpoint: `${issuer}/userinfo`, response_types_supported: ['code'], subject_types_supported: ['public'], id_token_signing_alg_values_supported: ['RS256'], code_challenge_methods_supported: ['S256'] })
    }
    if (path === '/jwks') return json(200, { keys: [jwk] })
    if (path === '/token' && request.method === 'POST') {
      request.resume()
      request.on('end', () => {
        shaper(lastNonce, issuer).then(
          (idToken) => json(200, { access_token: 'at', token_type: 'Bearer', expires_in: 60, id_token: idToken }),
          (error: Error) => json(400, { error: 'invalid_grant', error_description: error.message }),
        )
      })
      return
    }
    json(404, { error: 'not_found' })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  provider = {
    issuer,
    key: privateKey,
    answer: (next) => (shaper = next),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  }
})
afterAll(async () => {
  await provider?.close()
})

const dashboard = dashboardsClosedAfterEach()
afterEach(() => provider.answer(() => Promise.reject(new Error('no answer scripted'))))

async function ssoDashboard(options: { ipMaxFailures?: number; issuer?: string; passwordLogin?: boolean } = {}): Promise<DashboardFixture> {
  const fx = await dashboard({
    passwordLogin: options.passwordLogin,
    sso: { issuer: options.issuer ?? provider.issuer, clientId: CLIENT_ID, clientSecret: CLIENT_SECRET, providerName: 'Scripted', timeoutMs: 3000 },
    dashboard: options.ipMaxFailures ? { signInLimits: { ipMaxFailures: options.ipMaxFailures } } : undefined,
  })
  const carol = await fx.store.createUser({ email: 'carol@example.com', password_hash: await hashPassword('carol password 123') })
  await fx.store.setMembership(fx.project.id, carol.id, 'member')
  return fx
}

/** A valid ID token for carol, as the scripted provider would sign it; `claims` and `header` override. */
function idToken(claims: JWTPayload = {}, options: { key?: CryptoKey; alg?: string } = {}): IdTokenShaper {
  return async (nonce, issuer) => {
    const now = Math.floor(Date.now() / 1000)
    return new SignJWT({ email: 'carol@example.com', email_verified: true, nonce, ...claims })
      .setProtectedHeader({ alg: options.alg ?? 'RS256', kid: 'k1' })
      .setIssuer(typeof claims.iss === 'string' ? claims.iss : issuer)
      .setAudience((claims.aud as string | undefined) ?? CLIENT_ID)
      .setSubject('carol-at-provider')
      .setIssuedAt(typeof claims.iat === 'number' ? claims.iat : now)
      .setExpirationTime(typeof claims.exp === 'number' ? claims.exp : now + 300)
      .sign(options.key ?? provider.key)
  }
}

/** Starts a sign-in (the pre-login cookie lands in `client`) and returns the callback path the provider would send back. */
async function startSignIn(client: FormClient, next?: string): Promise<string> {
  const started = await client.request('GET', next === undefined ? '/login/sso' : `/login/sso?next=${encodeURIComponent(next)}`)
  expect(started.status).toBe(303)
  const authorize = new URL(started.headers.get('location')!)
  expect(authorize.origin).toBe(provider.issuer)
  expect(authorize.searchParams.get('code_challenge_method')).toBe('S256')
  lastNonce = authorize.searchParams.get('nonce')!
  return `/login/sso/callback?code=the-code&state=${encodeURIComponent(authorize.searchParams.get('state')!)}`
}

async function expectNoSession(client: FormClient): Promise<void> {
  expect((await client.request('GET', '/')).headers.get('location')).toMatch(/^\/login/)
}

describe('single sign-on refusals (scripted provider)', () => {
  it('signs in with a well-formed ID token (so each refusal below is about the one thing changed)', async () => {
    const fx = await ssoDashboard()
    provider.answer(idToken())
    const client = new FormClient(fx.url)
    const callback = await client.request('GET', await startSignIn(client))
    expect(callback.status).toBe(303)
    expect(callback.headers.get('location')).toBe('/')
    expect((await client.request('GET', '/')).text).toContain('carol@example.com')
  })

  it('comes back only to a local path: another origin in `next` becomes /', async () => {
    const fx = await ssoDashboard()
    provider.answer(idToken())
    for (const [next, expected] of [['//evil.example/x', '/'], ['https://evil.example/', '/'], ['/\\evil.example', '/'], ['/approvals/apr_1?x=1', '/approvals/apr_1?x=1']]) {
      const client = new FormClient(fx.url)
      const callback = await client.request('GET', await startSignIn(client, next))
      expect({ next, location: callback.headers.get('location') }).toEqual({ next, location: expected })
    }
  })

  it('refuses a wrong nonce, issuer or audience, an expired token, another key and alg none', async () => {
    const fx = await ssoDashboard()
    const other = (await generateKeyPair('RS256')).privateKey
    const now = Math.floor(Date.now() / 1000)
    const unsigned = async (nonce: string, issuer: string) => {
      const part = (value: unknown) => Buffer.from(JSON.stringify(value)).toString('base64url')
      return `${part({ alg: 'none' })}.${part({ iss: issuer, aud: CLIENT_ID, sub: 'carol-at-provider', nonce, iat: now, exp: now + 300, email: 'carol@example.com', email_verified: true })}.`
    }
    const cases: Array<[string, IdTokenShaper, RegExp]> = [
      ['wrong nonce', idToken({ nonce: 'a nonce from another sign-in' }), /nonce/],
      ['wrong issuer', idToken({ iss: 'https://evil.example' }), /iss/],
      ['wrong audience', idToken({ aud: 'another-client' }), /aud/],
      ['expired', idToken({ iat: now - 3600, exp: now - 1800 }), /exp|timestamp/],
      ['signed by another key', idToken({}, { key: other }), /signature/i],
      ['alg none', unsigned, /alg|signature|JWS/i],
    ]
    for (const [label, shaper, reason] of cases) {
      provider.answer(shaper)
      const client = new FormClient(fx.url)
      const callback = await client.request('GET', await startSignIn(client))
      expect({ label, status: callback.status }).toEqual({ label, status: 400 })
      expect(callback.text).toMatch(/failed verification/)
      expect(callback.text).toMatch(reason)
      expect(callback.headers.getSetCookie().some((line) => line.startsWith('ag_session=') && !/max-age=0/i.test(line))).toBe(false)
      await expectNoSession(client)
    }
  })

  it('refuses a callback with no, a forged, an oversized or another sign-in\'s pre-login cookie, without calling the provider', async () => {
    const fx = await ssoDashboard()
    let exchanges = 0
    provider.answer(async (nonce, issuer) => {
      exchanges++
      return idToken()(nonce, issuer)
    })
    const client = new FormClient(fx.url)
    const path = await startSignIn(client)
    const sealed = /ag_sso=([^;]+)/.exec(client.cookieHeader())![1]
    const flipped = `${sealed.slice(0, 20)}${sealed[20] === 'A' ? 'B' : 'A'}${sealed.slice(21)}`
    const otherServer = await ssoDashboard()
    const foreign = new FormClient(otherServer.url)
    await startSignIn(foreign)
    const foreignSealed = /ag_sso=([^;]+)/.exec(foreign.cookieHeader())![1]
    for (const cookie of ['', `ag_sso=${flipped}`, `ag_sso=${'A'.repeat(5000)}`]) {
      const answer = await new FormClient(fx.url).request('GET', path, { headers: cookie ? { cookie } : {} })
      expect(answer.status).toBe(400)
      expect(answer.text).toContain('not started in this browser')
    }
    // Replicas sharing the client secret open each other's cookies, but another sign-in's state does not match.
    const mixed = await new FormClient(fx.url).request('GET', path, { headers: { cookie: `ag_sso=${foreignSealed}` } })
    expect(mixed.status).toBe(400)
    expect(mixed.text).toContain('state mismatch')
    expect(exchanges).toBe(0)
  })

  it('a provider that cannot be reached answers 502 with a page saying so', async () => {
    const closed = createServer()
    await new Promise<void>((resolve) => closed.listen(0, '127.0.0.1', resolve))
    const deadIssuer = `http://127.0.0.1:${(closed.address() as AddressInfo).port}`
    await new Promise<void>((resolve) => closed.close(() => resolve()))
    const fx = await ssoDashboard({ issuer: deadIssuer })
    const answer = await new FormClient(fx.url).request('GET', '/login/sso')
    expect(answer.status).toBe(502)
    expect(answer.text).toContain('The sign-in provider Scripted could not be reached or is misconfigured')
  })

  it('counts refused callbacks per client address: past the limit, 429 with Retry-After and no session, even for a good token', async () => {
    const fx = await ssoDashboard({ ipMaxFailures: 3 })
    provider.answer(idToken({ nonce: 'wrong' }))
    const client = new FormClient(fx.url)
    for (let i = 0; i < 3; i++) expect((await client.request('GET', await startSignIn(client))).status).toBe(400)
    provider.answer(idToken())
    const limited = await client.request('GET', await startSignIn(client))
    expect(limited.status).toBe(429)
    expect(Number(limited.headers.get('retry-after'))).toBeGreaterThan(0)
    await expectNoSession(client)
  })

  it('with password sign-in off, every password path is refused (403) and changes nothing', async () => {
    const fx = await ssoDashboard({ passwordLogin: false })
    provider.answer(idToken())
    const carol = new FormClient(fx.url)
    expect((await carol.request('GET', await startSignIn(carol))).status).toBe(303)
    const account = await carol.request('GET', '/account')
    expect(account.text).not.toContain('type="password"')
    const changed = await carol.request('POST', '/account/password', { form: { _csrf: await carol.csrf('/account'), current_password: 'carol password 123', new_password: 'a new long password', confirm_password: 'a new long password' } })
    expect(changed.status).toBe(403)
    expect(changed.text).toContain('Password sign-in is turned off')

    const { token } = await new AdminService(fx.store).invite(fx.project, 'cli', { email: 'dave@example.com', role: 'member', githubLogin: '' })
    const visitor = new FormClient(fx.url)
    const invitePage = await visitor.request('GET', `/invite/${token}`)
    expect(invitePage.text).not.toContain('type="password"')
    const csrf = /ag_login_csrf=([^;]+)/.exec(visitor.cookieHeader())![1]
    const created = await visitor.request('POST', `/invite/${token}`, { form: { _csrf: decodeURIComponent(csrf), new_password: 'dave password 42', confirm_password: 'dave password 42' } })
    expect(created.status).toBe(403)
    expect(await fx.store.getUserByEmail('dave@example.com')).toBeNull()
    const existing = await visitor.request('POST', `/invite/${token}`, { form: { _csrf: decodeURIComponent(csrf), password: 'anything at all' } })
    expect(existing.status).toBe(403)
    expect(await new AdminService(fx.store).openInvitation(token)).not.toBeNull()
  })
})
