/** What every dashboard route shares: the dependencies, page replies, and the sign-in and CSRF gates. */
import type { FastifyReply, FastifyRequest } from 'fastify'
import type { Actor, ApprovalService, Notifier } from '../../approvals/contracts.js'
import type { ProjectMembership, Store } from '../../store/types.js'
import type { AuditVerificationCache } from '../audit-verification-cache.js'
import { html, type SafeHtml } from '../html.js'
import type { AdminService } from '../../admin/admin-service.js'
import type { ChannelService } from '../../admin/channel-service.js'
import { GITHUB_LOGIN_RULE } from '../../admin/rules.js'
import type { HashGate, LoginLimiter } from '../rate-limit.js'
import type { SingleSignOn } from '../sso.js'
import type { SignInMethods } from '../views/login-view.js'
import { formFields } from '../security.js'
import { csrfTokenMatches, type Sessions, type Viewer } from '../session.js'
import { page, type PageInput } from '../views/layout.js'

export interface DashboardDeps {
  store: Store
  approvals: ApprovalService
  notifier: Notifier
  publicUrl: string
  sessions: Sessions
  /** The one writer of members, invitations, keys and settings (shared with the CLI). */
  admin: AdminService
  /** The one writer of notification channels (shared with the CLI). */
  channels: ChannelService
  /** Asks the delivery worker to look now (after a redelivery); absent without one. */
  wakeDeliveries?: () => void
  /** Failed sign-ins per client address + email. */
  loginLimiter: LoginLimiter
  /** Failed sign-ins per client address (email ''), checked before any hashing. */
  ipLimiter: LoginLimiter
  /** Password hashes running at once. */
  hashGate: HashGate
  auditVerifications: AuditVerificationCache
  /** How long a decided card stays on the live home page; undefined: the page script's default. */
  resolvedCardLingerMs?: number
  /** Single sign-on through an OpenID provider, when configured. */
  sso: SingleSignOn | null
  /** Which sign-in methods the pages offer and the routes accept. */
  signInMethods: SignInMethods
}

/** A viewer who is in a project (every page except sign-in works on one project). */
export type ProjectViewer = Viewer & { project: ProjectMembership }

/** The signed-in member as the approval service sees them (policies name members by email). */
export function actorOf(viewer: ProjectViewer): Actor {
  return { label: viewer.user.email, email: viewer.user.email, githubLogin: viewer.project.github_login }
}

export function sendHtml(reply: FastifyReply, status: number, body: SafeHtml): FastifyReply {
  return reply.code(status).type('text/html; charset=utf-8').send(body.value)
}

/** Renders a full page; the pending count for the title is looked up here. */
export async function sendPage(deps: DashboardDeps, reply: FastifyReply, status: number, input: Omit<PageInput, 'pending' | 'resolvedCardLingerMs'>): Promise<FastifyReply> {
  const pending = input.viewer?.project ? await deps.store.countPending(input.viewer.project.id) : undefined
  return sendHtml(reply, status, page({ ...input, pending, resolvedCardLingerMs: deps.resolvedCardLingerMs }))
}

/** Fetches from the client script ask for JSON; plain form posts get pages and redirects. */
export function wantsJson(request: FastifyRequest): boolean {
  return (request.headers.accept ?? '').includes('application/json')
}

/** 403 for cross-site or token-less state changes; says what to do, reveals nothing. */
export function refuseForbidden(request: FastifyRequest, reply: FastifyReply): FastifyReply {
  const message = 'This form was sent from another site or its security token is missing or out of date. Reload the page and try again.'
  if (wantsJson(request)) return reply.code(403).send({ error: { code: 'forbidden', message } })
  return sendHtml(reply, 403, page({ title: 'Refused', viewer: null, section: 'none', main: html`<h1>Request refused</h1><p>${message}</p><p><a href="/">Back to the dashboard</a></p>` }))
}

/**
 * Loads the signed-in viewer with a project, or answers for the caller: GET pages redirect to
 * sign-in (coming back afterwards), other requests get 401; a user without a project sees why.
 */
export async function requireViewer(deps: DashboardDeps, request: FastifyRequest, reply: FastifyReply, projectId?: string): Promise<ProjectViewer | null> {
  const viewer = await deps.sessions.viewer(request, projectId)
  if (!viewer) {
    if (request.method === 'GET' || request.method === 'HEAD') {
      const next = request.url === '/' ? '' : `?next=${encodeURIComponent(request.url)}`
      await reply.redirect(`/login${next}`, 303)
    } else if (wantsJson(request)) {
      await reply.code(401).send({ error: { code: 'unauthorized', message: 'Your session has ended. Sign in again.' } })
    } else {
      await reply.redirect('/login', 303)
    }
    return null
  }
  if (!viewer.project) {
    await sendPage(deps, reply, 403, {
      title: 'No project',
      viewer,
      section: 'none',
      main: html`<h1>No project yet</h1><p>Your account is not a member of any project. Ask a project admin to add <strong>${viewer.user.email}</strong> under Settings → Members.</p>`,
    })
    return null
  }
  return viewer as ProjectViewer
}

/** The CSRF gate of every state-changing route: the session's token must come back in `_csrf`. */
export function checkCsrf(viewer: Viewer, request: FastifyRequest, reply: FastifyReply): boolean {
  if (csrfTokenMatches(viewer.session, formFields(request)._csrf)) return true
  refuseForbidden(request, reply)
  return false
}

/** Admin-only actions: a member gets a clear 403. */
export async function requireAdmin(deps: DashboardDeps, viewer: ProjectViewer, reply: FastifyReply): Promise<boolean> {
  if (viewer.project.role === 'admin') return true
  await sendPage(deps, reply, 403, {
    title: 'Admins only',
    viewer,
    section: 'settings',
    main: html`<h1>Admins only</h1><p>Only admins of ${viewer.project.name} can do this.</p><p><a href="/settings">Back to settings</a></p>`,
  })
  return false
}

/** Fixed notices selected by a `?notice=` code after a redirect (never echoes request text). */
export const NOTICES: Record<string, { kind: 'ok' | 'error' | 'info'; text: string }> = {
  signed_out: { kind: 'info', text: 'You are signed out.' },
  approved: { kind: 'ok', text: 'Approved. The waiting job continues.' },
  rejected: { kind: 'ok', text: 'Rejected. The waiting job stops.' },
  voted: { kind: 'ok', text: 'Your vote is counted. The request waits for the other approvals its rule needs.' },
  settings_saved: { kind: 'ok', text: 'Project settings saved.' },
  signed_out_everywhere: { kind: 'info', text: 'You are signed out on every device.' },
  password_changed: { kind: 'ok', text: 'Password changed. Every other session of your account has ended.' },
  invitation_accepted: { kind: 'ok', text: 'Welcome: you are now a member of this project.' },
  invitation_revoked: { kind: 'ok', text: 'Invitation revoked: its link no longer works.' },
  member_removed: { kind: 'ok', text: 'Member removed.' },
  role_changed: { kind: 'ok', text: 'Role changed.' },
  github_linked: { kind: 'ok', text: 'GitHub login saved.' },
  slack_linked: { kind: 'ok', text: 'Slack user saved.' },
  key_revoked: { kind: 'ok', text: 'API key revoked. Requests using it now get 401.' },
  key_already_revoked: { kind: 'info', text: 'That API key was already revoked.' },
  github_mapped: { kind: 'ok', text: 'Repository mapped: its deployments waiting on a protected environment now become requests here.' },
  github_unmapped: { kind: 'ok', text: 'Mapping removed: new deployments of that repository create nothing here.' },
  no_such_mapping: { kind: 'error', text: 'This project has no such GitHub mapping. Nothing was changed.' },
  // Refusals of a settings change, shown after the redirect back to the list.
  no_such_key: { kind: 'error', text: 'This project has no such API key. Nothing was changed.' },
  no_such_invitation: { kind: 'error', text: 'This project has no such open invitation: it may have been accepted, revoked or expired already. Nothing was changed.' },
  not_a_member: { kind: 'error', text: 'That person is not a member of this project (any more). Nothing was changed.' },
  last_admin_role: { kind: 'error', text: 'A project needs at least one admin: make someone else admin first. Nothing was changed.' },
  last_admin_remove: { kind: 'error', text: 'You cannot remove the last admin of a project: make someone else admin first. Nothing was changed.' },
  bad_role: { kind: 'error', text: 'Choose the role member or admin. Nothing was changed.' },
  bad_github_login: { kind: 'error', text: `${GITHUB_LOGIN_RULE[0].toUpperCase()}${GITHUB_LOGIN_RULE.slice(1)}. Nothing was changed.` },
  project_switched: { kind: 'info', text: 'Switched project.' },
  trust_rule_removed: { kind: 'ok', text: 'Trust rule removed: workflows it let in are refused from their next request.' },
  no_such_trust_rule: { kind: 'error', text: 'This project has no such trust rule. Nothing was changed.' },
  policy_saved: { kind: 'ok', text: 'Policy saved as a new version. It applies to requests created from now on.' },
  policy_cleared: { kind: 'ok', text: 'Policy removed: any one member approves new requests.' },
  no_policy: { kind: 'info', text: 'This project has no policy to remove. Nothing was changed.' },
  channel_removed: { kind: 'ok', text: 'Channel removed: nothing more is sent to it.' },
  redelivery_queued: { kind: 'ok', text: 'Queued to be sent again.' },
  no_such_channel: { kind: 'error', text: 'This project has no such notification channel. Nothing was changed.' },
  no_such_delivery: { kind: 'error', text: 'This channel has no such delivery, or it is being sent right now. Nothing was changed.' },
}

export function noticeFromQuery(request: FastifyRequest): Array<{ kind: 'ok' | 'error' | 'info'; text: string }> {
  const code = (request.query as Record<string, unknown> | undefined)?.notice
  const notice = typeof code === 'string' ? NOTICES[code] : undefined
  return notice ? [notice] : []
}
