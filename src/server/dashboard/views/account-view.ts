/** The account page (password, Slack user per project, sign out everywhere) and the pages of an invitation link. */
import { MIN_PASSWORD_CHARS, SLACK_USER_ID_RULE } from '../../admin/rules.js'
import type { Invitation, ProjectMembership } from '../../store/types.js'
import { html, type SafeHtml } from '../html.js'
import { timeTag } from './format.js'

function csrfField(csrf: string): SafeHtml {
  return html`<input type="hidden" name="_csrf" value="${csrf}">`
}

/** `passwordLogin: false` (the server signs in through its provider only) leaves out the password form. */
export function accountPage(input: { email: string; csrf: string; passwordLogin?: boolean; projects: ProjectMembership[] }): SafeHtml {
  return html`<div class="page-head"><h1>Your account</h1><p class="muted">Signed in as <strong>${input.email}</strong>.</p></div>
${input.passwordLogin === false ? '' : passwordSection(input.csrf)}
${slackSection(input)}
<section class="panel" aria-labelledby="everywhere-title">
<h2 id="everywhere-title">Sign out everywhere</h2>
<p class="muted">Ends every session of your account — on this and every other device — and stops their live pages.</p>
<form method="post" action="/logout/everywhere" class="inline-form">
${csrfField(input.csrf)}
<button type="submit" class="btn btn-danger">Sign out everywhere</button>
</form>
</section>`
}

/** One form per project: the Slack user whose clicks on that project's Slack messages decide as you. */
function slackSection(input: { csrf: string; projects: ProjectMembership[] }): SafeHtml {
  if (input.projects.length === 0) return html``
  return html`<section class="panel" aria-labelledby="slack-title">
<h2 id="slack-title">Slack</h2>
<p class="muted">Link your Slack user to decide from a project's Slack messages: your clicks on Approve and Reject there count as your decisions. In Slack: your profile → ⋮ → Copy member ID. Leave it empty to unlink.</p>
${input.projects.map(
  (project) => html`<form method="post" action="/account/slack" class="inline-form">
${csrfField(input.csrf)}
<input type="hidden" name="project_id" value="${project.id}">
<label for="slack-${project.id}">Slack user id in <strong>${project.name}</strong></label>
<input id="slack-${project.id}" name="slack_user_id" value="${project.slack_user_id ?? ''}" pattern="[UW][A-Z0-9]{2,31}" maxlength="32" autocomplete="off" spellcheck="false" title="${SLACK_USER_ID_RULE}" placeholder="U024BE7LH">
<button type="submit" class="btn">Save</button>
</form>`,
)}
</section>`
}

export const INVALID_INVITATION = html`<h1>This invitation link does not work</h1>
<p>It was already used or revoked, or it has expired (links last 7 days). Ask a project admin for a new one.</p>
<p><a href="/login">Sign in</a></p>`

interface InvitationView {
  invitation: Invitation
  projectName: string
  token: string
}

function invitationIntro(view: InvitationView): SafeHtml {
  return html`<h1 id="invite-title">Join ${view.projectName}</h1>
<p>You are invited as <strong>${view.invitation.role}</strong> of <strong>${view.projectName}</strong>, as <strong>${view.invitation.email}</strong>. The link works once and expires ${timeTag(view.invitation.expires_at)}.</p>`
}

/** Signed in as the invited email: one button. */
export function joinPage(view: InvitationView & { csrf: string }): SafeHtml {
  return html`<section class="login" aria-labelledby="invite-title">${invitationIntro(view)}
<form method="post" action="/invite/${view.token}" class="stack">${csrfField(view.csrf)}
<button type="submit" class="btn btn-primary">Join ${view.projectName}</button></form></section>`
}

/** Signed in as someone else: say so, change nothing. */
export function wrongAccountPage(view: InvitationView & { signedInAs: string }): SafeHtml {
  return html`<section class="login" aria-labelledby="invite-title">${invitationIntro(view)}
<p class="notice notice-error" role="alert">You are signed in as ${view.signedInAs}. Sign out, then open the link again to accept it as ${view.invitation.email}.</p></section>`
}

/** Not signed in, and the email has an account: sign in to accept. */
export function signInToJoinPage(view: InvitationView & { csrf: string }): SafeHtml {
  return html`<section class="login" aria-labelledby="invite-title">${invitationIntro(view)}
<form method="post" action="/invite/${view.token}" class="stack">${csrfField(view.csrf)}
<label for="password">Password of ${view.invitation.email}</label>
<input id="password" name="password" type="password" autocomplete="current-password" required autofocus>
<button type="submit" class="btn btn-primary">Sign in and join</button></form></section>`
}

/** Not signed in, no account yet: choose a password. */
export function createAccountPage(view: InvitationView & { csrf: string }): SafeHtml {
  return html`<section class="login" aria-labelledby="invite-title">${invitationIntro(view)}
<form method="post" action="/invite/${view.token}" class="stack">${csrfField(view.csrf)}
<input type="hidden" name="email" value="${view.invitation.email}" autocomplete="username">
<label for="new-password">Choose a password <span class="muted">(at least ${String(MIN_PASSWORD_CHARS)} characters)</span></label>
<input id="new-password" name="new_password" type="password" autocomplete="new-password" minlength="${String(MIN_PASSWORD_CHARS)}" required autofocus>
<label for="confirm-password">Password again</label>
<input id="confirm-password" name="confirm_password" type="password" autocomplete="new-password" minlength="${String(MIN_PASSWORD_CHARS)}" required>
<button type="submit" class="btn btn-primary">Create account and join</button></form></section>`
}

function passwordSection(csrf: string): SafeHtml {
  return html`<section class="panel" aria-labelledby="password-title">
<h2 id="password-title">Change password</h2>
<p class="muted">Changing it signs you out everywhere else: every other browser has to sign in again.</p>
<form method="post" action="/account/password" class="stack">
${csrfField(csrf)}
<label for="current-password">Current password</label>
<input id="current-password" name="current_password" type="password" autocomplete="current-password" required>
<label for="new-password">New password <span class="muted">(at least ${String(MIN_PASSWORD_CHARS)} characters)</span></label>
<input id="new-password" name="new_password" type="password" autocomplete="new-password" minlength="${String(MIN_PASSWORD_CHARS)}" required>
<label for="confirm-password">New password again</label>
<input id="confirm-password" name="confirm_password" type="password" autocomplete="new-password" minlength="${String(MIN_PASSWORD_CHARS)}" required>
<button type="submit" class="btn btn-primary">Change password</button>
</form>
</section>`
}
