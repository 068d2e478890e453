/**
 * "Sign in with <provider>": `/login/sso` starts the OpenID Connect flow (see `../sso.ts`),
 * `/login/sso/callback` finishes it. A verified email signs in the account with that email;
 * with no account, it joins the project its invitation link names (when the sign-in started
 * from that link), or the server's default project for new sign-ins, or is refused. The
 * session is an ordinary one (same lifetime, ended by removal or "sign out everywhere").
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isAdminError } from '../../admin/admin-service.js'
import type { User } from '../../store/types.js'
import { html } from '../html.js'
import { safeNextPath } from '../session.js'
import { PRE_LOGIN_TTL_MS, SsoError, type SingleSignOn, type SsoIdentity } from '../sso.js'
import { sendPage, type DashboardDeps } from './common.js'
import { signIn } from './sign-in-pages.js'

const STATUS_OF: Record<SsoError['code'], number> = {
  not_started: 400,
  invalid_response: 400,
  provider_refused: 403,
  email_unverified: 403,
  domain_not_allowed: 403,
  unreachable: 502,
}

const INVITE_PATH = /^\/invite\/([A-Za-z0-9_-]{20,100})$/

export function registerSsoRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const sso = deps.sso
  if (!sso) return

  app.get('/login/sso', async (request, reply) => {
    const next = safeNextPath((request.query as Record<string, unknown>).next)
    let started: { url: URL; cookie: string }
    try {
      started = await sso.start(next)
    } catch (error) {
      if (!(error instanceof SsoError)) throw error
      request.log.warn({ err: error }, 'single sign-on could not start')
      return refused(deps, reply, STATUS_OF[error.code], error.message)
    }
    deps.sessions.setPreLogin(reply, started.cookie, PRE_LOGIN_TTL_MS / 1000)
    return reply.redirect(started.url.href, 303)
  })

  app.get('/login/sso/callback', async (request, reply) => {
    // Each refused callback counts against the client address, like a wrong password.
    const wait = deps.ipLimiter.retryAfterMs(request.ip, '')
    const sealed = deps.sessions.preLogin(request)
    deps.sessions.clearPreLogin(reply)
    if (wait > 0) {
      reply.header('retry-after', String(Math.ceil(wait / 1000)))
      return refused(deps, reply, 429, 'Too many failed sign-in attempts from your network. Try again later.')
    }
    let identity: SsoIdentity
    try {
      identity = await sso.finish(callbackUrl(sso, request), sealed)
    } catch (error) {
      if (!(error instanceof SsoError)) throw error
      deps.ipLimiter.recordFailure(request.ip, '')
      request.log.warn({ code: error.code, reason: error.message }, 'single sign-on refused')
      return refused(deps, reply, STATUS_OF[error.code], error.message)
    }
    const account = await accountFor(deps, sso, identity)
    if (typeof account === 'string') return refused(deps, reply, 403, account)
    await signIn(deps, request, reply, account.user)
    deps.sessions.clearPreLogin(reply) // signIn starts the reply's cookies afresh
    if (account.joinedProjectId) {
      deps.sessions.selectProject(reply, account.joinedProjectId)
      return reply.redirect('/?notice=invitation_accepted', 303)
    }
    return reply.redirect(identity.next, 303)
  })
}

/** The URL the provider sent the browser to: our registered redirect URI with the query it carried. */
function callbackUrl(sso: SingleSignOn, request: FastifyRequest): URL {
  const url = new URL(sso.redirectUri)
  const query = request.url.indexOf('?')
  url.search = query >= 0 ? request.url.slice(query) : ''
  return url
}

/**
 * The account of a verified email: the existing one; else one made by accepting the
 * invitation the sign-in started from (same email); else one in the default project; else a
 * sentence saying why there is none.
 */
async function accountFor(deps: DashboardDeps, sso: SingleSignOn, identity: SsoIdentity): Promise<{ user: User; joinedProjectId?: string } | string> {
  const existing = await deps.store.getUserByEmail(identity.email)
  if (existing) {
    const { password_hash: _hash, ...user } = existing
    return { user }
  }
  const token = INVITE_PATH.exec(identity.next)?.[1]
  const invitation = token ? await deps.admin.openInvitation(token) : null
  if (token && invitation && invitation.email.trim().toLowerCase() === identity.email.toLowerCase()) {
    const accepted = await deps.admin.acceptAsSsoUser(token)
    if (accepted) return { user: accepted.user, joinedProjectId: accepted.invitation.project_id }
  }
  if (sso.defaultProject) {
    try {
      return { user: await deps.admin.joinOnFirstSignIn(sso.defaultProject, identity.email) }
    } catch (error) {
      if (isAdminError(error)) return `Your account could not be created: ${error.message}.`
      throw error
    }
  }
  return `There is no account for ${identity.email} here. Ask a project admin to invite you (Settings → Members), then sign in again.`
}

function refused(deps: DashboardDeps, reply: FastifyReply, status: number, message: string): Promise<FastifyReply> {
  return sendPage(deps, reply, status, {
    title: 'Sign-in refused',
    viewer: null,
    section: 'none',
    main: html`<section class="login"><h1>Sign-in refused</h1><p role="alert">${message}</p><p><a href="/login">Back to sign in</a></p></section>`,
  })
}
