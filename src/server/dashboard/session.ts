/**
 * Dashboard sessions: an opaque random token in an HttpOnly cookie, only its sha256 in the
 * store, one CSRF token per session, and a pre-session CSRF token for the sign-in form
 * (double-submit cookie). Also picks the project a request works on, validated against the
 * signed-in user's memberships.
 */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { hashToken, randomToken } from '../auth/secrets.js'
import type { ProjectMembership, Session, Store, User } from '../store/types.js'
import { parseCookies, serializeCookie } from './cookies.js'

export const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000
const PROJECT_COOKIE_MAX_AGE_S = 365 * 24 * 60 * 60
/** How long a sign-in form stays usable; an older one is refused and the page says to reload. */
const LOGIN_CSRF_MAX_AGE_S = 12 * 60 * 60
/** `randomToken(24)` is 32 base64url characters; anything else in the cookie is not ours. */
const LOGIN_CSRF_SHAPE = /^[A-Za-z0-9_-]{32}$/

export interface CookieNames {
  session: string
  project: string
  /** The sign-in form's CSRF token, before any session exists. */
  loginCsrf: string
  /** A started single sign-on's sealed state, nonce and PKCE verifier (see `dashboard/sso.ts`). */
  preLogin: string
}

/** Cookie names; the `__Host-` prefix (https only) pins the cookie to this exact origin. */
export function cookieNames(secure: boolean): CookieNames {
  return secure
    ? { session: '__Host-ag_session', project: '__Host-ag_project', loginCsrf: '__Host-ag_login_csrf', preLogin: '__Host-ag_sso' }
    : { session: 'ag_session', project: 'ag_project', loginCsrf: 'ag_login_csrf', preLogin: 'ag_sso' }
}

/** The signed-in user of a request, with the project the page works on. */
export interface Viewer {
  user: User
  session: Session
  projects: ProjectMembership[]
  /** `null` when the user belongs to no project yet. */
  project: ProjectMembership | null
}

export class Sessions {
  private readonly names: CookieNames

  constructor(
    private readonly store: Store,
    private readonly secure: boolean,
  ) {
    this.names = cookieNames(secure)
  }

  /** Starts a session for `user` and sets its cookie; sweeps expired sessions first. */
  async start(reply: FastifyReply, user: User): Promise<void> {
    const token = randomToken(32)
    const now = Date.now()
    // Sign-in is the one place sessions are written, so sweeping here keeps the table to the
    // live sessions plus those that ended since the last sign-in (an indexed delete).
    await this.store.deleteExpiredSessions(new Date(now).toISOString())
    await this.store.createSession({
      token_hash: hashToken(token),
      user_id: user.id,
      csrf_token: randomToken(24),
      created_at: new Date(now).toISOString(),
      expires_at: new Date(now + SESSION_TTL_MS).toISOString(),
    })
    reply.header('set-cookie', serializeCookie(this.names.session, token, { secure: this.secure, maxAgeSeconds: SESSION_TTL_MS / 1000 }))
  }

  /** Ends the request's session (if any) and clears its cookie. */
  async end(request: FastifyRequest, reply: FastifyReply): Promise<void> {
    const token = parseCookies(request.headers.cookie).get(this.names.session)
    if (token) await this.store.deleteSession(hashToken(token))
    reply.header('set-cookie', serializeCookie(this.names.session, '', { secure: this.secure, maxAgeSeconds: 0 }))
  }

  /**
   * Loads who is signed in. `projectId` (from a route) wins over the project cookie; both are
   * only honoured when the user is a member, otherwise the first membership is used.
   */
  async viewer(request: FastifyRequest, projectId?: string): Promise<Viewer | null> {
    const cookies = parseCookies(request.headers.cookie)
    const token = cookies.get(this.names.session)
    if (!token || token.length > 200) return null
    const session = await this.store.getSession(hashToken(token), new Date().toISOString())
    if (!session) return null
    const user = await this.store.getUser(session.user_id)
    if (!user) return null
    const projects = await this.store.listProjectsForUser(user.id)
    const wanted = projectId ?? cookies.get(this.names.project)
    const project = projects.find((p) => p.id === wanted) ?? projects[0] ?? null
    return { user, session, projects, project }
  }

  /**
   * The sign-in form's CSRF token: the one already in the visitor's cookie, else a new random
   * one. Either way the cookie is (re)set — HttpOnly, SameSite=Strict — and the caller puts
   * the returned value in the form's hidden `_csrf` field.
   */
  loginCsrfToken(request: FastifyRequest, reply: FastifyReply): string {
    const existing = parseCookies(request.headers.cookie).get(this.names.loginCsrf)
    const token = existing && LOGIN_CSRF_SHAPE.test(existing) ? existing : randomToken(24)
    reply.header('set-cookie', serializeCookie(this.names.loginCsrf, token, { secure: this.secure, sameSite: 'Strict', maxAgeSeconds: LOGIN_CSRF_MAX_AGE_S }))
    return token
  }

  /** True when the sign-in POST carries the same token in its form as in its cookie (constant time). */
  loginCsrfMatches(request: FastifyRequest, submitted: unknown): boolean {
    const cookie = parseCookies(request.headers.cookie).get(this.names.loginCsrf)
    return cookie !== undefined && LOGIN_CSRF_SHAPE.test(cookie) && tokensMatch(cookie, submitted)
  }

  /** Drops the sign-in token after a successful sign-in, so the next sign-in form gets a fresh one. */
  clearLoginCsrf(reply: FastifyReply): void {
    reply.header('set-cookie', serializeCookie(this.names.loginCsrf, '', { secure: this.secure, sameSite: 'Strict', maxAgeSeconds: 0 }))
  }

  /**
   * Keeps a started single sign-on's sealed values until the provider sends the browser back.
   * SameSite=Lax: that return is a top-level navigation from the provider's site.
   */
  setPreLogin(reply: FastifyReply, sealed: string, maxAgeSeconds: number): void {
    reply.header('set-cookie', serializeCookie(this.names.preLogin, sealed, { secure: this.secure, maxAgeSeconds }))
  }

  /** The pre-login cookie's value (a started single sign-on). */
  preLogin(request: FastifyRequest): string | undefined {
    return parseCookies(request.headers.cookie).get(this.names.preLogin)
  }

  /** Drops the pre-login cookie: a started sign-in finishes once, whatever the outcome. */
  clearPreLogin(reply: FastifyReply): void {
    reply.header('set-cookie', serializeCookie(this.names.preLogin, '', { secure: this.secure, maxAgeSeconds: 0 }))
  }

  /** Remembers the selected project (the caller has checked membership). */
  selectProject(reply: FastifyReply, projectId: string): void {
    reply.header('set-cookie', serializeCookie(this.names.project, projectId, { secure: this.secure, maxAgeSeconds: PROJECT_COOKIE_MAX_AGE_S }))
  }
}

/** Constant-time comparison of the submitted CSRF token with the session's. */
export function csrfTokenMatches(session: Session, submitted: unknown): boolean {
  return tokensMatch(session.csrf_token, submitted)
}

/** Constant-time comparison of a submitted token with the expected one; never matches an empty token. */
function tokensMatch(expectedToken: string, submitted: unknown): boolean {
  if (typeof submitted !== 'string' || submitted.length === 0 || expectedToken.length === 0) return false
  const expected = Buffer.from(expectedToken)
  const actual = Buffer.from(submitted)
  return expected.length === actual.length && timingSafeEqual(expected, actual)
}

/** A post-login redirect target: only a local absolute path, never another origin. */
export function safeNextPath(next: unknown): string {
  if (typeof next !== 'string' || next.length > 500) return '/'
  if (!next.startsWith('/') || next.startsWith('//') || next.includes('\\')) return '/'
  // Only printable ASCII: anything else (control characters, non-Latin text) cannot go in a Location header.
  if (/[^\x20-\x7e]/.test(next)) return '/'
  return next
}
