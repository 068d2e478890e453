/** Sign in, sign out, and switching the selected project. */
import type { FastifyInstance } from 'fastify'
import { hashPassword, verifyPassword } from '../../auth/secrets.js'
import { formFields } from '../security.js'
import { safeNextPath } from '../session.js'
import { loginForm } from '../views/login-view.js'
import { checkCsrf, noticeFromQuery, refuseForbidden, requireViewer, sendPage, type DashboardDeps } from './common.js'

const MAX_EMAIL = 320
const MAX_PASSWORD = 1024

export function registerAuthRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  // Unknown emails still cost one scrypt, so response time does not reveal which accounts exist.
  let dummyHash: Promise<string> | null = null
  const dummy = () => (dummyHash ??= hashPassword('approval-gate timing equaliser'))

  app.get('/login', async (request, reply) => {
    const next = safeNextPath((request.query as Record<string, unknown>).next)
    if (await deps.sessions.viewer(request)) return reply.redirect(next, 303)
    const csrf = deps.sessions.loginCsrfToken(request, reply)
    return sendPage(deps, reply, 200, { title: 'Sign in', viewer: null, section: 'none', notices: noticeFromQuery(request), main: loginForm({ next, csrf }) })
  })

  app.post('/login', async (request, reply) => {
    const form = formFields(request)
    // Login CSRF: without the token from our own sign-in form, nothing happens — no password
    // check, no rate-limit count, no session (another site could otherwise sign the visitor
    // in to an account of its choosing).
    if (!deps.sessions.loginCsrfMatches(request, form._csrf)) return refuseForbidden(request, reply)
    const email = (form.email ?? '').trim().slice(0, MAX_EMAIL)
    const password = (form.password ?? '').slice(0, MAX_PASSWORD)
    const next = safeNextPath(form.next)
    const fail = (status: number, text: string) =>
      sendPage(deps, reply, status, { title: 'Sign in', viewer: null, section: 'none', notices: [{ kind: 'error', text }], main: loginForm({ email, next, csrf: form._csrf }) })

    const waitMs = deps.loginLimiter.retryAfterMs(request.ip, email)
    if (waitMs > 0) {
      const minutes = Math.ceil(waitMs / 60_000)
      reply.header('retry-after', String(Math.ceil(waitMs / 1000)))
      return fail(429, `Too many failed sign-in attempts for this email from your network. Try again in ${minutes} minute${minutes === 1 ? '' : 's'}.`)
    }
    if (!email || !password) return fail(400, 'Enter your email and password.')

    const user = await deps.store.getUserByEmail(email)
    const ok = user ? await verifyPassword(password, user.password_hash) : (await verifyPassword(password, await dummy()), false)
    if (!user || !ok) {
      deps.loginLimiter.recordFailure(request.ip, email)
      return fail(401, 'That email and password do not match an account.')
    }
    deps.loginLimiter.recordSuccess(request.ip, email)
    await deps.sessions.end(request, reply) // never reuse a session that existed before sign-in
    reply.removeHeader('set-cookie')
    await deps.sessions.start(reply, user)
    deps.sessions.clearLoginCsrf(reply) // rotated: the next sign-in form gets a new token
    return reply.redirect(next, 303)
  })

  app.post('/logout', async (request, reply) => {
    const viewer = await deps.sessions.viewer(request)
    if (viewer && !checkCsrf(viewer, request, reply)) return reply
    await deps.sessions.end(request, reply)
    return reply.redirect('/login?notice=signed_out', 303)
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
