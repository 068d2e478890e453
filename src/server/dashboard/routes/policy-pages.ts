/**
 * Settings → Policy: members read the project's policy and its history; admins set it (the
 * document is checked whole by the admin service, and a refused one comes back with its errors
 * at their lines, nothing changed) and remove it after a confirmation page. Every change is
 * CSRF-checked and recorded in the audit trail by the admin service, as from the CLI.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { isAdminError, PolicyDocumentError } from '../../admin/admin-service.js'
import { MAX_POLICY_BYTES, type PolicyError } from '../../policies/index.js'
import { formFields } from '../security.js'
import { clearPolicyConfirm, policyPage, policyVersionPage } from '../views/policy-view.js'
import type { Notice } from '../views/layout.js'
import { noticeFromQuery, requireViewer, sendPage, type DashboardDeps, type ProjectViewer } from './common.js'
import { adminForChange, adminForConfirm } from './settings-pages.js'

/**
 * Largest form body the editor may send: a document at the size limit, URL-encoded (up to
 * three bytes per byte), so an oversized document reaches validation and gets its clear
 * error instead of a bare 413.
 */
const POLICY_FORM_BODY_LIMIT = 3 * MAX_POLICY_BYTES + 4_096

export function registerPolicyRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const render = async (viewer: ProjectViewer, reply: FastifyReply, status: number, extra: { notices?: Notice[]; refused?: { source: string; errors: readonly PolicyError[] } } = {}) =>
    sendPage(deps, reply, status, {
      title: 'Policy',
      viewer,
      section: 'settings',
      notices: extra.notices ?? [],
      main: policyPage({
        current: await deps.store.getPolicy(viewer.project.id),
        versions: await deps.store.listPolicyVersions(viewer.project.id),
        isAdmin: viewer.project.role === 'admin',
        csrf: viewer.session.csrf_token,
        refused: extra.refused,
      }),
    })

  app.get('/settings/policy', async (request, reply) => {
    const viewer = await requireViewer(deps, request, reply)
    return viewer ? render(viewer, reply, 200, { notices: noticeFromQuery(request) }) : reply
  })

  app.post('/settings/policy', { bodyLimit: POLICY_FORM_BODY_LIMIT }, async (request, reply) => {
    const viewer = await adminForChange(deps, request, reply)
    if (!viewer) return reply
    // Browsers send a textarea's lines ending in CRLF; store what the admin typed, with the LF endings a file has.
    const source = (formFields(request).source ?? '').replace(/\r\n/g, '\n')
    try {
      await deps.admin.setPolicy(viewer.project, viewer.user.email, source)
    } catch (error) {
      if (!(error instanceof PolicyDocumentError)) throw error
      // An oversized document is not echoed back into the page.
      const shown = Buffer.byteLength(source, 'utf8') > MAX_POLICY_BYTES ? '' : source
      return render(viewer, reply, 400, { refused: { source: shown, errors: error.errors } })
    }
    return reply.redirect('/settings/policy?notice=policy_saved', 303)
  })

  app.get<{ Params: { version: string } }>('/settings/policy/versions/:version', async (request, reply) => {
    const viewer = await requireViewer(deps, request, reply)
    if (!viewer) return reply
    const number = /^\d{1,9}$/.test(request.params.version) ? Number(request.params.version) : NaN
    const versions = await deps.store.listPolicyVersions(viewer.project.id)
    const index = versions.findIndex((candidate) => candidate.version === number)
    if (index === -1) return render(viewer, reply, 404, { notices: [{ kind: 'error', text: 'This project has no such policy version.' }] })
    return sendPage(deps, reply, 200, { title: `Policy version ${number}`, viewer, section: 'settings', main: policyVersionPage({ version: versions[index], previous: versions[index + 1] ?? null }) })
  })

  app.get('/settings/policy/clear', async (request, reply) => {
    const viewer = await adminForConfirm(deps, request, reply)
    if (!viewer) return reply
    const current = await deps.store.getPolicy(viewer.project.id)
    if (!current) return reply.redirect('/settings/policy?notice=no_policy', 303)
    return sendPage(deps, reply, 200, { title: 'Remove the policy', viewer, section: 'settings', main: clearPolicyConfirm({ projectName: viewer.project.name, version: current.version, csrf: viewer.session.csrf_token }) })
  })

  app.post('/settings/policy/clear', async (request, reply) => {
    const viewer = await adminForChange(deps, request, reply)
    if (!viewer) return reply
    try {
      await deps.admin.clearPolicy(viewer.project, viewer.user.email)
    } catch (error) {
      if (isAdminError(error) && error.code === 'not_found') return reply.redirect('/settings/policy?notice=no_policy', 303)
      throw error
    }
    return reply.redirect('/settings/policy?notice=policy_cleared', 303)
  })
}
