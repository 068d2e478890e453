/**
 * A local OIDC issuer for tests: an RSA key pair, a discovery document and a JWKS served on
 * loopback, minting tokens shaped like GitHub Actions' (`repository`, `ref`, `actor`, …).
 * `rotate()` replaces the published key; `mode` makes the endpoints fail (`down`: HTTP 503,
 * `hang`: never answer); `requests` lists every path asked for, so a test can prove the
 * issuer was never contacted. Optionally also serves the runner's token-request endpoint
 * (`ACTIONS_ID_TOKEN_REQUEST_URL`), answering `{value: <token>}` for the audience asked.
 */
import { createHmac, randomUUID } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { exportJWK, exportSPKI, generateKeyPair, SignJWT, type CryptoKey, type JWK } from 'jose'

export interface GitHubClaims {
  repository: string
  repository_owner: string
  ref: string
  sha: string
  workflow_ref: string
  run_id: string
  run_attempt: string
  actor: string
  triggering_actor: string
  environment?: string
  event_name: string
  [claim: string]: unknown
}

export interface MintOptions {
  audience?: string | string[]
  issuer?: string
  /** Seconds from now; negative for an expired token. Default 300. */
  expiresIn?: number
  /** Seconds from now for `iat` (default 0). */
  issuedAt?: number
  kid?: string
  /** Sign with this key instead of the published one (a forged signature). */
  privateKey?: CryptoKey
}

interface KeyPair {
  kid: string
  privateKey: CryptoKey
  publicJwk: JWK
  publicPem: string
}

async function newKeyPair(): Promise<KeyPair> {
  const { privateKey, publicKey } = await generateKeyPair('RS256', { extractable: true })
  const kid = randomUUID()
  return { kid, privateKey, publicJwk: { ...(await exportJWK(publicKey)), kid, alg: 'RS256', use: 'sig' }, publicPem: await exportSPKI(publicKey) }
}

const b64 = (value: unknown): string => Buffer.from(JSON.stringify(value)).toString('base64url')

export class TestIssuer {
  url = ''
  /** Paths requested so far (discovery, JWKS, token endpoint). */
  readonly requests: string[] = []
  mode: 'ok' | 'down' | 'hang' = 'ok'
  /** Which endpoint `mode` affects. */
  failing: 'discovery' | 'jwks' = 'jwks'
  /** Audiences the token endpoint was asked for. */
  readonly tokenAudiences: string[] = []
  /** Claims of tokens the token endpoint mints. */
  tokenClaims: Partial<GitHubClaims> = {}
  private key!: KeyPair
  private readonly server: Server
  private readonly hanging = new Set<ServerResponse>()

  private constructor() {
    this.server = createServer((request, response) => this.handle(request, response))
  }

  static async start(): Promise<TestIssuer> {
    const issuer = new TestIssuer()
    issuer.key = await newKeyPair()
    await new Promise<void>((resolve) => issuer.server.listen(0, '127.0.0.1', resolve))
    issuer.url = `http://127.0.0.1:${(issuer.server.address() as AddressInfo).port}`
    return issuer
  }

  /** The runner's token-request URL (`ACTIONS_ID_TOKEN_REQUEST_URL`); it wants `Authorization: Bearer runner-token`. */
  get tokenRequestUrl(): string {
    return `${this.url}/runner/token?api-version=2.0`
  }

  /** The published key's id. */
  get kid(): string {
    return this.key.kid
  }

  /** Replaces the published key with a new one (new `kid`). */
  async rotate(): Promise<void> {
    this.key = await newKeyPair()
  }

  /** GitHub-shaped claims for `acme/web` on `main`, with `overrides`. */
  static claims(overrides: Partial<GitHubClaims> = {}): GitHubClaims {
    return {
      repository: 'acme/web',
      repository_owner: 'acme',
      ref: 'refs/heads/main',
      sha: 'a'.repeat(40),
      workflow_ref: 'acme/web/.github/workflows/deploy.yml@refs/heads/main',
      run_id: '4242',
      run_attempt: '1',
      actor: 'octocat',
      triggering_actor: 'octocat',
      event_name: 'push',
      sub: 'repo:acme/web:ref:refs/heads/main',
      ...overrides,
    }
  }

  /** A signed token (RS256) with GitHub-shaped claims. */
  async mint(claims: Partial<GitHubClaims> = {}, options: MintOptions = {}): Promise<string> {
    const now = Math.floor(Date.now() / 1000)
    return new SignJWT({ ...TestIssuer.claims(claims) })
      .setProtectedHeader({ alg: 'RS256', typ: 'JWT', kid: options.kid ?? this.key.kid })
      .setIssuer(options.issuer ?? this.url)
      .setAudience(options.audience ?? 'https://gate.example.test')
      .setIssuedAt(now + (options.issuedAt ?? 0))
      .setNotBefore(now + (options.issuedAt ?? 0))
      .setExpirationTime(now + (options.expiresIn ?? 300))
      .setJti(randomUUID())
      .sign(options.privateKey ?? this.key.privateKey)
  }

  /** An unsigned token (`alg: none`) with otherwise valid claims. */
  unsigned(audience = 'https://gate.example.test'): string {
    const now = Math.floor(Date.now() / 1000)
    return `${b64({ alg: 'none', typ: 'JWT' })}.${b64({ ...TestIssuer.claims(), iss: this.url, aud: audience, iat: now, exp: now + 300 })}.`
  }

  /** The classic confusion attack: HS256 "signed" with the issuer's public key (PEM) as the HMAC secret. */
  hmacWithPublicKey(audience = 'https://gate.example.test'): string {
    const now = Math.floor(Date.now() / 1000)
    const input = `${b64({ alg: 'HS256', typ: 'JWT', kid: this.key.kid })}.${b64({ ...TestIssuer.claims(), iss: this.url, aud: audience, iat: now, exp: now + 300 })}`
    return `${input}.${createHmac('sha256', this.key.publicPem).update(input).digest('base64url')}`
  }

  /** A key pair the issuer never published (for forged signatures). */
  static async foreignKey(): Promise<CryptoKey> {
    return (await newKeyPair()).privateKey
  }

  private handle(request: IncomingMessage, response: ServerResponse): void {
    const path = (request.url ?? '/').split('?')[0]
    this.requests.push(path)
    const json = (status: number, body: unknown) => {
      response.writeHead(status, { 'content-type': 'application/json' })
      response.end(JSON.stringify(body))
    }
    const failing = (endpoint: 'discovery' | 'jwks'): boolean => {
      if (this.mode === 'ok' || this.failing !== endpoint) return false
      if (this.mode === 'down') json(503, { error: 'down' })
      else this.hanging.add(response)
      return true
    }
    if (path === '/.well-known/openid-configuration') {
      if (failing('discovery')) return
      return json(200, { issuer: this.url, jwks_uri: `${this.url}/.well-known/jwks`, id_token_signing_alg_values_supported: ['RS256'] })
    }
    if (path === '/.well-known/jwks') {
      if (failing('jwks')) return
      return json(200, { keys: [this.key.publicJwk] })
    }
    if (path === '/runner/token') {
      if (request.headers.authorization !== 'Bearer runner-token') return json(401, { message: 'bad runner token' })
      const audience = new URL(request.url ?? '/', this.url).searchParams.get('audience') ?? this.url
      this.tokenAudiences.push(audience)
      this.mint(this.tokenClaims, { audience }).then(
        (value) => json(200, { value }),
        () => json(500, {}),
      )
      return
    }
    json(404, {})
  }

  async close(): Promise<void> {
    for (const response of this.hanging) response.destroy()
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }
}
