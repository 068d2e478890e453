/**
 * Settings → GitHub: the project's GitHub App mappings. Members read them; admins map and
 * unmap (CSRF-checked, through `GithubMappingAdmin`, recorded in the audit trail). A refused
 * mapping is answered on the page with what was typed; unmapping has a confirmation page.
 */
import type { FastifyInstance, FastifyReply } from 'fastify'
import { GITHUB_WEBHOOK_PATH } from '../../../contract/index.js'
import { isAdminError } from '../../admin/admin-service.js'
import { GithubMappingAdmin } from '../../admin/github-mappings.js'
import { formFields } from '../security.js'
import { githubSettingsPage, unmapGithubConfirm, type GithubMappingForm } from '../views/github-settings-view.js'
import type { Notice } from '../views/layout.js'
import { noticeFromQuery, requireAdmin, requireViewer, sendPage, type DashboardDeps, type ProjectViewer } from './common.js'
import { adminForChange, refusalText } from './settings-pages.js'

export function registerGithubSettingsRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const mappings = new GithubMappingAdmin(deps.store)
  const render = async (viewer: ProjectViewer, reply: FastifyReply, status: number, notices: Notice[], form?: GithubMappingForm) =>
    sendPage(deps, reply, status, {
      title: 'GitHub',
      viewer,
      section: 'settings',
      notices,
      main: githubSettingsPage({
        mappings: await mappings.list(viewer.project),
        isAdmin: viewer.project.role === 'admin',
        csrf: viewer.session.csrf_token,
        webhookUrl: `${deps.publicUrl}${GITHUB_WEBHOOK_PATH}`,
        form,
      }),
    })

  app.get('/settings/github', async (request, reply) => {
    const viewer = await requireViewer(deps, request, reply)
    return viewer ? render(viewer, reply, 200, noticeFromQuery(request)) : reply
  })

  app.post('/settings/github', async (request, reply) => {
    const viewer = await adminForChange(deps, request, reply)
    if (!viewer) return reply
    const fields = formFields(request)
    const form: GithubMappingForm = { repository: (fields.repository ?? '').trim().slice(0, 201), environment: (fields.environment ?? '').trim().slice(0, 255), installation: (fields.installation ?? '').trim().slice(0, 20) }
    try {
      await mappings.map(viewer.project, viewer.user.email, { repository: form.repository, environment: form.environment, installationId: form.installation })
    } catch (error) {
      const text = refusalText(error)
      if (text === null) throw error
      return render(viewer, reply, 400, [{ kind: 'error', text }], form)
    }
    return reply.redirect('/settings/github?notice=github_mapped', 303)
  })

  app.get<{ Params: { mappingId: string } }>('/settings/github/:mappingId/unmap', async (request, reply) => {
    const viewer = await requireViewer(deps, request, reply)
    if (!viewer || !(await requireAdmin(deps, viewer, reply))) return reply
    const mapping = (await mappings.list(viewer.project)).find((m) => m.id === request.params.mappingId)
    if (!mapping) return reply.redirect('/settings/github?notice=no_such_mapping', 303)
    return sendPage(deps, reply, 200, { title: 'Unmap repository', viewer, section: 'settings', main: unmapGithubConfirm({ mapping, csrf: viewer.session.csrf_token }) })
  })

  app.post<{ Params: { mappingId: string } }>('/settings/github/:mappingId/unmap', async (request, reply) => {
    const viewer = await adminForChange(deps, request, reply)
    if (!viewer) return reply
    try {
      await mappings.unmap(viewer.project, viewer.user.email, request.params.mappingId)
    } catch (error) {
      if (isAdminError(error) && error.code === 'not_found') return reply.redirect('/settings/github?notice=no_such_mapping', 303)
      throw error
    }
    return reply.redirect('/settings/github?notice=github_unmapped', 303)
  })
}
