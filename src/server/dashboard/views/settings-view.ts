/** Settings: project rules, members (admins manage), API keys (admins manage; a new key is shown once). */
import { formatDuration } from '../../../shared/duration.js'
import { MIN_PASSWORD_CHARS } from '../../admin/rules.js'
import type { ApiKeyInfo, Invitation, Member, Project } from '../../store/types.js'
import { html, type SafeHtml } from '../html.js'
import { timeTag } from './format.js'

type Tab = 'project' | 'members' | 'keys'

function tabs(active: Tab): SafeHtml {
  const tab = (id: Tab, href: string, label: string) =>
    html`<a href="${href}"${active === id ? html` aria-current="page"` : ''}>${label}</a>`
  return html`<div class="page-head"><h1>Settings</h1></div>
<nav class="subnav" aria-label="Settings">${tab('project', '/settings', 'Project')}${tab('members', '/settings/members', 'Members')}${tab('keys', '/settings/keys', 'API keys')}</nav>`
}

function csrfField(csrf: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${csrf}">`
}

const ADMIN_ONLY = html`<p class="muted">Only project admins can change these.</p>`

export function projectSettingsPage(input: { project: Project; isAdmin: boolean; csrf: string; expiryText?: string }): SafeHtml {
  const { project, isAdmin } = input
  const disabled = isAdmin ? '' : html` disabled`
  return html`${tabs('project')}
<section class="panel" aria-labelledby="project-title">
<h2 id="project-title">${project.name}</h2>
<p class="muted">Project ID <code>${project.id}</code></p>
${isAdmin ? '' : ADMIN_ONLY}
<form method="post" action="/settings/project" class="stack">
${csrfField(input.csrf)}
<div class="check"><input type="checkbox" id="block-self" name="block_self_approval" value="on"${project.settings.blockSelfApproval ? html` checked` : ''}${disabled}>
<label for="block-self">Block self-approval: whoever triggered a workflow run cannot approve it (needs their GitHub login linked under Members)</label></div>
<label for="default-expiry">Default expiry of a request <span class="muted">(when it gives no timeout; e.g. 30m, 1h, 24h)</span></label>
<input id="default-expiry" name="default_expiry" type="text" required value="${input.expiryText ?? formatDuration(project.settings.defaultTimeoutMs)}"${disabled}>
${isAdmin ? html`<button type="submit" class="btn btn-primary">Save settings</button>` : ''}
</form>
</section>`
}

/** Role picker; the add form explains the roles, the compact one in each row just names them. */
function roleSelect(id: string, role: string, explain: boolean): SafeHtml {
  return html`<select id="${id}" name="role">
<option value="member"${role === 'member' ? html` selected` : ''}>${explain ? 'Member (decides)' : 'Member'}</option>
<option value="admin"${role === 'admin' ? html` selected` : ''}>${explain ? 'Admin (decides, manages members and keys)' : 'Admin'}</option>
</select>`
}

function memberRow(member: Member, input: { isAdmin: boolean; csrf: string; selfId: string }): SafeHtml {
  const m = member.id
  const you = member.id === input.selfId ? html` <span class="muted">(you)</span>` : ''
  if (!input.isAdmin) {
    return html`<tr><td>${member.email}${you}</td><td>${member.role}</td><td>${member.github_login ?? html`<span class="muted">—</span>`}</td><td></td></tr>`
  }
  return html`<tr>
<td>${member.email}${you}</td>
<td><form method="post" action="/settings/members/${m}/role" class="inline-form">${csrfField(input.csrf)}
<label class="visually-hidden" for="role-${m}">Role of ${member.email}</label>${roleSelect(`role-${m}`, member.role, false)}
<button type="submit" class="btn btn-quiet">Set role</button></form></td>
<td><form method="post" action="/settings/members/${m}/github" class="inline-form">${csrfField(input.csrf)}
<label class="visually-hidden" for="gh-${m}">GitHub login of ${member.email}</label>
<input id="gh-${m}" name="github_login" type="text" value="${member.github_login ?? ''}" placeholder="octocat" size="14" autocomplete="off">
<button type="submit" class="btn btn-quiet">Link</button></form></td>
<td><form method="post" action="/settings/members/${m}/remove" class="inline-form">${csrfField(input.csrf)}
<button type="submit" class="btn btn-danger" aria-label="Remove ${member.email}">Remove</button></form></td>
</tr>`
}

/** What the invite form sends back when it is refused. */
export interface InviteForm {
  email: string
  role: string
  github_login: string
}

export interface MembersPageInput {
  members: Member[]
  invitations: Invitation[]
  isAdmin: boolean
  csrf: string
  selfId: string
  form?: InviteForm
  /** A just-created invitation: its link is shown this once. */
  newInvitation?: { email: string; link: string; expiresAt: string }
  /** To mark expired invitations. */
  now: string
}

export function membersPage(input: MembersPageInput): SafeHtml {
  return html`${tabs('members')}
${input.newInvitation ? newInvitationPanel(input.newInvitation) : ''}
<section class="panel" aria-labelledby="members-title">
<h2 id="members-title">Members</h2>
<p class="muted">Any member can approve or reject. Admins also manage members, API keys and project settings. A GitHub login applies to this project only.</p>
<div class="table-wrap"><table class="members">
<thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">GitHub login</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${input.members.map((m) => memberRow(m, input))}</tbody>
</table></div>
</section>
${input.isAdmin ? html`${invitationsPanel(input)}${inviteForm(input)}` : ADMIN_ONLY}`
}

function newInvitationPanel(invitation: { email: string; link: string; expiresAt: string }): SafeHtml {
  return html`<section class="panel panel-secret" aria-labelledby="newinvite-title">
<h2 id="newinvite-title">Invitation for ${invitation.email}</h2>
<p><strong>Send this link to them now: it is shown only once</strong>, works once, and expires ${timeTag(invitation.expiresAt)}. With an account they sign in to accept it; without one they choose a password.</p>
<div class="secret-row"><label for="invite-link" class="visually-hidden">Invitation link</label>
<input id="invite-link" type="text" readonly value="${invitation.link}" data-select-on-focus>
<button type="button" class="btn btn-quiet" data-copy="invite-link" hidden>Copy</button></div>
</section>`
}

function invitationsPanel(input: MembersPageInput): SafeHtml {
  if (input.invitations.length === 0) return html``
  return html`<section class="panel" aria-labelledby="invitations-title">
<h2 id="invitations-title">Open invitations</h2>
<div class="table-wrap"><table class="invitations">
<thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Expires</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${input.invitations.map(
    (i) => html`<tr><td>${i.email}</td><td>${i.role}</td><td>${i.expires_at <= input.now ? html`<span class="muted">expired</span>` : timeTag(i.expires_at)}</td>
<td><form method="post" action="/settings/invitations/${i.id}/revoke" class="inline-form">${csrfField(input.csrf)}<button type="submit" class="btn btn-danger" aria-label="Revoke the invitation for ${i.email}">Revoke</button></form></td></tr>`,
  )}</tbody></table></div>
</section>`
}

function inviteForm(input: MembersPageInput): SafeHtml {
  const form = input.form ?? { email: '', role: 'member', github_login: '' }
  return html`<section class="panel" aria-labelledby="add-title">
<h2 id="add-title">Invite a member</h2>
<p class="muted">You get a one-time link to send them. It changes nothing about an existing account: they accept by signing in, or by choosing a password (at least ${String(MIN_PASSWORD_CHARS)} characters) if they have no account yet.</p>
<form method="post" action="/settings/members" class="stack">
${csrfField(input.csrf)}
<label for="new-email">Email</label>
<input id="new-email" name="email" type="email" required autocomplete="off" value="${form.email}">
<label for="new-role">Role</label>
${roleSelect('new-role', form.role, true)}
<label for="new-github">GitHub login in this project <span class="muted">(optional, for the self-approval rule)</span></label>
<input id="new-github" name="github_login" type="text" autocomplete="off" value="${form.github_login}">
<button type="submit" class="btn btn-primary">Create invitation link</button>
</form>
</section>`
}

export function keysPage(input: { keys: ApiKeyInfo[]; isAdmin: boolean; csrf: string; newKey?: { key: string; info: ApiKeyInfo } }): SafeHtml {
  if (!input.isAdmin) return html`${tabs('keys')}<section class="panel"><h2>API keys</h2>${ADMIN_ONLY}</section>`
  const live = input.keys.filter((k) => !k.revoked_at)
  const revoked = input.keys.filter((k) => k.revoked_at)
  return html`${tabs('keys')}
${input.newKey
    ? html`<section class="panel panel-secret" aria-labelledby="newkey-title">
<h2 id="newkey-title">New key “${input.newKey.info.name}”</h2>
<p><strong>Copy it now: it is shown only once</strong> and only its hash is stored.</p>
<div class="secret-row"><label for="new-key" class="visually-hidden">New API key</label>
<input id="new-key" type="text" readonly value="${input.newKey.key}" data-select-on-focus>
<button type="button" class="btn btn-quiet" data-copy="new-key" hidden>Copy</button></div>
</section>`
    : ''}
<section class="panel" aria-labelledby="keys-title">
<h2 id="keys-title">API keys</h2>
<p class="muted">Workflows and scripts authenticate with a key. <code>request</code> keys ask for approvals, <code>decide</code> keys read and decide them, <code>admin</code> keys do everything — so an admin key could decide its own requests (the server refuses that): give CI a <code>request</code> key.</p>
${live.length === 0
    ? html`<p class="empty-small">No active keys.</p>`
    : html`<div class="table-wrap"><table class="keys">
<thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Scopes</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${live.map(
        (k) => html`<tr><td>${k.name}</td><td><code>${k.prefix}…</code></td><td>${k.scopes.join(', ')}</td><td>${timeTag(k.created_at)}</td><td>${timeTag(k.last_used_at)}</td>
<td><form method="post" action="/settings/keys/${k.id}/revoke" class="inline-form">${csrfField(input.csrf)}<button type="submit" class="btn btn-danger" aria-label="Revoke key ${k.name}">Revoke</button></form></td></tr>`,
      )}</tbody></table></div>`}
${revoked.length ? html`<details class="fold"><summary>${String(revoked.length)} revoked</summary><ul>${revoked.map((k) => html`<li>${k.name} <code>${k.prefix}…</code> revoked ${timeTag(k.revoked_at)}</li>`)}</ul></details>` : ''}
</section>
<section class="panel" aria-labelledby="createkey-title">
<h2 id="createkey-title">Create a key</h2>
<form method="post" action="/settings/keys" class="stack">
${csrfField(input.csrf)}
<label for="key-name">Name <span class="muted">(recorded as <code>key:name</code> in the audit trail)</span></label>
<input id="key-name" name="name" type="text" required maxlength="100" placeholder="github-actions">
<label for="key-scope">Scope</label>
<select id="key-scope" name="scope"><option value="request">request — ask for approvals</option><option value="decide">decide — read and decide</option><option value="admin">admin — everything (can ask and decide: not for CI)</option></select>
<button type="submit" class="btn btn-primary">Create key</button>
</form>
</section>`
}
