/**
 * A real OpenID Connect provider for single sign-on tests: `oidc-provider` (a certified
 * implementation) on a loopback port, with one confidential client and people chosen per
 * test. Its development sign-in page accepts any login name with any password; the login
 * name picks the person (`people`), whose claims the provider releases for the `email` scope.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, generateKeyPair } from 'jose'
import Provider from 'oidc-provider'
import type { Page } from 'playwright-core'

export interface ProviderPerson {
  email: string
  email_verified: boolean | string
}

export interface OpenIdProvider {
  issuer: string
  clientId: string
  clientSecret: string
  /** Starts answering, with the relying party's callback registered (known once the dashboard listens). */
  register(redirectUri: string): Promise<void>
  close(): Promise<void>
}

export const CLIENT_ID = 'approval-gate-dashboard'
export const CLIENT_SECRET = 'a client secret of the test provider, long enough'

/** Starts the provider; `people` maps a login name to the claims it signs in with. */
export async function startOpenIdProvider(people: Record<string, ProviderPerson>): Promise<OpenIdProvider> {
  let handle: ((request: IncomingMessage, response: ServerResponse) => void) | null = null
  const server: Server = createServer((request, response) => {
    if (handle) return handle(request, response)
    response.writeHead(503).end()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  const issuer = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const { privateKey } = await generateKeyPair('RS256', { extractable: true })
  const key = { ...(await exportJWK(privateKey)), kid: 'test-key', alg: 'RS256', use: 'sig' }
  const start = (redirectUri: string) => new Provider(issuer, {
    clients: [{ client_id: CLIENT_ID, client_secret: CLIENT_SECRET, redirect_uris: [redirectUri], grant_types: ['authorization_code'], response_types: ['code'], token_endpoint_auth_method: 'client_secret_basic' }],
    jwks: { keys: [key] },
    cookies: { keys: ['oidc-provider test cookie key'] },
    claims: { openid: ['sub'], email: ['email', 'email_verified'] },
    async findAccount(_ctx, id) {
      const person = people[id]
      if (!person) return undefined
      return { accountId: id, claims: async () => ({ sub: id, email: person.email, email_verified: person.email_verified as boolean }) }
    },
  })
  return {
    issuer,
    clientId: CLIENT_ID,
    clientSecret: CLIENT_SECRET,
    async register(redirectUri) {
      handle = start(redirectUri).callback()
    },
    async close() {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/** On the provider's development sign-in page: signs in as `login`, then allows the client. */
export async function signInAtProvider(page: Page, login: string): Promise<void> {
  await page.locator('input[name="login"]').fill(login)
  await page.locator('input[name="password"]').fill('any password')
  await page.getByRole('button', { name: 'Sign-in' }).click()
  await page.getByRole('button', { name: 'Continue' }).click()
}
