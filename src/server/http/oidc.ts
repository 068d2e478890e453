/**
 * Keyless requests from workflows: a bearer that is a JWT (an OIDC ID token a CI system minted
 * for one run, such as GitHub Actions' `id-token: write` tokens) is verified with `jose` and
 * matched against the projects' trust rules. A token that verifies and matches a rule may
 * request approvals in that rule's project, and nothing else.
 *
 * Order of checks, so that no untrusted party makes the server fetch anything:
 * 1. the token's shape and header `alg` (allow-listed asymmetric algorithms only: never
 *    `none`, never HMAC — an HS256 "signed with the public key" is refused here);
 * 2. its unverified `iss` must be named by at least one trust rule, else `oidc_untrusted`
 *    without contacting it (an attacker cannot point the server at a URL of their choosing);
 * 3. the issuer's discovery document (`/.well-known/openid-configuration`) gives `jwks_uri`;
 *    keys are cached per issuer and re-fetched on an unknown `kid` (jose's remote JWK set,
 *    with a cooldown); every fetch has a timeout and follows no redirects;
 * 4. signature, `iss`, `aud` (one a rule names), `exp`, `nbf`, `iat` (60 s clock skew);
 * 5. the claims against the rules: `repository`, then `ref`, `environment`, `workflow_ref`.
 */
import { createRemoteJWKSet, decodeJwt, decodeProtectedHeader, errors, jwtVerify, type JWTPayload, type JWTVerifyGetKey } from 'jose'
import { REQUESTER_CLAIM_NAMES, type RequesterClaims, type Store, type TrustRule } from '../store/types.js'

import { issuerUrlProblem, normaliseIssuer } from '../../contract/issuers.js'

export { GITHUB_ACTIONS_ISSUER, issuerUrlProblem, normaliseIssuer } from '../../contract/issuers.js'
/** Signature algorithms accepted: asymmetric only. */
export const OIDC_ALGORITHMS = ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA', 'Ed25519'] as const
/** Clock skew tolerated on `exp`, `nbf` and `iat`, in seconds. */
export const OIDC_CLOCK_SKEW_SECONDS = 60
/** Oldest `iat` accepted (CI tokens live minutes; this only bounds a replayed old token). */
const MAX_TOKEN_AGE = '24h'
const MAX_DISCOVERY_BYTES = 64 * 1024

export interface OidcVerifierOptions {
  /** Timeout of each discovery or JWKS fetch (default 5 s). */
  timeoutMs?: number
  /** Least time between two JWKS fetches for an unknown `kid` (default 30 s). */
  cooldownMs?: number
  /** How long a discovery document and its keys are kept (default 10 minutes). */
  cacheMs?: number
}

/** Why a bearer JWT was refused: `oidc_invalid` (it does not verify) or `oidc_untrusted` (no trust rule accepts it). */
export class OidcError extends Error {
  constructor(
    readonly code: 'oidc_invalid' | 'oidc_untrusted',
    message: string,
  ) {
    super(message)
    this.name = 'OidcError'
  }
}

/** A verified token and the rule that accepted it. */
export interface VerifiedWorkflow {
  rule: TrustRule
  claims: RequesterClaims
}

/** Three base64url parts (the third empty for an unsigned token, refused later). Our API keys start with `agk_` and have no dots. */
export function looksLikeJwt(token: string): boolean {
  return /^[A-Za-z0-9_-]+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]*$/.test(token)
}

interface IssuerKeys {
  keys: JWTVerifyGetKey
  fetchedAt: number
}

export class OidcVerifier {
  private readonly timeoutMs: number
  private readonly cooldownMs: number
  private readonly cacheMs: number
  private readonly issuers = new Map<string, Promise<IssuerKeys>>()

  constructor(
    private readonly store: Store,
    options: OidcVerifierOptions = {},
  ) {
    this.timeoutMs = options.timeoutMs ?? 5_000
    this.cooldownMs = options.cooldownMs ?? 30_000
    this.cacheMs = options.cacheMs ?? 600_000
  }

  /** Verifies `token` and finds the rule that accepts it. @throws OidcError */
  async verify(token: string): Promise<VerifiedWorkflow> {
    const { alg, payload } = decodeUnverified(token)
    if (!(OIDC_ALGORITHMS as readonly string[]).includes(alg)) {
      throw new OidcError('oidc_invalid', `the token's algorithm ${JSON.stringify(alg)} is not accepted (only ${OIDC_ALGORITHMS.join(', ')}; never none or HMAC)`)
    }
    if (typeof payload.iss !== 'string' || payload.iss === '') throw new OidcError('oidc_invalid', 'the token has no iss (issuer) claim')
    const issuer = normaliseIssuer(payload.iss)
    const rules = await this.store.listTrustRulesForIssuer(issuer)
    // Never contact an issuer no rule names: the token's iss is attacker-controlled text.
    if (rules.length === 0) {
      throw new OidcError('oidc_untrusted', `no trust rule names the issuer ${JSON.stringify(issuer.slice(0, 200))}: add one with \`approval-gate trust add --issuer …\``)
    }
    const problem = issuerUrlProblem(issuer)
    if (problem) throw new OidcError('oidc_untrusted', `the issuer ${JSON.stringify(issuer)} ${problem}`)

    const audiences = [...new Set(rules.map((rule) => rule.audience))]
    const keys = await this.keysOf(issuer)
    let verified: JWTPayload
    try {
      ;({ payload: verified } = await jwtVerify(token, keys, {
        issuer: [issuer, `${issuer}/`],
        audience: audiences,
        algorithms: [...OIDC_ALGORITHMS],
        clockTolerance: OIDC_CLOCK_SKEW_SECONDS,
        maxTokenAge: MAX_TOKEN_AGE,
        requiredClaims: ['exp', 'iat'],
      }))
    } catch (error) {
      throw new OidcError('oidc_invalid', explain(error, issuer, payload))
    }
    return matchRule(rules, verified, issuer)
  }

  /** The issuer's key set: discovery once, then jose's cached remote set (re-fetched on an unknown `kid`). */
  private keysOf(issuer: string): Promise<JWTVerifyGetKey> {
    const cached = this.issuers.get(issuer)
    if (cached) {
      return cached.then(
        (entry) => {
          if (Date.now() - entry.fetchedAt < this.cacheMs) return entry.keys
          this.issuers.delete(issuer)
          return this.keysOf(issuer)
        },
        () => this.keysOf(issuer),
      )
    }
    const loading = this.discover(issuer)
    this.issuers.set(issuer, loading)
    // A failed discovery is not kept: the next token tries again.
    loading.catch(() => {
      if (this.issuers.get(issuer) === loading) this.issuers.delete(issuer)
    })
    return loading.then((entry) => entry.keys)
  }

  private async discover(issuer: string): Promise<IssuerKeys> {
    const where = `${issuer}/.well-known/openid-configuration`
    let document: unknown
    try {
      const response = await fetch(where, { redirect: 'error', signal: AbortSignal.timeout(this.timeoutMs), headers: { accept: 'application/json' } })
      if (!response.ok) throw new Error(`HTTP ${response.status}`)
      const text = await response.text()
      if (Buffer.byteLength(text) > MAX_DISCOVERY_BYTES) throw new Error('the discovery document is too large')
      document = JSON.parse(text)
    } catch (error) {
      throw new OidcError('oidc_invalid', `the issuer ${issuer} is unreachable (its discovery document ${where}: ${describeFetchError(error, this.timeoutMs)})`)
    }
    const fields = typeof document === 'object' && document !== null ? (document as Record<string, unknown>) : {}
    if (typeof fields.issuer !== 'string' || normaliseIssuer(fields.issuer) !== issuer) {
      throw new OidcError('oidc_invalid', `the issuer ${issuer} is misconfigured: its discovery document names another issuer`)
    }
    const jwksUri = fields.jwks_uri
    const problem = typeof jwksUri === 'string' ? issuerUrlProblem(jwksUri) : 'is missing'
    if (problem) throw new OidcError('oidc_invalid', `the issuer ${issuer} is misconfigured: its jwks_uri ${problem}`)
    const keys = createRemoteJWKSet(new URL(jwksUri as string), { timeoutDuration: this.timeoutMs, cooldownDuration: this.cooldownMs, cacheMaxAge: this.cacheMs })
    return { keys, fetchedAt: Date.now() }
  }
}

function decodeUnverified(token: string): { alg: string; payload: JWTPayload } {
  try {
    const header = decodeProtectedHeader(token)
    return { alg: typeof header.alg === 'string' ? header.alg : '', payload: decodeJwt(token) }
  } catch {
    throw new OidcError('oidc_invalid', 'the bearer token is not a well-formed JWT')
  }
}

function describeFetchError(error: unknown, timeoutMs: number): string {
  // A DOMException (not an Error subclass in every runtime).
  const name = typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${timeoutMs} ms`
  const cause = error instanceof Error && error.cause instanceof Error ? `: ${error.cause.message}` : ''
  return `${error instanceof Error ? error.message : String(error)}${cause}`.slice(0, 300)
}

/** Why jose refused the token, in words a CI user can act on. */
function explain(error: unknown, issuer: string, payload: JWTPayload): string {
  if (error instanceof errors.JWTExpired) {
    if (error.claim === 'iat') return `the token was issued more than ${MAX_TOKEN_AGE} ago`
    const exp = typeof payload.exp === 'number' ? ` at ${new Date(payload.exp * 1000).toISOString()}` : ''
    return `the token expired${exp}: request a fresh one for each gate`
  }
  if (error instanceof errors.JWTClaimValidationFailed) {
    if (error.claim === 'aud') {
      return `the token's audience ${JSON.stringify(payload.aud)} is not one a trust rule of this issuer names: request the token for the audience of your trust rule (the action's oidc-audience input; by default the API URL's origin)`
    }
    if (error.claim === 'iss') return `the token's issuer does not match ${issuer}`
    if (error.claim === 'nbf') return 'the token is not valid yet (nbf is in the future beyond the 60 s clock skew)'
    if (error.claim === 'iat') return 'the token was issued in the future (iat beyond the 60 s clock skew)'
    return `the token's ${error.claim} claim is invalid (${error.reason})`
  }
  if (error instanceof errors.JWSSignatureVerificationFailed) return `the token's signature does not verify against the keys of ${issuer}`
  if (error instanceof errors.JWKSNoMatchingKey) return `no key of ${issuer} matches the token's kid (even after re-reading its keys)`
  if (error instanceof errors.JWKSTimeout) return `the issuer ${issuer} is unreachable: its keys (JWKS) did not arrive in time`
  if (error instanceof errors.JOSEAlgNotAllowed) return 'the token\'s algorithm is not accepted'
  if (error instanceof errors.JWKSInvalid || error instanceof errors.JWKSMultipleMatchingKeys) return `the issuer ${issuer} served an unusable key set (JWKS)`
  // jose's own fetch failures (a non-200 JWKS answer) are generic JOSE errors.
  if (error instanceof errors.JOSEError && error.code === 'ERR_JOSE_GENERIC') return `the issuer ${issuer} is unreachable: its keys (JWKS) could not be read (${error.message})`
  if (error instanceof errors.JOSEError) return `the token is invalid (${error.message})`
  // fetch failures of the JWKS (connection refused, HTTP errors) surface as plain errors.
  return `the issuer ${issuer} is unreachable: its keys (JWKS) could not be read (${error instanceof Error ? error.message : String(error)})`.slice(0, 400)
}

/**
 * GitLab's ID tokens name things differently: `project_path`, a bare `ref` with `ref_type`,
 * `pipeline_id`, `user_login`, `ci_config_ref_uri`, `pipeline_source`. A token without
 * `repository` but with `project_path` is read in GitHub's terms, so one set of trust rules and
 * one card serve both (`ref` becomes `refs/heads/<branch>` or `refs/tags/<tag>`).
 */
function inGitHubTerms(payload: JWTPayload): JWTPayload {
  if (payload.repository !== undefined || typeof payload.project_path !== 'string') return payload
  const ref = typeof payload.ref === 'string' ? payload.ref : undefined
  const fullRef = ref === undefined ? undefined : payload.ref_type === 'branch' ? `refs/heads/${ref}` : payload.ref_type === 'tag' ? `refs/tags/${ref}` : ref
  return {
    ...payload,
    repository: payload.project_path,
    ref: fullRef,
    workflow_ref: payload.ci_config_ref_uri,
    run_id: payload.pipeline_id,
    run_attempt: undefined,
    actor: payload.user_login,
    triggering_actor: payload.user_login,
    event_name: payload.pipeline_source,
  }
}

/** The verified claims as the approval stores them. */
export function requesterClaimsOf(verified: JWTPayload, issuer: string): RequesterClaims {
  const payload = inGitHubTerms(verified)
  const claims = { issuer } as RequesterClaims
  for (const name of REQUESTER_CLAIM_NAMES) {
    const value = payload[name]
    const text = typeof value === 'string' ? value : typeof value === 'number' ? String(value) : null
    ;(claims as unknown as Record<string, string | null>)[name] = text !== null && text !== '' ? text.slice(0, 500) : null
  }
  return claims
}

const RULE_CLAIMS = ['repository', 'ref', 'environment', 'workflow_ref'] as const

/** The first rule whose audience is in `aud` and whose claims all match; `oidc_untrusted` names the claim that did not. */
function matchRule(rules: TrustRule[], payload: JWTPayload, issuer: string): VerifiedWorkflow {
  const claims = requesterClaimsOf(payload, issuer)
  if (!claims.repository) throw new OidcError('oidc_untrusted', 'the token has no repository claim, which every trust rule needs')
  const audiences = new Set(typeof payload.aud === 'string' ? [payload.aud] : (payload.aud ?? []))
  const matching: TrustRule[] = []
  let best: { depth: number; claim: (typeof RULE_CLAIMS)[number]; rule: TrustRule } | null = null
  for (const rule of rules) {
    if (!audiences.has(rule.audience)) continue
    const failed = RULE_CLAIMS.findIndex((claim) => !claimMatches(claim, rule[claim], claims[claim]))
    if (failed === -1) matching.push(rule)
    else if (!best || failed > best.depth) best = { depth: failed, claim: RULE_CLAIMS[failed], rule }
  }
  const projects = new Set(matching.map((rule) => rule.project_id))
  if (projects.size > 1) {
    throw new OidcError('oidc_untrusted', 'trust rules of several projects accept this token: give each project its own audience (trust add --audience, and the oidc-audience input)')
  }
  if (matching.length > 0) return { rule: matching[0], claims }
  if (!best || best.depth === 0) {
    throw new OidcError('oidc_untrusted', `no trust rule accepts repository ${JSON.stringify(claims.repository)} from ${issuer} for this audience`)
  }
  const given = claims[best.claim]
  throw new OidcError(
    'oidc_untrusted',
    `the trust rule for ${best.rule.repository} requires ${best.claim} ${JSON.stringify(best.rule[best.claim])}; the token's ${best.claim} is ${given === null ? 'missing' : JSON.stringify(given)}`,
  )
}

function claimMatches(claim: (typeof RULE_CLAIMS)[number], wanted: string | null, given: string | null): boolean {
  if (wanted === null) return true
  if (given === null) return false
  // GitHub owner and repository names are case-insensitive.
  return claim === 'repository' ? wanted.toLowerCase() === given.toLowerCase() : wanted === given
}
