/** Settings: project rules, members (admins manage), API keys (admins manage; a new key is shown once), and the confirmation pages of removing and revoking. */
import { formatDuration } from '../../../shared/duration.js'
import { MIN_PASSWORD_CHARS } from '../../admin/rules.js'
import type { ApiKeyInfo, Invitation, Member, Project } from '../../store/types.js'
import { html, type SafeHtml } from '../html.js'
import { timeTag } from './format.js'

export type Tab = 'project' | 'members' | 'keys' | 'notifications'

/** The settings heading and its tabs, `active` marked. */
export function tabs(active: Tab): SafeHtml {
  const tab = (id: Tab, href: string, label: string) =>
    html`<a href="${href}"${active === id ? html` aria-current="page"` : ''}>${label}</a>`
  return html`<div class="page-head"><h1>Settings</h1></div>
<nav class="subnav" aria-label="Settings">${tab('project', '/settings', 'Project')}${tab('members', '/settings/members', 'Members')}${tab('keys', '/settings/keys', 'API keys')}${tab('notifications', '/settings/notifications', 'Notifications')}</nav>`
}

export function csrfField(csrf: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${csrf}">`
}

export const ADMIN_ONLY = html`<p class="muted">Only project admins can change these.</p>`

export function projectSettingsPage(input: { project: Project; isAdmin: boolean; csrf: string; expiryText?: string }): SafeHtml {
  const { project, isAdmin } = input
  const disabled = isAdmin ? '' : html` disabled`
  return html`${tabs('project')}
<section class="panel" aria-labelledby="project-title">
<h2 id="project-title">${project.name}</h2>
<p class="muted">Project ID <code>${project.id}</code></p>
${isAdmin ? '' : ADMIN_ONLY}
<form method="post" action="/settings" class="stack">
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

/** A label shown before a cell's value where the table is laid out as cards (phones); the column header says it elsewhere. */
export function cellLabel(text: string): SafeHtml {
  return html`<span class="cell-label">${text}</span>`
}

function memberRow(member: Member, input: { isAdmin: boolean; csrf: string; selfId: string }): SafeHtml {
  const m = member.id
  const you = member.id === input.selfId ? html` <span class="muted">(you)</span>` : ''
  const login = member.github_login ?? html`<span class="muted">—</span>`
  if (!input.isAdmin) {
    return html`<tr><td class="row-title">${member.email}${you}</td><td>${cellLabel('Role')}${member.role}</td><td>${cellLabel('GitHub login')}${login}</td></tr>`
  }
  return html`<tr>
<td class="row-title">${member.email}${you}</td>
<td><form method="post" action="/settings/members/${m}/role" class="inline-form">${csrfField(input.csrf)}
<label class="cell-label-field" for="role-${m}">Role<span class="visually-hidden"> of ${member.email}</span></label>${roleSelect(`role-${m}`, member.role, false)}
<button type="submit" class="btn btn-quiet">Set role</button></form></td>
<td><form method="post" action="/settings/members/${m}/github" class="inline-form">${csrfField(input.csrf)}
<label class="cell-label-field" for="gh-${m}">GitHub login<span class="visually-hidden"> of ${member.email}</span></label>
<input id="gh-${m}" name="github_login" type="text" value="${member.github_login ?? ''}" placeholder="octocat" size="14" autocomplete="off">
<button type="submit" class="btn btn-quiet">Link</button></form></td>
<td class="row-actions"><a class="btn btn-danger" href="/settings/members/${m}/remove" aria-label="Remove ${member.email}">Remove</a></td>
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
<div class="table-wrap"><table class="members settings-table">
<thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">GitHub login</th>${input.isAdmin ? html`<th scope="col"><span class="visually-hidden">Actions</span></th>` : ''}</tr></thead>
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
<div class="table-wrap"><table class="invitations settings-table">
<thead><tr><th scope="col">Email</th><th scope="col">Role</th><th scope="col">Expires</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${input.invitations.map(
    (i) => html`<tr><td class="row-title">${i.email}</td><td>${cellLabel('Role')}${i.role}</td><td>${cellLabel('Expires')}${i.expires_at <= input.now ? html`<span class="muted">expired</span>` : timeTag(i.expires_at)}</td>
<td class="row-actions"><a class="btn btn-danger" href="/settings/invitations/${i.id}/revoke" aria-label="Revoke the invitation for ${i.email}">Revoke</a></td></tr>`,
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
    : html`<div class="table-wrap"><table class="keys settings-table">
<thead><tr><th scope="col">Name</th><th scope="col">Key</th><th scope="col">Scopes</th><th scope="col">Created</th><th scope="col">Last used</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${live.map(
        (k) => html`<tr><td class="row-title">${k.name}</td><td>${cellLabel('Key')}<code>${k.prefix}…</code></td><td>${cellLabel('Scopes')}${k.scopes.join(', ')}</td><td>${cellLabel('Created')}${timeTag(k.created_at)}</td><td>${cellLabel('Last used')}${k.last_used_at ? timeTag(k.last_used_at) : html`<span class="muted">never</span>`}</td>
<td class="row-actions"><a class="btn btn-danger" href="/settings/keys/${k.id}/revoke" aria-label="Revoke key ${k.name}">Revoke</a></td></tr>`,
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

/**
 * The confirmation step of a destructive change: the list's button is a link to this page
 * (so it works without JavaScript), and only this page's form (CSRF-protected) makes the change.
 */
export interface ConfirmInput {
  tab: Tab
  title: string
  /** What happens, in sentences. */
  consequences: SafeHtml
  action: string
  button: string
  cancel: string
  csrf: string
}

export function confirmPage(input: ConfirmInput): SafeHtml {
  return html`${tabs(input.tab)}
<section class="panel panel-confirm" aria-labelledby="confirm-title">
<h2 id="confirm-title">${input.title}</h2>
${input.consequences}
<form method="post" action="${input.action}" class="confirm-buttons">
${csrfField(input.csrf)}
<button type="submit" class="btn btn-danger-strong">${input.button}</button>
<a class="btn" href="${input.cancel}">Cancel</a>
</form>
</section>`
}

export function removeMemberConfirm(input: { member: Member; projectName: string; self: boolean; csrf: string }): SafeHtml {
  const { member } = input
  return confirmPage({
    tab: 'members',
    title: `Remove ${member.email} from ${input.projectName}?`,
    consequences: html`<p>${input.self ? html`<strong>This is you:</strong> you lose access to this project at once, and` : html`They lose access to this project at once (role ${member.role}${member.github_login ? html`, GitHub login <code>${member.github_login}</code>` : ''}), and`} every dashboard session of the account ends, on every device.</p>
<p class="muted">Their past decisions stay in the audit trail. To undo this, invite them again.</p>`,
    action: `/settings/members/${member.id}/remove`,
    button: `Remove ${member.email}`,
    cancel: '/settings/members',
    csrf: input.csrf,
  })
}

export function revokeInvitationConfirm(input: { invitation: Invitation; csrf: string }): SafeHtml {
  const { invitation } = input
  return confirmPage({
    tab: 'members',
    title: `Revoke the invitation for ${invitation.email}?`,
    consequences: html`<p>Its link stops working at once (it would have made them ${invitation.role === 'admin' ? 'an admin' : 'a member'}, and expires ${timeTag(invitation.expires_at)}).</p>
<p class="muted">You can create a new invitation later.</p>`,
    action: `/settings/invitations/${invitation.id}/revoke`,
    button: 'Revoke invitation',
    cancel: '/settings/members',
    csrf: input.csrf,
  })
}

export function revokeKeyConfirm(input: { key: ApiKeyInfo; csrf: string }): SafeHtml {
  const { key } = input
  return confirmPage({
    tab: 'keys',
    title: `Revoke API key “${key.name}”?`,
    consequences: html`<dl class="facts">
<div><dt>Key</dt><dd><code>${key.prefix}…</code></dd></div>
<div><dt>Scopes</dt><dd>${key.scopes.join(', ')}</dd></div>
<div><dt>Created</dt><dd>${timeTag(key.created_at)}</dd></div>
<div><dt>Last used</dt><dd>${key.last_used_at ? timeTag(key.last_used_at) : html`<span class="muted">never</span>`}</dd></div>
</dl>
<p>Requests using this key get <code>401</code> from now on: workflows and scripts that use it stop working until they get a new key. A revoked key cannot be restored.</p>`,
    action: `/settings/keys/${key.id}/revoke`,
    button: `Revoke ${key.name}`,
    cancel: '/settings/keys',
    csrf: input.csrf,
  })
}
