/**
 * Single sign-on for people: the OpenID Connect authorization code flow with PKCE, `state` and
 * `nonce`, done by `openid-client` (the protocol is not hand-rolled here). The three one-time
 * values live in a short-lived pre-login cookie, HttpOnly and sealed (AES-256-GCM under a key
 * derived from the client secret, so replicas sharing the secret accept each other's cookies
 * and nobody can forge or read one). The ID token's signature, `iss`, `aud`, `exp`, `iat` and
 * `nonce` are checked by `openid-client`; an email counts only when `email_verified` is true.
 *
 * One of the few places outside `src/client/` that makes HTTP calls (docs/architecture.md
 * lists them): the provider's discovery document, keys, token and userinfo endpoints, each
 * with a bounded timeout. `openid-client` is loaded by the first sign-in: a server without
 * single sign-on does not carry it.
 */
import { createCipheriv, createDecipheriv, hkdfSync, randomBytes } from 'node:crypto'
import type * as OpenId from 'openid-client'
import { issuerUrlProblem } from '../../contract/issuers.js'

export interface SsoOptions {
  /** The provider's issuer URL (its discovery document is at `/.well-known/openid-configuration` below it). */
  issuer: string
  clientId: string
  clientSecret: string
  /** The button reads "Sign in with <providerName>"; default the issuer's host name. */
  providerName?: string
  /** Email domains that may sign in (case-insensitive); empty or absent: any domain. */
  allowedDomains?: readonly string[]
  /**
   * Name of the project a verified email with no account joins (as member) on its first
   * sign-in; absent: only existing accounts (and open invitations) sign in.
   */
  defaultProject?: string
  /** Bound on each call to the provider (default 10 s). */
  timeoutMs?: number
}

/** How long a started sign-in may take at the provider. */
export const PRE_LOGIN_TTL_MS = 10 * 60 * 1000
const DEFAULT_TIMEOUT_MS = 10_000
/** Largest pre-login cookie we try to open (ours are ~300 characters). */
const MAX_SEALED_CHARS = 2000

/** Why a sign-in through the provider is refused; `message` is shown to the person. */
export class SsoError extends Error {
  constructor(
    readonly code: 'not_started' | 'provider_refused' | 'invalid_response' | 'unreachable' | 'email_unverified' | 'domain_not_allowed',
    message: string,
  ) {
    super(message)
    this.name = 'SsoError'
  }
}

/** What a finished sign-in proved: a verified email, and where the person was going. */
export interface SsoIdentity {
  email: string
  subject: string
  next: string
}

/** The one-time values of a started sign-in, kept in the pre-login cookie. */
interface PreLogin {
  state: string
  nonce: string
  verifier: string
  next: string
  /** Expiry, epoch ms. */
  exp: number
}

export class SingleSignOn {
  readonly providerName: string
  readonly redirectUri: string
  private readonly cookieKey: Buffer
  private readonly allowedDomains: ReadonlySet<string>
  private readonly timeoutMs: number
  private configuration: Promise<OpenId.Configuration> | null = null

  constructor(
    private readonly options: SsoOptions,
    publicUrl: string,
    private readonly now: () => number = Date.now,
  ) {
    const issuer = new URL(options.issuer)
    this.providerName = options.providerName?.trim() || issuer.hostname
    this.redirectUri = `${publicUrl.replace(/\/+$/, '')}/login/sso/callback`
    this.cookieKey = Buffer.from(hkdfSync('sha256', options.clientSecret, 'approval-gate', 'sso pre-login cookie', 32))
    this.allowedDomains = new Set((options.allowedDomains ?? []).map((domain) => domain.trim().toLowerCase().replace(/^@/, '')).filter(Boolean))
    this.timeoutMs = options.timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  /** Project that unknown verified emails join on first sign-in, if any. */
  get defaultProject(): string | undefined {
    return this.options.defaultProject
  }

  /** Starts a sign-in: the provider's URL to redirect to, and the sealed pre-login cookie value. */
  async start(next: string): Promise<{ url: URL; cookie: string }> {
    const openid = await openidClient()
    const config = await this.config()
    const pre: PreLogin = { state: openid.randomState(), nonce: openid.randomNonce(), verifier: openid.randomPKCECodeVerifier(), next, exp: this.now() + PRE_LOGIN_TTL_MS }
    const url = openid.buildAuthorizationUrl(config, {
      redirect_uri: this.redirectUri,
      scope: 'openid email',
      response_type: 'code',
      code_challenge: await openid.calculatePKCECodeChallenge(pre.verifier),
      code_challenge_method: 'S256',
      state: pre.state,
      nonce: pre.nonce,
    })
    return { url, cookie: this.seal(pre) }
  }

  /**
   * Finishes a sign-in from the provider's redirect (`callbackUrl`, with `code` and `state`)
   * and the pre-login cookie: exchanges the code (with the PKCE verifier), verifies the ID
   * token, and returns the verified email — or throws `SsoError` saying what failed.
   */
  async finish(callbackUrl: URL, cookie: string | undefined): Promise<SsoIdentity> {
    const pre = cookie ? this.open(cookie) : null
    if (!pre) throw new SsoError('not_started', 'This sign-in was not started in this browser, or it took longer than 10 minutes. Start again.')
    const openid = await openidClient()
    const config = await this.config()
    let claims: OpenId.IDToken | undefined
    let profile: Record<string, unknown>
    try {
      const tokens = await openid.authorizationCodeGrant(config, callbackUrl, { pkceCodeVerifier: pre.verifier, expectedState: pre.state, expectedNonce: pre.nonce, idTokenExpected: true })
      claims = tokens.claims()
      if (!claims) throw new SsoError('invalid_response', `${this.providerName} sent no ID token.`)
      // Providers that keep the ID token small (as the specification suggests) give the email
      // from the userinfo endpoint, for the ID token's subject only.
      profile = claims.email === undefined ? { ...(await openid.fetchUserInfo(config, tokens.access_token, claims.sub)) } : { ...claims }
    } catch (error) {
      throw refusal(error, this.providerName, openid)
    }
    const email = typeof profile.email === 'string' ? profile.email.trim() : ''
    if (!email) throw new SsoError('email_unverified', `${this.providerName} did not share an email address for this account (the "email" scope).`)
    // A string "true" is not a verified email: the claim is a JSON boolean.
    if (profile.email_verified !== true) throw new SsoError('email_unverified', `${this.providerName} has not verified the email ${email}, so it cannot be used to sign in.`)
    const domain = email.slice(email.lastIndexOf('@') + 1).toLowerCase()
    if (this.allowedDomains.size > 0 && !this.allowedDomains.has(domain)) {
      throw new SsoError('domain_not_allowed', `Email addresses at ${domain} may not sign in here (allowed: ${[...this.allowedDomains].join(', ')}).`)
    }
    return { email, subject: claims.sub, next: pre.next }
  }

  /** The provider's configuration from its discovery document; fetched once, again after a failure. */
  private config(): Promise<OpenId.Configuration> {
    this.configuration ??= this.discover().catch((error: unknown) => {
      this.configuration = null
      throw new SsoError('unreachable', `The sign-in provider ${this.providerName} could not be reached or is misconfigured (${causes(error)}). Try again later.`)
    })
    return this.configuration
  }

  private async discover(): Promise<OpenId.Configuration> {
    const openid = await openidClient()
    const issuer = new URL(this.options.issuer)
    // Plain http only for a provider on this machine (development and tests).
    const execute = [openid.enableNonRepudiationChecks, ...(issuer.protocol === 'http:' && issuerUrlProblem(issuer.href) === null ? [openid.allowInsecureRequests] : [])]
    const config = await openid.discovery(issuer, this.options.clientId, this.options.clientSecret, openid.ClientSecretBasic(this.options.clientSecret), {
      execute,
      timeout: Math.ceil(this.timeoutMs / 1000),
    })
    return config
  }

  private seal(pre: PreLogin): string {
    const iv = randomBytes(12)
    const cipher = createCipheriv('aes-256-gcm', this.cookieKey, iv)
    const body = Buffer.concat([cipher.update(JSON.stringify(pre), 'utf8'), cipher.final()])
    return Buffer.concat([iv, cipher.getAuthTag(), body]).toString('base64url')
  }

  /** The pre-login values of a cookie we sealed and that has not expired; null for anything else. */
  private open(sealed: string): PreLogin | null {
    if (sealed.length > MAX_SEALED_CHARS || !/^[A-Za-z0-9_-]+$/.test(sealed)) return null
    const raw = Buffer.from(sealed, 'base64url')
    if (raw.length < 29) return null
    try {
      const decipher = createDecipheriv('aes-256-gcm', this.cookieKey, raw.subarray(0, 12))
      decipher.setAuthTag(raw.subarray(12, 28))
      const pre = JSON.parse(Buffer.concat([decipher.update(raw.subarray(28)), decipher.final()]).toString('utf8')) as PreLogin
      return typeof pre.exp === 'number' && pre.exp > this.now() ? pre : null
    } catch {
      return null
    }
  }
}

function openidClient(): Promise<typeof OpenId> {
  return import('openid-client')
}

/** An error's message with those of its causes (openid-client wraps the precise one, e.g. which claim failed). */
function causes(error: unknown): string {
  const messages: string[] = []
  for (let e = error as { message?: unknown; cause?: unknown } | undefined, depth = 0; e && depth < 4; e = e.cause as typeof e, depth++) {
    if (typeof e.message === 'string' && !messages.includes(e.message)) messages.push(e.message)
  }
  return messages.join(': ') || String(error)
}

/** A failed code exchange or ID token check, as a sentence for the person (details go to the log). */
function refusal(error: unknown, provider: string, openid: typeof OpenId): SsoError {
  if (error instanceof SsoError) return error
  if (error instanceof openid.AuthorizationResponseError) {
    return new SsoError('provider_refused', `${provider} refused the sign-in (${error.error}${error.error_description ? `: ${error.error_description}` : ''}).`)
  }
  if (error instanceof openid.ResponseBodyError) {
    // invalid_grant: the code was used already, expired, or was issued for another sign-in.
    return new SsoError('provider_refused', `${provider} refused the sign-in code (${error.error}): it was used already, expired, or belongs to another sign-in. Start again.`)
  }
  const message = causes(error)
  if (/"state"/.test(message)) return new SsoError('invalid_response', 'The answer from the sign-in provider does not belong to the sign-in started in this browser (state mismatch). Start again.')
  if (/timed? ?out|fetch failed|ECONNREFUSED|network/i.test(message)) return new SsoError('unreachable', `The sign-in provider ${provider} could not be reached (${message}). Try again later.`)
  return new SsoError('invalid_response', `The ID token from ${provider} failed verification (${message}).`)
}
