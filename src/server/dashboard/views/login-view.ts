/** The sign-in page: the password form and/or "Sign in with <provider>". */
import { html, type SafeHtml } from '../html.js'

/** How people may sign in on this server. */
export interface SignInMethods {
  /** False when `serve --password-login=false`: only the provider's button. */
  password: boolean
  /** The single sign-on provider's name, when one is configured. */
  sso: string | null
}

/** `csrf` is the pre-session token that must come back with the form (see `Sessions.loginCsrfToken`). */
export function loginForm(input: { email?: string; next: string; csrf: string; methods?: SignInMethods }): SafeHtml {
  const methods = input.methods ?? { password: true, sso: null }
  return html`<section class="login" aria-labelledby="login-title">
<h1 id="login-title">Sign in</h1>
${methods.sso ? ssoButton(methods.sso, input.next) : ''}
${methods.password ? passwordForm(input, methods.sso !== null) : ''}
<p class="muted">Accounts are created by a project admin (Settings → Members) or with <code>approval-gate user add</code>.</p>
</section>`
}

/** The link that starts a single sign-on, coming back to `next` afterwards. */
export function ssoButton(provider: string, next: string): SafeHtml {
  const href = next === '/' ? '/login/sso' : `/login/sso?next=${encodeURIComponent(next)}`
  return html`<p><a class="btn btn-primary sso-button" href="${href}">Sign in with ${provider}</a></p>`
}

function passwordForm(input: { email?: string; next: string; csrf: string }, afterSso: boolean): SafeHtml {
  return html`${afterSso ? html`<p class="muted">or with your email and password:</p>` : ''}
<form method="post" action="/login" class="stack">
<input type="hidden" name="_csrf" value="${input.csrf}">
<input type="hidden" name="next" value="${input.next}">
<label for="email">Email</label>
<input id="email" name="email" type="email" autocomplete="username" required value="${input.email ?? ''}"${afterSso ? '' : ' autofocus'}>
<label for="password">Password</label>
<input id="password" name="password" type="password" autocomplete="current-password" required>
<button type="submit" class="btn${afterSso ? '' : ' btn-primary'}">Sign in</button>
</form>`
}
