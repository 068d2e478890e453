/**
 * Authentication for `/v1`: `Authorization: Bearer <key>` is looked up by hash on every
 * request, so keys created by the CLI work at once and revoked keys fail at once (requests whose
 * lookups agree share one frozen `Caller`: `shared-callers.ts`). A bearer
 * that is a JWT is a workflow identity instead (`oidc.ts`): verified, matched against the
 * trust rules, and given the `request` scope of the rule's project only. Each route names the
 * scopes it accepts in `config.scopes`; `admin` is accepted everywhere.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { hashToken } from '../auth/secrets.js'
import type { Actor } from '../approvals/contracts.js'
import type { ApiKeyInfo, KeyScope, Project, RequesterClaims, Store } from '../store/types.js'
import { ApiError } from './errors.js'
import { looksLikeJwt, OidcError, type OidcVerifier } from './oidc.js'
import { SharedCallers } from './shared-callers.js'

/** Who is calling: the key (or workflow identity), its project, and how it is recorded in the audit trail. */
export interface Caller {
  /** The API key; `null` for a workflow identity. */
  key: ApiKeyInfo | null
  scopes: readonly KeyScope[]
  project: Project
  actor: Actor
  /** The verified claims of a workflow identity (`null` for an API key). */
  requester: RequesterClaims | null
  /** What per-caller limits count by: the key id, or `oidc:<trust rule id>`. */
  limitKey: string
}

declare module 'fastify' {
  interface FastifyRequest {
    /** Set by the auth hook on authenticated routes. */
    caller: Caller | null
  }
  interface FastifyContextConfig {
    /** Key scopes that may call the route (`admin` always may). Routes without it are public. */
    scopes?: readonly KeyScope[]
  }
}

/** Spacing of `last_used_at` writes per key: a hot key must not write on every request. */
const TOUCH_INTERVAL_MS = 60_000
/** Longest header accepted; real keys are ~50 characters, CI ID tokens a few kilobytes. */
const MAX_AUTHORIZATION_CHARS = 16_384

/** Adds the auth hook to `app` (an encapsulated `/v1` scope). */
export function addApiKeyAuth(app: FastifyInstance, store: Store, oidc: OidcVerifier): void {
  const lastTouched = new Map<string, number>()
  const callers = new SharedCallers<Caller>()
  app.decorateRequest('caller', null)

  app.addHook('onRequest', async (request) => {
    const scopes = request.routeOptions.config.scopes
    if (!scopes) return
    const caller = callers.share(await authenticate(request, store, oidc))
    if (!caller.scopes.includes('admin') && !scopes.some((scope) => caller.scopes.includes(scope))) {
      const who = caller.key ? 'this API key' : 'a workflow identity'
      throw new ApiError(403, 'forbidden', `${who} lacks the scope for this call (needs ${scopes.join(' or ')}; it has ${caller.scopes.join(', ')})`)
    }
    request.caller = caller
    if (caller.key) touch(caller.key.id)
  })

  function touch(keyId: string): void {
    const now = Date.now()
    if (now - (lastTouched.get(keyId) ?? 0) < TOUCH_INTERVAL_MS) return
    lastTouched.set(keyId, now)
    // Last-used time is informational: a failed write must not fail the request.
    store.touchApiKey(keyId, new Date(now).toISOString()).catch((error: unknown) => app.log.warn({ err: error }, 'could not record API key use'))
  }
}

/** The request's caller, or a 401 that does not say whether the key is missing, unknown or revoked. */
async function authenticate(request: FastifyRequest, store: Store, oidc: OidcVerifier): Promise<Caller> {
  const header = request.headers.authorization
  const match = typeof header === 'string' && header.length <= MAX_AUTHORIZATION_CHARS ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
  if (!match) throw unauthorized()
  if (looksLikeJwt(match[1])) return authenticateWorkflow(match[1], store, oidc)
  const key = await store.findApiKey(hashToken(match[1]))
  if (!key) throw unauthorized()
  const project = await store.getProject(key.project_id)
  if (!project) throw unauthorized()
  return { key, scopes: key.scopes, project, actor: { label: `key:${key.name}`, githubLogin: null, keyId: key.id }, requester: null, limitKey: key.id }
}

/** A workflow identity: `request` scope in the project of the trust rule that accepts its token. */
async function authenticateWorkflow(token: string, store: Store, oidc: OidcVerifier): Promise<Caller> {
  let verified
  try {
    verified = await oidc.verify(token)
  } catch (error) {
    if (error instanceof OidcError) throw new ApiError(401, error.code, error.message)
    throw error
  }
  const project = await store.getProject(verified.rule.project_id)
  if (!project) throw new ApiError(401, 'oidc_untrusted', 'the trust rule that accepts this token belongs to no project')
  const { claims } = verified
  const label = `oidc:${claims.repository}${claims.ref ? `@${claims.ref}` : ''}`
  return { key: null, scopes: ['request'], project, actor: { label, githubLogin: null, keyId: null }, requester: claims, limitKey: `oidc:${verified.rule.id}` }
}

function unauthorized(): ApiError {
  return new ApiError(401, 'unauthorized', 'missing, unknown or revoked API key: send Authorization: Bearer <key>')
}

/** The authenticated caller of a route that declares `config.scopes`. */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new ApiError(401, 'unauthorized', 'missing, unknown or revoked API key: send Authorization: Bearer <key>')
  return request.caller
}
