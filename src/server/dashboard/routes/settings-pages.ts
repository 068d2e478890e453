/** Settings: project rules, members, API keys. Reading is open to members; every change is admin-only and CSRF-checked. */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InvalidDurationError, parseDuration } from '../../../shared/duration.js'
import { hashPassword, newApiKey } from '../../auth/secrets.js'
import type { KeyScope, Role } from '../../store/types.js'
import { formFields } from '../security.js'
import { keysPage, membersPage, projectSettingsPage } from '../views/settings-view.js'
import { checkCsrf, noticeFromQuery, requireAdmin, requireViewer, sendPage, type DashboardDeps, type ProjectViewer } from './common.js'

const EMAIL = /^[^\s@]{1,64}@[^\s@]{1,255}$/
const GITHUB_LOGIN = /^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/
const MIN_PASSWORD = 10
const MAX_PASSWORD = 1024
const MAX_KEY_NAME = 100
const KEY_NAME = /^[\x20-\x7e]+$/
const SCOPES: readonly KeyScope[] = ['request', 'decide', 'admin']
/** Longest default expiry an admin can set (30 days). */
const MAX_DEFAULT_EXPIRY_MS = 30 * 24 * 3_600_000

function isRole(value: unknown): value is Role {
  return value === 'admin' || value === 'member'
}

/** Sign-in, CSRF and admin gates of every settings change, in one place. */
async function adminForChange(deps: DashboardDeps, request: FastifyRequest, reply: FastifyReply): Promise<ProjectViewer | null> {
  const viewer = await requireViewer(deps, request, reply)
  if (!viewer || !checkCsrf(viewer, request, reply)) return null
  return (await requireAdmin(deps, viewer, reply)) ? viewer : null
}

export function registerSettingsRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const { store } = deps

  // ---- project settings ----
  app.get('/settings', async (request, reply) => {
    const viewer = await requireViewer(deps, request, reply)
    if (!viewer) return reply
    return sendPage(deps, reply, 200, {
      title: 'Settings',
      viewer,
      section: 'settings',
      notices: noticeFromQuery(request),
      main: projectSettingsPage({ project: viewer.project, isAdmin: viewer.project.role === 'admin', csrf: viewer.session.csrf_token }),
    })
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
      return sendPage(deps, reply, 400, {
        title: 'Settings',
        viewer,
        section: 'settings',
        notices: [{ kind: 'error', text }],
        main: projectSettingsPage({ project: viewer.project, isAdmin: true, csrf: viewer.session.csrf_token, expiryText }),
      })
    }
    await store.updateProjectSettings(viewer.project.id, { blockSelfApproval: form.block_self_approval === 'on', defaultTimeoutMs })
    return reply.redirect('/settings?notice=settings_saved', 303)
  })

  // ---- members ----
  const renderMembers = async (viewer: ProjectViewer, reply: FastifyReply, status: number, extra: { error?: string; form?: { email: string; role: string; github_login: string }; request?: FastifyRequest } = {}) =>
    sendPage(deps, reply, status, {
      title: 'Members',
      viewer,
      section: 'settings',
      notices: extra.error ? [{ kind: 'error', text: extra.error }] : extra.request ? noticeFromQuery(extra.request) : [],
      main: membersPage({ members: await store.listMembers(viewer.project.id), isAdmin: viewer.project.role === 'admin', csrf: viewer.session.csrf_token, selfId: viewer.user.id, form: extra.form }),
    })

  app.get('/settings/members', async (request, reply) => {
    const viewer = await requireViewer(deps, request, reply)
    if (!viewer) return reply
    return renderMembers(viewer, reply, 200, { request })
  })

  app.post('/settings/members', async (request, reply) => {
    const viewer = await adminForChange(deps, request, reply)
    if (!viewer) return reply
    const form = formFields(request)
    const email = (form.email ?? '').trim()
    const githubLogin = (form.github_login ?? '').trim()
    const role = form.role ?? 'member'
    const password = form.password ?? ''
    const echo = { email: email.slice(0, 320), role, github_login: githubLogin.slice(0, 39) }
    const invalid = (error: string) => renderMembers(viewer, reply, 400, { error, form: echo })

    if (!EMAIL.test(email)) return invalid('Enter a valid email address.')
    if (!isRole(role)) return invalid('Choose the role Member or Admin.')
    if (githubLogin && !GITHUB_LOGIN.test(githubLogin)) return invalid('A GitHub login has 1–39 letters, digits or hyphens and does not start with a hyphen.')

    let user = await store.getUserByEmail(email)
    const existing = user !== null
    if (!user) {
      if (password.length < MIN_PASSWORD || password.length > MAX_PASSWORD) return invalid(`Give the new account an initial password of at least ${MIN_PASSWORD} characters.`)
      const created = await store.createUser({ email, password_hash: await hashPassword(password), github_login: githubLogin || null })
      user = { ...created, password_hash: '' }
    } else if (await store.getMembership(viewer.project.id, user.id)) {
      return invalid(`${email} is already a member of this project.`)
    } else if (githubLogin) {
      await store.updateUser(user.id, { github_login: githubLogin })
    }
    await store.setMembership(viewer.project.id, user.id, role)
    return reply.redirect(`/settings/members?notice=${existing ? 'member_added_existing' : 'member_added'}`, 303)
  })

  /** Loads a member of the viewer's project, and whether they are its last admin. */
  const targetMember = async (viewer: ProjectViewer, userId: string) => {
    const members = await store.listMembers(viewer.project.id)
    const member = members.find((m) => m.id === userId)
    const admins = members.filter((m) => m.role === 'admin').length
    return member ? { member, lastAdmin: member.role === 'admin' && admins === 1 } : null
  }

  app.post<{ Params: { userId: string } }>('/settings/members/:userId/role', async (request, reply) => {
    const viewer = await adminForChange(deps, request, reply)
    if (!viewer) return reply
    const role = formFields(request).role
    const target = await targetMember(viewer, request.params.userId)
    if (!target) return renderMembers(viewer, reply, 404, { error: 'That person is not a member of this project.' })
    if (!isRole(role)) return renderMembers(viewer, reply, 400, { error: 'Choose the role Member or Admin.' })
    if (target.lastAdmin && role !== 'admin') return renderMembers(viewer, reply, 400, { error: 'A project needs at least one admin: make someone else admin first.' })
    await store.setMembership(viewer.project.id, target.member.id, role)
    return reply.redirect('/settings/members?notice=role_changed', 303)
  })

  app.post<{ Params: { userId: string } }>('/settings/members/:userId/github', async (request, reply) => {
    const viewer = await adminForChange(deps, request, reply)
    if (!viewer) return reply
    const login = (formFields(request).github_login ?? '').trim()
    const target = await targetMember(viewer, request.params.userId)
    if (!target) return renderMembers(viewer, reply, 404, { error: 'That person is not a member of this project.' })
    if (login && !GITHUB_LOGIN.test(login)) return renderMembers(viewer, reply, 400, { error: 'A GitHub login has 1–39 letters, digits or hyphens and does not start with a hyphen.' })
    await store.updateUser(target.member.id, { github_login: login || null })
    return reply.redirect('/settings/members?notice=github_linked', 303)
  })

  app.post<{ Params: { userId: string } }>('/settings/members/:userId/remove', async (request, reply) => {
    const viewer = await adminForChange(deps, request, reply)
    if (!viewer) return reply
    const target = await targetMember(viewer, request.params.userId)
    if (!target) return renderMembers(viewer, reply, 404, { error: 'That person is not a member of this project.' })
    if (target.lastAdmin) return renderMembers(viewer, reply, 400, { error: 'You cannot remove the last admin of a project.' })
    await store.removeMembership(viewer.project.id, target.member.id)
    return reply.redirect('/settings/members?notice=member_removed', 303)
  })

  // ---- API keys ----
  app.get('/settings/keys', async (request, reply) => {
    const viewer = await requireViewer(deps, request, reply)
    if (!viewer) return reply
    const isAdmin = viewer.project.role === 'admin'
    return sendPage(deps, reply, 200, {
      title: 'API keys',
      viewer,
      section: 'settings',
      notices: noticeFromQuery(request),
      main: keysPage({ keys: isAdmin ? await store.listApiKeys(viewer.project.id) : [], isAdmin, csrf: viewer.session.csrf_token }),
    })
  })

  app.post('/settings/keys', async (request, reply) => {
    const viewer = await adminForChange(deps, request, reply)
    if (!viewer) return reply
    const form = formFields(request)
    const name = (form.name ?? '').trim()
    const scope = form.scope as KeyScope
    const error = !name || name.length > MAX_KEY_NAME || !KEY_NAME.test(name)
      ? `Give the key a name of 1–${MAX_KEY_NAME} printable characters.`
      : !SCOPES.includes(scope)
        ? 'Choose the scope request, decide or admin.'
        : undefined
    if (!error) {
      const generated = newApiKey()
      const info = await store.createApiKey({ project_id: viewer.project.id, name, scopes: [scope], key_hash: generated.hash, prefix: generated.prefix })
      // Answered directly (no redirect) so the key exists in exactly one response, which is not cached.
      return sendPage(deps, reply, 201, {
        title: 'API keys',
        viewer,
        section: 'settings',
        main: keysPage({ keys: await store.listApiKeys(viewer.project.id), isAdmin: true, csrf: viewer.session.csrf_token, newKey: { key: generated.key, info } }),
      })
    }
    return sendPage(deps, reply, 400, {
      title: 'API keys',
      viewer,
      section: 'settings',
      notices: [{ kind: 'error', text: error }],
      main: keysPage({ keys: await store.listApiKeys(viewer.project.id), isAdmin: true, csrf: viewer.session.csrf_token }),
    })
  })

  app.post<{ Params: { keyId: string } }>('/settings/keys/:keyId/revoke', async (request, reply) => {
    const viewer = await adminForChange(deps, request, reply)
    if (!viewer) return reply
    await store.revokeApiKey(viewer.project.id, request.params.keyId)
    return reply.redirect('/settings/keys?notice=key_revoked', 303)
  })
}
