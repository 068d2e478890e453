/** Sign in, sign out (here or everywhere), and switching the selected project. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { hashPassword, verifyPassword } from '../../auth/secrets.js'
import { MAX_EMAIL_CHARS, MAX_PASSWORD_BYTES } from '../../admin/rules.js'
import type { User } from '../../store/types.js'
import { formFields } from '../security.js'
import { safeNextPath } from '../session.js'
import { loginForm } from '../views/login-view.js'
import { checkCsrf, noticeFromQuery, refuseForbidden, requireViewer, sendPage, type DashboardDeps } from './common.js'

/** The outcome of checking an email and password under the sign-in limits. */
export type PasswordCheck = { ok: true; user: User } | { ok: false; status: 400 | 401 | 403 | 429; text: string; retryAfterS?: number }

/** The refusal of every password path (sign-in, invitations, password change) when passwords are turned off. */
export function passwordsOffText(deps: DashboardDeps): string {
  return `Password sign-in is turned off on this server: use "Sign in with ${deps.signInMethods.sso ?? 'your provider'}".`
}

// Unknown emails still cost one scrypt, so the answer and its timing do not reveal which accounts exist.
let dummyHash: Promise<string> | null = null
const dummy = () => (dummyHash ??= hashPassword('approval-gate timing equaliser'))

function tooMany(waitMs: number, who: string): PasswordCheck {
  const minutes = Math.ceil(waitMs / 60_000)
  return { ok: false, status: 429, retryAfterS: Math.ceil(waitMs / 1000), text: `Too many failed sign-in attempts ${who}. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.` }
}

/**
 * Checks a password under every sign-in limit, cheapest first: the client address's failures,
 * then its failures for this email (both before any hashing), then a free hashing slot.
 * Known and unknown emails take the same path and cost the same scrypt.
 */
export async function checkPassword(deps: DashboardDeps, request: FastifyRequest, emailInput: string, passwordInput: string): Promise<PasswordCheck> {
  if (!deps.signInMethods.password) return { ok: false, status: 403, text: passwordsOffText(deps) }
  const email = emailInput.trim().slice(0, MAX_EMAIL_CHARS)
  const password = passwordInput.slice(0, MAX_PASSWORD_BYTES)
  const ipWait = deps.ipLimiter.retryAfterMs(request.ip, '')
  if (ipWait > 0) return tooMany(ipWait, 'from your network')
  const accountWait = deps.loginLimiter.retryAfterMs(request.ip, email)
  if (accountWait > 0) return tooMany(accountWait, 'for this email from your network')
  if (!email || !password) return { ok: false, status: 400, text: 'Enter your email and password.' }

  const checked = await deps.hashGate.run(async () => {
    const user = await deps.store.getUserByEmail(email)
    const ok = user ? await verifyPassword(password, user.password_hash) : (await verifyPassword(password, await dummy()), false)
    return ok && user ? user : null
  })
  if (checked === null) return { ok: false, status: 429, retryAfterS: 1, text: 'The server is busy checking other sign-ins. Try again in a moment.' }
  if (!checked.value) {
    deps.ipLimiter.recordFailure(request.ip, '')
    deps.loginLimiter.recordFailure(request.ip, email)
    return { ok: false, status: 401, text: 'That email and password do not match an account.' }
  }
  deps.loginLimiter.recordSuccess(request.ip, email)
  const { password_hash: _hash, ...user } = checked.value
  return { ok: true, user }
}

/** Starts a fresh session for `user` (never reusing one from before) and rotates the sign-in token. */
export async function signIn(deps: DashboardDeps, request: FastifyRequest, reply: FastifyReply, user: User): Promise<void> {
  await deps.sessions.end(request, reply)
  reply.removeHeader('set-cookie')
  await deps.sessions.start(reply, user)
  deps.sessions.clearLoginCsrf(reply) // the next sign-in form gets a new token
}

export function registerAuthRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  app.get('/login', async (request, reply) => {
    const next = safeNextPath((request.query as Record<string, unknown>).next)
    if (await deps.sessions.viewer(request)) return reply.redirect(next, 303)
    const csrf = deps.sessions.loginCsrfToken(request, reply)
    return sendPage(deps, reply, 200, { title: 'Sign in', viewer: null, section: 'none', notices: noticeFromQuery(request), main: loginForm({ next, csrf, methods: deps.signInMethods }) })
  })

  app.post('/login', async (request, reply) => {
    const form = formFields(request)
    // Login CSRF: without the token from our own sign-in form, nothing happens — no password
    // check, no rate-limit count, no session (another site could otherwise sign the visitor
    // in to an account of its choosing).
    if (!deps.sessions.loginCsrfMatches(request, form._csrf)) return refuseForbidden(request, reply)
    const email = (form.email ?? '').trim().slice(0, MAX_EMAIL_CHARS)
    const next = safeNextPath(form.next)
    const checked = await checkPassword(deps, request, email, form.password ?? '')
    if (!checked.ok) {
      if (checked.retryAfterS) reply.header('retry-after', String(checked.retryAfterS))
      return sendPage(deps, reply, checked.status, { title: 'Sign in', viewer: null, section: 'none', notices: [{ kind: 'error', text: checked.text }], main: loginForm({ email, next, csrf: form._csrf, methods: deps.signInMethods }) })
    }
    await signIn(deps, request, reply, checked.user)
    return reply.redirect(next, 303)
  })

  app.post('/logout', async (request, reply) => {
    const viewer = await deps.sessions.viewer(request)
    if (viewer && !checkCsrf(viewer, request, reply)) return reply
    await deps.sessions.end(request, reply)
    return reply.redirect('/login?notice=signed_out', 303)
  })

  // Ends every session of the user: other browsers, forgotten devices, and this one.
  app.post('/logout/everywhere', async (request, reply) => {
    const viewer = await deps.sessions.viewer(request)
    if (!viewer) return reply.redirect('/login', 303)
    if (!checkCsrf(viewer, request, reply)) return reply
    await deps.store.deleteUserSessions(viewer.user.id)
    await deps.sessions.end(request, reply)
    return reply.redirect('/login?notice=signed_out_everywhere', 303)
  })

  app.post('/project', async (request, reply) => {
    const viewer = await requireViewer(deps, request, reply)
    if (!viewer || !checkCsrf(viewer, request, reply)) return reply
    const wanted = formFields(request).project_id
    const project = viewer.projects.find((p) => p.id === wanted)
    if (!project) return reply.code(404).type('text/plain; charset=utf-8').send('You are not a member of that project.')
    deps.sessions.selectProject(reply, project.id)
    return reply.redirect('/?notice=project_switched', 303)
  })
}
