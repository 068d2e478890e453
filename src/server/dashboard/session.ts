/**
 * Dashboard sessions: an opaque random token in an HttpOnly cookie, only its sha256 in the
 * store, one CSRF token per session. Also picks the project a request works on, validated
 * against the signed-in user's memberships.
 */
import { timingSafeEqual } from 'node:crypto'
import type { FastifyReply, FastifyRequest } from 'fastify'
import { hashToken, randomToken } from '../auth/secrets.js'
import type { Project, Role, Session, Store, User } from '../store/types.js'
import { parseCookies, serializeCookie } from './cookies.js'

export const SESSION_TTL_MS = 7 * 24 * 60 * 60 * 1000
const PROJECT_COOKIE_MAX_AGE_S = 365 * 24 * 60 * 60

/** Cookie names; the `__Host-` prefix (https only) pins the cookie to this exact origin. */
export function cookieNames(secure: boolean): { session: string; project: string } {
  return secure ? { session: '__Host-ag_session', project: '__Host-ag_project' } : { session: 'ag_session', project: 'ag_project' }
}

/** The signed-in user of a request, with the project the page works on. */
export interface Viewer {
  user: User
  session: Session
  projects: Array<Project & { role: Role }>
  /** `null` when the user belongs to no project yet. */
  project: (Project & { role: Role }) | null
}

export class Sessions {
  private readonly names: { session: string; project: string }

  constructor(
    private readonly store: Store,
    private readonly secure: boolean,
  ) {
    this.names = cookieNames(secure)
  }

  /** Starts a session for `user` and sets its cookie. */
  async start(reply: FastifyReply, user: User): Promise<void> {
    const token = randomToken(32)
    const now = Date.now()
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

  /** Remembers the selected project (the caller has checked membership). */
  selectProject(reply: FastifyReply, projectId: string): void {
    reply.header('set-cookie', serializeCookie(this.names.project, projectId, { secure: this.secure, maxAgeSeconds: PROJECT_COOKIE_MAX_AGE_S }))
  }
}

/** Constant-time comparison of the submitted CSRF token with the session's. */
export function csrfTokenMatches(session: Session, submitted: unknown): boolean {
  if (typeof submitted !== 'string' || submitted.length === 0) return false
  const expected = Buffer.from(session.csrf_token)
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
