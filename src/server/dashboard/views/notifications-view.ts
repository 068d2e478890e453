/**
 * Settings → Notifications (admins): the project's channels with how their deliveries are
 * doing (failures on the channel's row), forms to add a webhook or an email channel (a
 * webhook's secret shown once), each channel's delivery log with "Redeliver", and the
 * confirmation of removing a channel. A webhook URL is shown to admins only: its path may hold a token.
 */
import { formatDuration } from '../../../shared/duration.js'
import type { ChannelWithHealth } from '../../admin/channel-service.js'
import { NOTIFICATION_EVENT_TYPES, type Channel } from '../../notifications/types.js'
import type { Delivery } from '../../store/types.js'
import { html, type SafeHtml } from '../html.js'
import { timeTag } from './format.js'
import { ADMIN_ONLY, cellLabel, confirmPage, csrfField, settingsTabs } from './settings-view.js'

/** What an admin typed into an add form, shown again when it is refused. */
export interface ChannelForm {
  kind: 'webhook' | 'email' | 'slack'
  name: string
  url: string
  /** The Slack channel (its bot token and signing secret are never shown again, even on a refusal). */
  slack_channel: string
  to: string
  events: string[]
  remind_after: string
  escalate_after: string
  escalate_to: string
}

export const EMPTY_CHANNEL_FORM: ChannelForm = { kind: 'webhook', name: '', url: '', slack_channel: '', to: '', events: [], remind_after: '', escalate_after: '', escalate_to: '' }

function where(channel: Channel): string {
  if (channel.kind === 'webhook') return channel.config.url ?? ''
  if (channel.kind === 'email') return channel.config.to ? channel.config.to.split(',').join(', ') : 'the members who may decide each request'
  return channel.config.channel ?? ''
}

function eventList(channel: Channel): string {
  return channel.events.map((event) => event.replace(/^approval\./, '')).join(', ')
}

function healthCell({ health }: ChannelWithHealth): SafeHtml {
  const trouble = health.failed > 0 || health.retrying > 0
  const counts = html`${String(health.delivered)} delivered${health.retrying ? html`, <strong>${String(health.retrying)} retrying</strong>` : ''}${health.failed ? html`, <strong>${String(health.failed)} failed</strong>` : ''}`
  if (!trouble) return html`<span class="badge badge-approved">OK</span> ${counts}`
  return html`<span class="badge badge-rejected">Failing</span> ${counts}${health.last_error ? html`<br><span class="muted">Last error ${timeTag(health.last_error_at)}: ${health.last_error}</span>` : ''}`
}

export function notificationsPage(input: { channels: ChannelWithHealth[]; isAdmin: boolean; csrf: string; form?: ChannelForm; newSecret?: { channel: Channel; secret: string } }): SafeHtml {
  if (!input.isAdmin) return html`${settingsTabs('notifications')}<section class="panel"><h2>Notifications</h2>${ADMIN_ONLY}</section>`
  const form = input.form ?? EMPTY_CHANNEL_FORM
  return html`${settingsTabs('notifications')}
${input.newSecret
    ? html`<section class="panel panel-secret" aria-labelledby="secret-title">
<h2 id="secret-title">Signing secret of “${input.newSecret.channel.name}”</h2>
<p><strong>Copy it now: it is shown only once.</strong> The receiver verifies <code>X-Approval-Gate-Signature-256</code> with it.</p>
<div class="secret-row"><label for="new-secret" class="visually-hidden">Signing secret</label>
<input id="new-secret" type="text" readonly value="${input.newSecret.secret}" data-select-on-focus>
<button type="button" class="btn btn-quiet" data-copy="new-secret" hidden>Copy</button></div>
</section>`
    : ''}
<section class="panel" aria-labelledby="channels-title">
<h2 id="channels-title">Channels</h2>
<p class="muted">Each new request, vote and outcome is sent to these channels within a second; a receiver that fails is retried for a day and harms nothing else.</p>
${input.channels.length === 0
    ? html`<p class="empty-small">No channels yet.</p>`
    : html`<div class="table-wrap"><table class="channels settings-table">
<thead><tr><th scope="col">Name</th><th scope="col">Kind</th><th scope="col">Sends to</th><th scope="col">Events</th><th scope="col">Deliveries</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${input.channels.map((entry) => {
        const c = entry.channel
        const extras = [c.remind_after_ms ? `reminds every ${formatDuration(c.remind_after_ms)}` : '', c.escalate_after_ms ? `escalates after ${formatDuration(c.escalate_after_ms)}` : ''].filter(Boolean).join('; ')
        return html`<tr data-channel="${c.id}"><td class="row-title">${c.name}</td><td>${cellLabel('Kind')}${c.kind}</td><td>${cellLabel('Sends to')}<code class="wrap">${where(c)}</code></td>
<td>${cellLabel('Events')}${eventList(c)}${extras ? html`<br><span class="muted">${extras}</span>` : ''}</td><td>${cellLabel('Deliveries')}${healthCell(entry)}</td>
<td class="row-actions"><a class="btn" href="/settings/notifications/${c.id}">Delivery log</a> <a class="btn btn-danger" href="/settings/notifications/${c.id}/remove" aria-label="Remove channel ${c.name}">Remove</a></td></tr>`
      })}</tbody></table></div>`}
</section>
<section class="panel" aria-labelledby="add-title">
<h2 id="add-title">Add a channel</h2>
<form method="post" action="/settings/notifications" class="stack">
${csrfField(input.csrf)}
<fieldset><legend>Kind</legend>
<div class="check"><input type="radio" id="kind-webhook" name="kind" value="webhook"${form.kind === 'webhook' ? html` checked` : ''}><label for="kind-webhook">Webhook: a signed JSON POST to a URL</label></div>
<div class="check"><input type="radio" id="kind-email" name="kind" value="email"${form.kind === 'email' ? html` checked` : ''}><label for="kind-email">Email: the request and a link to its page (never a link that decides)</label></div>
<div class="check"><input type="radio" id="kind-slack" name="kind" value="slack"${form.kind === 'slack' ? html` checked` : ''}><label for="kind-slack">Slack: a message with Approve / Reject buttons, updated with the outcome</label></div>
</fieldset>
<label for="channel-url">Webhook URL <span class="muted">(https; for a webhook)</span></label>
<input id="channel-url" name="url" type="url" maxlength="2000" value="${form.url}" placeholder="https://hooks.example.com/approval-gate">
<label for="channel-to">Email recipients <span class="muted">(comma-separated; empty: the members who may decide each request; for email)</span></label>
<input id="channel-to" name="to" type="text" maxlength="4000" value="${form.to}" placeholder="ops@example.com">
<label for="slack-channel">Slack channel <span class="muted">(#name or id; invite the app's bot to it; for Slack)</span></label>
<input id="slack-channel" name="slack_channel" type="text" maxlength="80" value="${form.slack_channel}" placeholder="#deploys">
<label for="slack-bot-token">Slack bot token <span class="muted">(xoxb-…, OAuth &amp; Permissions; for Slack; stored encrypted, never shown again)</span></label>
<input id="slack-bot-token" name="bot_token" type="password" autocomplete="off" maxlength="255">
<label for="slack-signing-secret">Slack signing secret <span class="muted">(Basic Information; for Slack)</span></label>
<input id="slack-signing-secret" name="signing_secret" type="password" autocomplete="off" maxlength="128">
<label for="channel-name">Name <span class="muted">(optional)</span></label>
<input id="channel-name" name="name" type="text" maxlength="64" value="${form.name}">
<fieldset><legend>Events <span class="muted">(none ticked: all)</span></legend>
${NOTIFICATION_EVENT_TYPES.map(
    (event) => html`<div class="check"><input type="checkbox" id="event-${event}" name="event:${event}" value="on"${form.events.includes(event) ? html` checked` : ''}><label for="event-${event}">${event.replace(/^approval\./, '')}</label></div>`,
  )}
</fieldset>
<label for="remind-after">Remind every <span class="muted">(while a request waits, e.g. 30m; optional)</span></label>
<input id="remind-after" name="remind_after" type="text" value="${form.remind_after}">
<label for="escalate-after">Escalate after <span class="muted">(e.g. 2h; optional, with the channel below)</span></label>
<input id="escalate-after" name="escalate_after" type="text" value="${form.escalate_after}">
<label for="escalate-to">Escalate to channel</label>
<select id="escalate-to" name="escalate_to"><option value="">—</option>${input.channels.map(
    ({ channel }) => html`<option value="${channel.id}"${form.escalate_to === channel.id ? html` selected` : ''}>${channel.name}</option>`,
  )}</select>
<button type="submit" class="btn btn-primary">Add channel</button>
</form>
</section>`
}

export function deliveryLogPage(input: { channel: Channel; deliveries: Delivery[]; csrf: string }): SafeHtml {
  const { channel } = input
  return html`${settingsTabs('notifications')}
<section class="panel" aria-labelledby="log-title">
<h2 id="log-title">Delivery log of “${channel.name}”</h2>
<p class="muted">${channel.kind} to <code class="wrap">${where(channel)}</code>. Newest first.</p>
${input.deliveries.length === 0
    ? html`<p class="empty-small">Nothing sent yet.</p>`
    : html`<div class="table-wrap"><table class="deliveries settings-table">
<thead><tr><th scope="col">Event</th><th scope="col">Approval</th><th scope="col">Status</th><th scope="col">Attempts</th><th scope="col">Answer</th><th scope="col">Last error</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${input.deliveries.map(
        (d) => html`<tr data-delivery="${d.id}"><td class="row-title">${d.event_type.replace(/^approval\./, '')}<br><span class="muted">${timeTag(d.created_at)}</span></td>
<td>${cellLabel('Approval')}<a href="/approvals/${d.approval_id}"><code>${d.approval_id}</code></a></td>
<td>${cellLabel('Status')}<span class="badge badge-${STATUS_BADGE[d.status]}">${d.status}</span>${d.status === 'pending' && d.attempts > 0 ? html`<br><span class="muted">next try ${timeTag(d.next_attempt_at)}</span>` : ''}</td>
<td>${cellLabel('Attempts')}${String(d.attempts)}</td><td>${cellLabel('Answer')}${d.response_code === null ? html`<span class="muted">—</span>` : String(d.response_code)}</td>
<td>${cellLabel('Last error')}${d.last_error ?? html`<span class="muted">—</span>`}</td>
<td class="row-actions">${d.status === 'sending'
          ? ''
          : html`<form method="post" action="/settings/notifications/${channel.id}/deliveries/${d.id}/redeliver">${csrfField(input.csrf)}<button type="submit" class="btn" aria-label="Redeliver ${d.id}">Redeliver</button></form>`}</td></tr>`,
      )}</tbody></table></div>`}
<p><a href="/settings/notifications">Back to notifications</a></p>
</section>`
}

const STATUS_BADGE: Record<Delivery['status'], string> = { pending: 'pending', sending: 'pending', delivered: 'approved', failed: 'rejected' }

export function removeChannelConfirm(input: { channel: Channel; csrf: string }): SafeHtml {
  const { channel } = input
  return confirmPage({
    tab: 'notifications',
    title: `Remove the ${channel.kind} channel “${channel.name}”?`,
    consequences: html`<p>Nothing more is sent to <code class="wrap">${where(channel)}</code>, and its pending deliveries and log are deleted. Channels that escalate to it stop escalating.</p>`,
    action: `/settings/notifications/${channel.id}/remove`,
    button: `Remove ${channel.name}`,
    cancel: '/settings/notifications',
    csrf: input.csrf,
  })
}
