/**
 * Settings: project rules, members and invitations, API keys. Reading is open to members;
 * every change is admin-only, CSRF-checked and made through the admin service (the same rules
 * as the CLI, recorded in the audit trail).
 *
 * Where the browser ends up: a change made from a row of a list (role, GitHub login, remove,
 * revoke) is answered with a redirect back to the list and a fixed notice, whether it worked
 * or was refused, so the address bar never shows a POST URL. The three forms that post to
 * their own page's URL (project settings, invite, create key) answer a refusal on that page
 * with what was typed, and creating a key or an invitation answers with its secret, shown
 * once, instead of redirecting. Removing a member and revoking a key or an invitation first
 * show a confirmation page (a GET of the same URL), whose CSRF-protected form makes the change:
 * the list's button is a plain link to it, so the step works without JavaScript.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InvalidDurationError, parseDuration } from '../../../shared/duration.js'
import { isAdminError, type AdminError } from '../../admin/admin-service.js'
import { MAX_DEFAULT_EXPIRY_MS } from '../../admin/rules.js'
import { formFields } from '../security.js'
import type { SafeHtml } from '../html.js'
import { keysPage, membersPage, projectSettingsPage, removeMemberConfirm, revokeInvitationConfirm, revokeKeyConfirm, type InviteForm } from '../views/settings-view.js'
import { checkCsrf, noticeFromQuery, requireAdmin, requireViewer, sendPage, type DashboardDeps, type ProjectViewer } from './common.js'
import type { Notice } from '../views/layout.js'

/** Sign-in, CSRF and admin gates of every settings change, in one place. */
export async function adminForChange(deps: DashboardDeps, request: FastifyRequest, reply: FastifyReply): Promise<ProjectViewer | null> {
  const viewer = await requireViewer(deps, request, reply)
  if (!viewer || !checkCsrf(viewer, request, reply)) return null
  return (await requireAdmin(deps, viewer, reply)) ? viewer : null
}

/** An admin service refusal as the sentence a form shows ("Choose the role…"). */
export function refusalText(error: unknown): string | null {
  if (!isAdminError(error)) return null
  return `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.`
}

export function registerSettingsRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  registerProjectSettingsRoutes(app, deps)
  registerMemberRoutes(app, deps)
  registerInvitationRoutes(app, deps)
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

  // The form posts to its page's own URL, so a refused value is shown (and can be fixed) on
  // `/settings`; `/settings/project` is the older address of the same form.
  const save = async (request: FastifyRequest, reply: FastifyReply) => {
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
  }
  app.post('/settings', save)
  app.post('/settings/project', save)
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

/** Which fixed notice (see `NOTICES`) says why the admin service refused a change, by its refusal code. */
type RefusalNotices = Partial<Record<AdminError['code'], string>>

/**
 * Runs an admin change made from a row of a settings list, then redirects back to the list
 * with a fixed notice: `ok` on success, the refusal's notice otherwise. Either way the browser
 * ends on the list's own URL, never on the POST URL (reloading cannot repeat the change).
 */
async function rowChange(
  deps: DashboardDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  list: string,
  notices: { ok: string; refused: RefusalNotices },
  change: (viewer: ProjectViewer) => Promise<string | void>,
): Promise<FastifyReply> {
  const viewer = await adminForChange(deps, request, reply)
  if (!viewer) return reply
  let notice = notices.ok
  try {
    notice = (await change(viewer)) ?? notices.ok
  } catch (error) {
    const refused = isAdminError(error) ? notices.refused[error.code] : undefined
    if (!refused) throw error
    notice = refused
  }
  return reply.redirect(`${list}?notice=${notice}`, 303)
}

/** The admin viewer of a confirmation page (GET): signed in, in a project, an admin. */
export async function adminForConfirm(deps: DashboardDeps, request: FastifyRequest, reply: FastifyReply): Promise<ProjectViewer | null> {
  const viewer = await requireViewer(deps, request, reply)
  if (!viewer) return null
  return (await requireAdmin(deps, viewer, reply)) ? viewer : null
}

function confirmReply(deps: DashboardDeps, viewer: ProjectViewer, reply: FastifyReply, title: string, main: SafeHtml): Promise<FastifyReply> {
  return sendPage(deps, reply, 200, { title, viewer, section: 'settings', main })
}

function registerMemberRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  app.get('/settings/members', async (request, reply) => {
    const viewer = await requireViewer(deps, request, reply)
    return viewer ? renderMembers(deps, viewer, reply, 200, { notices: noticeFromQuery(request) }) : reply
  })

  // Adding someone always issues an invitation link, whether or not the email has an account:
  // the answer is the same either way, and no existing account is changed. A refused form is
  // answered on this same URL (the members page) with what was typed, so nothing is lost.
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

  app.post<{ Params: { userId: string } }>('/settings/members/:userId/role', async (request, reply) =>
    rowChange(deps, request, reply, '/settings/members', { ok: 'role_changed', refused: { invalid: 'bad_role', last_admin: 'last_admin_role', not_found: 'not_a_member' } }, (viewer) =>
      deps.admin.setRole(viewer.project, viewer.user.email, request.params.userId, formFields(request).role ?? ''),
    ),
  )

  app.post<{ Params: { userId: string } }>('/settings/members/:userId/github', async (request, reply) =>
    rowChange(deps, request, reply, '/settings/members', { ok: 'github_linked', refused: { invalid: 'bad_github_login', not_found: 'not_a_member' } }, (viewer) =>
      deps.admin.linkGithub(viewer.project, viewer.user.email, request.params.userId, formFields(request).github_login ?? ''),
    ),
  )

  app.get<{ Params: { userId: string } }>('/settings/members/:userId/remove', async (request, reply) => {
    const viewer = await adminForConfirm(deps, request, reply)
    if (!viewer) return reply
    const members = await deps.store.listMembers(viewer.project.id)
    const member = members.find((m) => m.id === request.params.userId)
    if (!member) return reply.redirect('/settings/members?notice=not_a_member', 303)
    if (member.role === 'admin' && members.filter((m) => m.role === 'admin').length === 1) return reply.redirect('/settings/members?notice=last_admin_remove', 303)
    const main = removeMemberConfirm({ member, projectName: viewer.project.name, self: member.id === viewer.user.id, csrf: viewer.session.csrf_token })
    return confirmReply(deps, viewer, reply, 'Remove member', main)
  })

  app.post<{ Params: { userId: string } }>('/settings/members/:userId/remove', async (request, reply) =>
    rowChange(deps, request, reply, '/settings/members', { ok: 'member_removed', refused: { last_admin: 'last_admin_remove', not_found: 'not_a_member' } }, (viewer) =>
      deps.admin.removeMember(viewer.project, viewer.user.email, request.params.userId),
    ),
  )
}

function registerInvitationRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  // Destructive changes have a confirmation page (GET) whose form makes the change (POST).
  app.get<{ Params: { invitationId: string } }>('/settings/invitations/:invitationId/revoke', async (request, reply) => {
    const viewer = await adminForConfirm(deps, request, reply)
    if (!viewer) return reply
    const invitation = (await deps.store.listOpenInvitations(viewer.project.id)).find((i) => i.id === request.params.invitationId)
    if (!invitation) return reply.redirect('/settings/members?notice=no_such_invitation', 303)
    return confirmReply(deps, viewer, reply, 'Revoke invitation', revokeInvitationConfirm({ invitation, csrf: viewer.session.csrf_token }))
  })

  app.post<{ Params: { invitationId: string } }>('/settings/invitations/:invitationId/revoke', async (request, reply) =>
    rowChange(deps, request, reply, '/settings/members', { ok: 'invitation_revoked', refused: { not_found: 'no_such_invitation' } }, (viewer) =>
      deps.admin.revokeInvitation(viewer.project, viewer.user.email, request.params.invitationId),
    ),
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

  app.get<{ Params: { keyId: string } }>('/settings/keys/:keyId/revoke', async (request, reply) => {
    const viewer = await adminForConfirm(deps, request, reply)
    if (!viewer) return reply
    const key = (await deps.store.listApiKeys(viewer.project.id)).find((k) => k.id === request.params.keyId)
    if (!key) return reply.redirect('/settings/keys?notice=no_such_key', 303)
    if (key.revoked_at) return reply.redirect('/settings/keys?notice=key_already_revoked', 303)
    return confirmReply(deps, viewer, reply, 'Revoke API key', revokeKeyConfirm({ key, csrf: viewer.session.csrf_token }))
  })

  app.post<{ Params: { keyId: string } }>('/settings/keys/:keyId/revoke', async (request, reply) =>
    rowChange(deps, request, reply, '/settings/keys', { ok: 'key_revoked', refused: { not_found: 'no_such_key' } }, async (viewer) => {
      const { already } = await deps.admin.revokeKey(viewer.project, viewer.user.email, request.params.keyId)
      return already ? 'key_already_revoked' : undefined
    }),
  )
}
