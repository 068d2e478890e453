/**
 * The signed-in user's account (change password, sign out everywhere) and invitation links
 * (`/invite/{token}`): signed in as the invited email, one button joins; otherwise the
 * invited account signs in, or a new one is created with a chosen password. A link works
 * once, for its project only, until it expires; a forged, used, revoked or expired link
 * gets the same 404 page.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { isAdminError } from '../../admin/admin-service.js'
import type { Invitation } from '../../store/types.js'
import type { SafeHtml } from '../html.js'
import { formFields } from '../security.js'
import type { Viewer } from '../session.js'
import { accountPage, createAccountPage, INVALID_INVITATION, joinPage, signInToJoinPage, wrongAccountPage } from '../views/account-view.js'
import type { Notice } from '../views/layout.js'
import { checkCsrf, noticeFromQuery, refuseForbidden, sendPage, type DashboardDeps } from './common.js'
import { checkPassword, passwordsOffText, signIn } from './sign-in-pages.js'
import { ssoButton } from '../views/login-view.js'
import { html } from '../html.js'

export function registerAccountRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const render = (viewer: Viewer, reply: FastifyReply, status: number, notices: Notice[]) =>
    sendPage(deps, reply, status, { title: 'Account', viewer, section: 'none', notices, main: accountPage({ email: viewer.user.email, csrf: viewer.session.csrf_token, projects: viewer.projects, passwordLogin: deps.signInMethods.password }) })

  app.get('/account', async (request, reply) => {
    const viewer = await deps.sessions.viewer(request)
    if (!viewer) return reply.redirect('/login?next=%2Faccount', 303)
    return render(viewer, reply, 200, noticeFromQuery(request))
  })

  // A new password ends every session of the account (other browsers, a thief's cookie), then
  // signs this browser in again.
  app.post('/account/password', async (request, reply) => {
    const viewer = await deps.sessions.viewer(request)
    if (!viewer) return reply.redirect('/login', 303)
    if (!checkCsrf(viewer, request, reply)) return reply
    const form = formFields(request)
    const fail = (status: number, text: string) => render(viewer, reply, status, [{ kind: 'error', text }])
    if ((form.new_password ?? '') !== (form.confirm_password ?? '')) return fail(400, 'The two new passwords differ.')
    const checked = await checkPassword(deps, request, viewer.user.email, form.current_password ?? '')
    if (!checked.ok) {
      if (checked.retryAfterS) reply.header('retry-after', String(checked.retryAfterS))
      return fail(checked.status, checked.status === 401 ? 'Your current password is not right.' : checked.text)
    }
    let changed: { value: unknown } | null
    try {
      changed = await deps.hashGate.run(() => deps.admin.setPassword(viewer.user.id, form.new_password ?? ''))
    } catch (error) {
      if (!isAdminError(error)) throw error
      return fail(400, `The new password is refused: ${error.message}.`)
    }
    if (changed === null) {
      reply.header('retry-after', '1')
      return fail(429, 'The server is busy. Try again in a moment.')
    }
    await signIn(deps, request, reply, viewer.user)
    return reply.redirect('/account?notice=password_changed', 303)
  })

  // Each member links their own Slack user, per project, through the admin service (audited).
  app.post('/account/slack', async (request, reply) => {
    const viewer = await deps.sessions.viewer(request)
    if (!viewer) return reply.redirect('/login', 303)
    if (!checkCsrf(viewer, request, reply)) return reply
    const form = formFields(request)
    const project = viewer.projects.find((membership) => membership.id === form.project_id)
    if (!project) return render(viewer, reply, 404, [{ kind: 'error', text: 'You are not a member of that project. Nothing was changed.' }])
    try {
      await deps.admin.linkSlack(project, viewer.user.email, viewer.user.id, form.slack_user_id ?? '')
    } catch (error) {
      if (!isAdminError(error)) throw error
      return render(viewer, reply, error.code === 'conflict' ? 409 : 400, [{ kind: 'error', text: `The Slack user id is refused: ${error.message}. Nothing was changed.` }])
    }
    return reply.redirect('/account?notice=slack_linked', 303)
  })

  registerInvitationRoutes(app, deps)
}

interface OpenLink {
  token: string
  invitation: Invitation
  projectName: string
}

/** The invitation behind a link, if it can still be accepted. */
async function openLink(deps: DashboardDeps, token: string): Promise<OpenLink | null> {
  const invitation = await deps.admin.openInvitation(token)
  const project = invitation ? await deps.store.getProject(invitation.project_id) : null
  return invitation && project ? { token, invitation, projectName: project.name } : null
}

function sameEmail(a: string, b: string): boolean {
  return a.trim().toLowerCase() === b.trim().toLowerCase()
}

function registerInvitationRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const show = (reply: FastifyReply, viewer: Viewer | null, status: number, main: SafeHtml, notices: Notice[] = []) =>
    sendPage(deps, reply, status, { title: 'Invitation', viewer, section: 'none', notices, main })

  app.get<{ Params: { token: string } }>('/invite/:token', async (request, reply) => {
    const link = await openLink(deps, request.params.token)
    const viewer = await deps.sessions.viewer(request)
    if (!link) return show(reply, viewer, 404, INVALID_INVITATION)
    return show(reply, viewer, 200, await invitationForm(deps, request, reply, link, viewer))
  })

  app.post<{ Params: { token: string } }>('/invite/:token', async (request, reply) => {
    const viewer = await deps.sessions.viewer(request)
    const form = formFields(request)
    // Signed in: the session's CSRF token; not signed in: the sign-in form's double-submit token.
    if (viewer ? !checkCsrf(viewer, request, reply) : !deps.sessions.loginCsrfMatches(request, form._csrf)) return viewer ? reply : refuseForbidden(request, reply)
    const link = await openLink(deps, request.params.token)
    if (!link) return show(reply, viewer, 404, INVALID_INVITATION)
    const retry = async (status: number, text: string) => show(reply, viewer, status, await invitationForm(deps, request, reply, link, viewer), [{ kind: 'error', text }])

    if (viewer) {
      if (!sameEmail(viewer.user.email, link.invitation.email)) return retry(403, 'This invitation is for another account.')
      return joined(deps, reply, link, await deps.admin.acceptAsUser(link.token, viewer.user))
    }
    if (await deps.store.getUserByEmail(link.invitation.email)) {
      const checked = await checkPassword(deps, request, link.invitation.email, form.password ?? '')
      if (!checked.ok) {
        if (checked.retryAfterS) reply.header('retry-after', String(checked.retryAfterS))
        return retry(checked.status, checked.text)
      }
      const accepted = await deps.admin.acceptAsUser(link.token, checked.user)
      if (accepted) await signIn(deps, request, reply, checked.user)
      return joined(deps, reply, link, accepted)
    }
    return createAndJoin(deps, request, reply, link, retry)
  })
}

/** A new account for the invited email, with the password the visitor chose. */
async function createAndJoin(deps: DashboardDeps, request: FastifyRequest, reply: FastifyReply, link: OpenLink, retry: (status: number, text: string) => Promise<FastifyReply>): Promise<FastifyReply> {
  if (!deps.signInMethods.password) return retry(403, passwordsOffText(deps))
  const form = formFields(request)
  if ((form.new_password ?? '') !== (form.confirm_password ?? '')) return retry(400, 'The two passwords differ.')
  const slot = await deps.hashGate.run(async () => {
    try {
      return await deps.admin.acceptAsNewUser(link.token, form.new_password ?? '')
    } catch (error) {
      if (isAdminError(error)) return `The password is refused: ${error.message}.`
      throw error
    }
  })
  if (slot === null) {
    reply.header('retry-after', '1')
    return retry(429, 'The server is busy. Try again in a moment.')
  }
  if (typeof slot.value === 'string') return retry(400, slot.value)
  if (slot.value) await signIn(deps, request, reply, slot.value.user)
  return joined(deps, reply, link, slot.value?.invitation ?? null)
}

/** After an acceptance: into the project, or the invalid-link page when someone used it first. */
async function joined(deps: DashboardDeps, reply: FastifyReply, link: OpenLink, accepted: Invitation | null): Promise<FastifyReply> {
  if (!accepted) return sendPage(deps, reply, 404, { title: 'Invitation', viewer: null, section: 'none', main: INVALID_INVITATION })
  deps.sessions.selectProject(reply, link.invitation.project_id)
  return reply.redirect('/?notice=invitation_accepted', 303)
}

/** The form for this visitor: join, wrong account, sign in, or choose a password. */
async function invitationForm(deps: DashboardDeps, request: FastifyRequest, reply: FastifyReply, link: OpenLink, viewer: Viewer | null): Promise<SafeHtml> {
  if (viewer) {
    return sameEmail(viewer.user.email, link.invitation.email) ? joinPage({ ...link, csrf: viewer.session.csrf_token }) : wrongAccountPage({ ...link, signedInAs: viewer.user.email })
  }
  const csrf = deps.sessions.loginCsrfToken(request, reply)
  const hasAccount = (await deps.store.getUserByEmail(link.invitation.email)) !== null
  const passwordPage = !deps.signInMethods.password ? null : hasAccount ? signInToJoinPage({ ...link, csrf }) : createAccountPage({ ...link, csrf })
  if (!deps.signInMethods.sso) return passwordPage ?? INVALID_INVITATION
  // Signing in through the provider as the invited email comes back here, signed in, to join.
  const sso = html`<section class="login"><p>Sign in as <strong>${link.invitation.email}</strong> to join:</p>${ssoButton(deps.signInMethods.sso, `/invite/${link.token}`)}</section>`
  return html`${passwordPage ?? html`<h1 id="invite-title">Join ${link.projectName}</h1>`}${sso}`
}

