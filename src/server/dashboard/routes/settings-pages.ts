/**
 * Settings: project rules, members and invitations, API keys. Reading is open to members;
 * every change is admin-only, CSRF-checked, made through the admin service (the same rules
 * as the CLI, recorded in the audit trail) and answered with a redirect — except creating a
 * key or an invitation, whose secret is shown once in the answer itself.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InvalidDurationError, parseDuration } from '../../../shared/duration.js'
import { isAdminError } from '../../admin/admin-service.js'
import { MAX_DEFAULT_EXPIRY_MS } from '../../admin/rules.js'
import { formFields } from '../security.js'
import { keysPage, membersPage, projectSettingsPage, type InviteForm } from '../views/settings-view.js'
import { checkCsrf, noticeFromQuery, requireAdmin, requireViewer, sendPage, type DashboardDeps, type ProjectViewer } from './common.js'
import type { Notice } from '../views/layout.js'

/** Sign-in, CSRF and admin gates of every settings change, in one place. */
async function adminForChange(deps: DashboardDeps, request: FastifyRequest, reply: FastifyReply): Promise<ProjectViewer | null> {
  const viewer = await requireViewer(deps, request, reply)
  if (!viewer || !checkCsrf(viewer, request, reply)) return null
  return (await requireAdmin(deps, viewer, reply)) ? viewer : null
}

/** An admin service refusal as the sentence a form shows ("Choose the role…"). */
function refusalText(error: unknown): string | null {
  if (!isAdminError(error)) return null
  return `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.`
}

const REFUSAL_STATUS = { invalid: 400, last_admin: 400, conflict: 409, not_found: 404 } as const

export function registerSettingsRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  registerProjectSettingsRoutes(app, deps)
  registerMemberRoutes(app, deps)
  registerKeyRoutes(app, deps)
}

// ---- project settings -------------------------------------------------------------------

function registerProjectSettingsRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const render = (viewer: ProjectViewer, reply: FastifyReply, status: number, notices: Notice[], expiryText?: string) =>
    sendPage(deps, reply, status, {
      title: 'Settings',
      viewer,
      section: 'settings',
      notices,
      main: projectSettingsPage({ project: viewer.project, isAdmin: viewer.project.role === 'admin', csrf: viewer.session.csrf_token, expiryText }),
    })

  app.get('/settings', async (request, reply) => {
    const viewer = await requireViewer(deps, request, reply)
    return viewer ? render(viewer, reply, 200, noticeFromQuery(request)) : reply
  })

  app.post('/settings/project', async (request, reply) => {
    const viewer = await adminForChange(deps, request, reply)
    if (!viewer) return reply
    const form = formFields(request)
    const expiryText = form.default_expiry ?? ''
    let defaultTimeoutMs: number
    try {
      defaultTimeoutMs = parseDuration(expiryText, { maxMs: MAX_DEFAULT_EXPIRY_MS })
    } catch (error) {
      const text = error instanceof InvalidDurationError ? `Default expiry: ${error.message}.` : 'Default expiry is not a duration.'
      return render(viewer, reply, 400, [{ kind: 'error', text }], expiryText)
    }
    await deps.admin.updateSettings(viewer.project, viewer.user.email, { blockSelfApproval: form.block_self_approval === 'on', defaultTimeoutMs })
    return reply.redirect('/settings?notice=settings_saved', 303)
  })
}

// ---- members and invitations ------------------------------------------------------------

interface MembersExtra {
  notices?: Notice[]
  form?: InviteForm
  newInvitation?: { email: string; link: string; expiresAt: string }
}

async function renderMembers(deps: DashboardDeps, viewer: ProjectViewer, reply: FastifyReply, status: number, extra: MembersExtra = {}): Promise<FastifyReply> {
  const isAdmin = viewer.project.role === 'admin'
  return sendPage(deps, reply, status, {
    title: 'Members',
    viewer,
    section: 'settings',
    notices: extra.notices ?? [],
    main: membersPage({
      members: await deps.store.listMembers(viewer.project.id),
      invitations: isAdmin ? await deps.store.listOpenInvitations(viewer.project.id) : [],
      isAdmin,
      csrf: viewer.session.csrf_token,
      selfId: viewer.user.id,
      form: extra.form,
      newInvitation: extra.newInvitation,
      now: new Date().toISOString(),
    }),
  })
}

/** Runs an admin change on the members page: a redirect with `notice` on success, the page with the refusal otherwise. */
async function memberChange(deps: DashboardDeps, request: FastifyRequest, reply: FastifyReply, notice: string, change: (viewer: ProjectViewer) => Promise<void>): Promise<FastifyReply> {
  const viewer = await adminForChange(deps, request, reply)
  if (!viewer) return reply
  try {
    await change(viewer)
  } catch (error) {
    const text = refusalText(error)
    if (text === null || !isAdminError(error)) throw error
    return renderMembers(deps, viewer, reply, REFUSAL_STATUS[error.code], { notices: [{ kind: 'error', text }] })
  }
  return reply.redirect(`/settings/members?notice=${notice}`, 303)
}

function registerMemberRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  app.get('/settings/members', async (request, reply) => {
    const viewer = await requireViewer(deps, request, reply)
    return viewer ? renderMembers(deps, viewer, reply, 200, { notices: noticeFromQuery(request) }) : reply
  })

  // Adding someone always issues an invitation link, whether or not the email has an account:
  // the answer is the same either way, and no existing account is changed.
  app.post('/settings/members', async (request, reply) => {
    const viewer = await adminForChange(deps, request, reply)
    if (!viewer) return reply
    const form = formFields(request)
    const echo: InviteForm = { email: (form.email ?? '').trim().slice(0, 320), role: form.role ?? 'member', github_login: (form.github_login ?? '').trim().slice(0, 39) }
    try {
      const { invitation, token } = await deps.admin.invite(viewer.project, viewer.user.email, { email: echo.email, role: echo.role, githubLogin: echo.github_login })
      const link = `${deps.publicUrl}/invite/${token}`
      // Answered directly (no redirect) so the link exists in exactly one response, which is not cached.
      return renderMembers(deps, viewer, reply, 201, { newInvitation: { email: invitation.email, link, expiresAt: invitation.expires_at } })
    } catch (error) {
      const text = refusalText(error)
      if (text === null) throw error
      return renderMembers(deps, viewer, reply, 400, { notices: [{ kind: 'error', text }], form: echo })
    }
  })

  app.post<{ Params: { invitationId: string } }>('/settings/invitations/:invitationId/revoke', async (request, reply) =>
    memberChange(deps, request, reply, 'invitation_revoked', (viewer) => deps.admin.revokeInvitation(viewer.project, viewer.user.email, request.params.invitationId)),
  )

  app.post<{ Params: { userId: string } }>('/settings/members/:userId/role', async (request, reply) =>
    memberChange(deps, request, reply, 'role_changed', (viewer) => deps.admin.setRole(viewer.project, viewer.user.email, request.params.userId, formFields(request).role ?? '')),
  )

  app.post<{ Params: { userId: string } }>('/settings/members/:userId/github', async (request, reply) =>
    memberChange(deps, request, reply, 'github_linked', (viewer) => deps.admin.linkGithub(viewer.project, viewer.user.email, request.params.userId, formFields(request).github_login ?? '')),
  )

  app.post<{ Params: { userId: string } }>('/settings/members/:userId/remove', async (request, reply) =>
    memberChange(deps, request, reply, 'member_removed', (viewer) => deps.admin.removeMember(viewer.project, viewer.user.email, request.params.userId)),
  )
}

// ---- API keys ---------------------------------------------------------------------------

function registerKeyRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const render = async (viewer: ProjectViewer, reply: FastifyReply, status: number, extra: { notices?: Notice[]; newKey?: Parameters<typeof keysPage>[0]['newKey'] } = {}) => {
    const isAdmin = viewer.project.role === 'admin'
    return sendPage(deps, reply, status, {
      title: 'API keys',
      viewer,
      section: 'settings',
      notices: extra.notices ?? [],
      main: keysPage({ keys: isAdmin ? await deps.store.listApiKeys(viewer.project.id) : [], isAdmin, csrf: viewer.session.csrf_token, newKey: extra.newKey }),
    })
  }

  app.get('/settings/keys', async (request, reply) => {
    const viewer = await requireViewer(deps, request, reply)
    return viewer ? render(viewer, reply, 200, { notices: noticeFromQuery(request) }) : reply
  })

  app.post('/settings/keys', async (request, reply) => {
    const viewer = await adminForChange(deps, request, reply)
    if (!viewer) return reply
    const form = formFields(request)
    try {
      const created = await deps.admin.createKey(viewer.project, viewer.user.email, { name: form.name ?? '', scopes: form.scope ? [form.scope] : [] })
      // Answered directly (no redirect) so the key exists in exactly one response, which is not cached.
      const notices: Notice[] = created.warning ? [{ kind: 'error', text: `Warning: ${created.warning}` }] : []
      return render(viewer, reply, 201, { notices, newKey: { key: created.key, info: created.info } })
    } catch (error) {
      const text = refusalText(error)
      if (text === null) throw error
      return render(viewer, reply, 400, { notices: [{ kind: 'error', text }] })
    }
  })

  app.post<{ Params: { keyId: string } }>('/settings/keys/:keyId/revoke', async (request, reply) => {
    const viewer = await adminForChange(deps, request, reply)
    if (!viewer) return reply
    try {
      await deps.admin.revokeKey(viewer.project, viewer.user.email, request.params.keyId)
    } catch (error) {
      if (!isAdminError(error) || error.code !== 'not_found') throw error
      return render(viewer, reply, 404, { notices: [{ kind: 'error', text: 'This project has no such key.' }] })
    }
    return reply.redirect('/settings/keys?notice=key_revoked', 303)
  })
}
