/**
 * Settings → Notifications, for project admins only (a webhook URL may hold a token): the
 * channels with their delivery health, adding a webhook (its secret answered once, not
 * redirected), an email channel or a Slack channel (its bot token and signing secret never shown
 * again), removing one (after a confirmation page), each channel's
 * delivery log, and "Redeliver". Every change is CSRF-checked and goes through the channel
 * service — the CLI's rules and audit events — scoped to the viewer's project, so another
 * project's channel or delivery id is simply not found.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import { InvalidDurationError, parseDuration } from '../../../shared/duration.js'
import { isAdminError } from '../../admin/admin-service.js'
import type { ChannelSettings } from '../../admin/channel-service.js'
import { NOTIFICATION_EVENT_TYPES } from '../../notifications/types.js'
import { addSlackChannel, interactivityUrl } from '../../slack/slack-channels.js'
import { formFields } from '../security.js'
import type { SafeHtml } from '../html.js'
import type { Notice } from '../views/layout.js'
import { deliveryLogPage, notificationsPage, removeChannelConfirm, type ChannelForm } from '../views/notifications-view.js'
import { checkCsrf, noticeFromQuery, requireAdmin, requireViewer, sendPage, type DashboardDeps, type ProjectViewer } from './common.js'

const LIST = '/settings/notifications'

/** Signed in, in a project, an admin (and for a change: the CSRF token). */
async function adminViewer(deps: DashboardDeps, request: FastifyRequest, reply: FastifyReply, change: boolean): Promise<ProjectViewer | null> {
  const viewer = await requireViewer(deps, request, reply)
  if (!viewer || (change && !checkCsrf(viewer, request, reply))) return null
  return (await requireAdmin(deps, viewer, reply)) ? viewer : null
}

function show(deps: DashboardDeps, viewer: ProjectViewer, reply: FastifyReply, status: number, main: SafeHtml, notices: Notice[] = []): Promise<FastifyReply> {
  return sendPage(deps, reply, status, { title: 'Notifications', viewer, section: 'settings', notices, main })
}

async function renderList(deps: DashboardDeps, viewer: ProjectViewer, reply: FastifyReply, status: number, extra: { notices?: Notice[]; form?: ChannelForm; newSecret?: Parameters<typeof notificationsPage>[0]['newSecret'] } = {}) {
  const channels = await deps.channels.list(viewer.project)
  return show(deps, viewer, reply, status, notificationsPage({ channels, isAdmin: true, csrf: viewer.session.csrf_token, form: extra.form, newSecret: extra.newSecret }), extra.notices)
}

/** The add form as typed, bounded, to answer a refusal with. */
function channelFormOf(request: FastifyRequest): ChannelForm {
  const form = formFields(request)
  const field = (name: string, max: number) => (form[name] ?? '').trim().slice(0, max)
  return {
    kind: form.kind === 'email' || form.kind === 'slack' ? form.kind : 'webhook',
    name: field('name', 64),
    url: field('url', 2_000),
    slack_channel: field('slack_channel', 80),
    to: field('to', 4_000),
    events: NOTIFICATION_EVENT_TYPES.filter((event) => form[`event:${event}`] === 'on'),
    remind_after: field('remind_after', 40),
    escalate_after: field('escalate_after', 40),
    escalate_to: field('escalate_to', 100),
  }
}

function durationField(label: string, text: string): number | null {
  if (text === '') return null
  try {
    return parseDuration(text)
  } catch (error) {
    throw new FormProblem(`${label}: ${error instanceof InvalidDurationError ? error.message : 'not a duration'}.`)
  }
}

class FormProblem extends Error {}

export function registerNotificationRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  app.get(LIST, async (request, reply) => {
    const viewer = await adminViewer(deps, request, reply, false)
    return viewer ? renderList(deps, viewer, reply, 200, { notices: noticeFromQuery(request) }) : reply
  })

  // Posts to the list's own URL: a refusal is answered there with what was typed; a new
  // webhook's secret is answered directly (never in a redirect or a later page).
  app.post(LIST, async (request, reply) => {
    const viewer = await adminViewer(deps, request, reply, true)
    if (!viewer) return reply
    const form = channelFormOf(request)
    try {
      const settings: ChannelSettings = {
        name: form.name || undefined,
        events: form.events,
        remindAfterMs: durationField('Remind every', form.remind_after),
        escalateAfterMs: durationField('Escalate after', form.escalate_after),
        escalateTo: form.escalate_to || null,
      }
      if (form.kind === 'webhook') {
        const created = await deps.channels.addWebhook(viewer.project, viewer.user.email, form.url, settings)
        return renderList(deps, viewer, reply, 201, { newSecret: { channel: created.channel, secret: created.secret as string }, notices: [{ kind: 'ok', text: `Webhook “${created.channel.name}” added.` }] })
      }
      if (form.kind === 'slack') {
        const fields = formFields(request)
        const secret = { botToken: (fields.bot_token ?? '').trim(), signingSecret: (fields.signing_secret ?? '').trim() }
        const channel = await addSlackChannel(deps.channels, viewer.project, viewer.user.email, { channel: form.slack_channel, ...secret }, settings)
        const requestUrl = interactivityUrl(deps.publicUrl, channel)
        return renderList(deps, viewer, reply, 201, { notices: [{ kind: 'ok', text: `Slack channel “${channel.name}” added. In the Slack app, set Interactivity → Request URL to ${requestUrl} (once per app).` }] })
      }
      const created = await deps.channels.addEmail(viewer.project, viewer.user.email, form.to.split(','), settings)
      return renderList(deps, viewer, reply, 201, { notices: [{ kind: 'ok', text: `Email channel “${created.channel.name}” added.` }] })
    } catch (error) {
      const text = error instanceof FormProblem ? error.message : isAdminError(error) ? `${error.message.charAt(0).toUpperCase()}${error.message.slice(1)}.` : null
      if (text === null) throw error
      return renderList(deps, viewer, reply, 400, { form, notices: [{ kind: 'error', text: `${text} Nothing was added.` }] })
    }
  })

  app.get<{ Params: { channelId: string } }>(`${LIST}/:channelId`, async (request, reply) => {
    const viewer = await adminViewer(deps, request, reply, false)
    if (!viewer) return reply
    const channel = await deps.store.getChannel(viewer.project.id, request.params.channelId)
    if (!channel) return reply.redirect(`${LIST}?notice=no_such_channel`, 303)
    const deliveries = await deps.store.listDeliveries(viewer.project.id, channel.id, 100)
    return show(deps, viewer, reply, 200, deliveryLogPage({ channel, deliveries, csrf: viewer.session.csrf_token }), noticeFromQuery(request))
  })

  app.post<{ Params: { channelId: string; deliveryId: string } }>(`${LIST}/:channelId/deliveries/:deliveryId/redeliver`, async (request, reply) => {
    const viewer = await adminViewer(deps, request, reply, true)
    if (!viewer) return reply
    const { channelId, deliveryId } = request.params
    const channel = await deps.store.getChannel(viewer.project.id, channelId)
    if (!channel) return reply.redirect(`${LIST}?notice=no_such_channel`, 303)
    let notice = 'redelivery_queued'
    try {
      // Scoped to the viewer's project and the channel in the URL: another's delivery id is not found.
      await deps.channels.redeliver(viewer.project, viewer.user.email, deliveryId, channel.id)
      deps.wakeDeliveries?.()
    } catch (error) {
      if (!isAdminError(error)) throw error
      notice = 'no_such_delivery'
    }
    return reply.redirect(`${LIST}/${channel.id}?notice=${notice}`, 303)
  })

  app.get<{ Params: { channelId: string } }>(`${LIST}/:channelId/remove`, async (request, reply) => {
    const viewer = await adminViewer(deps, request, reply, false)
    if (!viewer) return reply
    const channel = await deps.store.getChannel(viewer.project.id, request.params.channelId)
    if (!channel) return reply.redirect(`${LIST}?notice=no_such_channel`, 303)
    return sendPage(deps, reply, 200, { title: 'Remove channel', viewer, section: 'settings', main: removeChannelConfirm({ channel, csrf: viewer.session.csrf_token }) })
  })

  app.post<{ Params: { channelId: string } }>(`${LIST}/:channelId/remove`, async (request, reply) => {
    const viewer = await adminViewer(deps, request, reply, true)
    if (!viewer) return reply
    try {
      await deps.channels.remove(viewer.project, viewer.user.email, request.params.channelId)
    } catch (error) {
      if (isAdminError(error) && error.code === 'not_found') return reply.redirect(`${LIST}?notice=no_such_channel`, 303)
      throw error
    }
    return reply.redirect(`${LIST}?notice=channel_removed`, 303)
  })
}
