/** The sign-in form. */
import { html, type SafeHtml } from '../html.js'

/** `csrf` is the pre-session token that must come back with the form (see `Sessions.loginCsrfToken`). */
export function loginForm(input: { email?: string; next: string; csrf: string }): SafeHtml {
  return html`<section class="login" aria-labelledby="login-title">
<h1 id="login-title">Sign in</h1>
<form method="post" action="/login" class="stack">
<input type="hidden" name="_csrf" value="${input.csrf}">
<input type="hidden" name="next" value="${input.next}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${input.email ?? ''}" autofocus>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" class="btn btn-primary">Sign in</button>
</form>
<p class="muted">Accounts are created by a project admin (Settings → Members) or with <code>approval-gate user add</code>.</p>
</section>`
}
