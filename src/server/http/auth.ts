/**
 * API-key authentication for `/v1`: `Authorization: Bearer <key>` is looked up by hash on
 * every request, so keys created by the CLI work at once and revoked keys fail at once. Each
 * route names the scopes it accepts in `config.scopes`; `admin` is accepted everywhere.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { hashToken } from '../auth/secrets.js'
import type { Actor } from '../approvals/contracts.js'
import type { ApiKeyInfo, KeyScope, Project, Store } from '../store/types.js'
import { ApiError } from './errors.js'

/** Who is calling: the key, its project, and how it is recorded in the audit trail. */
export interface Caller {
  key: ApiKeyInfo
  project: Project
  actor: Actor
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
/** Longest header accepted; real keys are ~50 characters. */
const MAX_AUTHORIZATION_CHARS = 512

/** Adds the auth hook to `app` (an encapsulated `/v1` scope). */
export function addApiKeyAuth(app: FastifyInstance, store: Store): void {
  const lastTouched = new Map<string, number>()
  app.decorateRequest('caller', null)

  app.addHook('onRequest', async (request) => {
    const scopes = request.routeOptions.config.scopes
    if (!scopes) return
    const caller = await authenticate(request, store)
    if (!caller.key.scopes.includes('admin') && !scopes.some((scope) => caller.key.scopes.includes(scope))) {
      throw new ApiError(403, 'forbidden', `this API key lacks the scope for this call (needs ${scopes.join(' or ')}; it has ${caller.key.scopes.join(', ')})`)
    }
    request.caller = caller
    touch(caller.key.id)
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
async function authenticate(request: FastifyRequest, store: Store): Promise<Caller> {
  const header = request.headers.authorization
  const match = typeof header === 'string' && header.length <= MAX_AUTHORIZATION_CHARS ? /^Bearer\s+(\S+)\s*$/i.exec(header) : null
  if (!match) throw unauthorized()
  const key = await store.findApiKey(hashToken(match[1]))
  if (!key) throw unauthorized()
  const project = await store.getProject(key.project_id)
  if (!project) throw unauthorized()
  return { key, project, actor: { label: `key:${key.name}`, githubLogin: null, keyId: key.id } }
}

function unauthorized(): ApiError {
  return new ApiError(401, 'unauthorized', 'missing, unknown or revoked API key: send Authorization: Bearer <key>')
}

/** The authenticated caller of a route that declares `config.scopes`. */
export function callerOf(request: FastifyRequest): Caller {
  if (!request.caller) throw new ApiError(401, 'unauthorized', 'missing, unknown or revoked API key: send Authorization: Bearer <key>')
  return request.caller
}
