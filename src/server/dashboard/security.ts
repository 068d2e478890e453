/**
 * Browser-facing protections of the dashboard: response headers (strict CSP, no framing,
 * no sniffing), the cross-site check on state-changing requests, and the form-body parser.
 * Registered inside the dashboard's encapsulated scope, so the JSON API is untouched.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'

export const CONTENT_SECURITY_POLICY = [
  "default-src 'none'",
  "script-src 'self'",
  "style-src 'self'",
  "img-src 'self' data:",
  "connect-src 'self'",
  "form-action 'self'",
  "frame-ancestors 'none'",
  "base-uri 'none'",
].join('; ')

/** Headers every dashboard response carries (also written by hand on the event stream). */
export const SECURITY_HEADERS: Readonly<Record<string, string>> = {
  'content-security-policy': CONTENT_SECURITY_POLICY,
  'x-frame-options': 'DENY',
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'same-origin',
  'cross-origin-opener-policy': 'same-origin',
  'cross-origin-resource-policy': 'same-origin',
}

/** Form fields: first value of each name, in an object without a prototype. */
export type FormBody = Record<string, string>

const FORM_BODY_LIMIT = 64 * 1024

/** Parses `application/x-www-form-urlencoded` bodies (forms post this) in this scope only. */
export function registerFormParser(app: FastifyInstance): void {
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'string', bodyLimit: FORM_BODY_LIMIT }, (_request, body, done) => {
    const fields: FormBody = Object.create(null) as FormBody
    for (const [name, value] of new URLSearchParams(String(body))) {
      if (!(name in fields)) fields[name] = value
    }
    done(null, fields)
  })
}

/** The form fields of a request, or an empty object for anything that was not a form. */
export function formFields(request: FastifyRequest): FormBody {
  const body = request.body
  const fields: FormBody = Object.create(null) as FormBody
  if (!body || typeof body !== 'object' || Array.isArray(body)) return fields
  // A JSON body may hold anything: keep only string fields, as a form would send.
  for (const [name, value] of Object.entries(body)) if (typeof value === 'string') fields[name] = value
  return fields
}

/**
 * True when a state-changing request comes from another site: `Sec-Fetch-Site` other than
 * same-origin (browsers send it on every request), or an `Origin` that is not ours. Requests
 * with neither header (curl, old browsers) still need the CSRF token.
 */
export function isCrossSite(request: FastifyRequest, allowedOrigins: ReadonlySet<string>): boolean {
  const fetchSite = request.headers['sec-fetch-site']
  if (typeof fetchSite === 'string' && fetchSite !== 'same-origin' && fetchSite !== 'none') return true
  const origin = request.headers.origin
  if (origin === undefined) return false
  return !allowedOrigins.has(origin) && origin !== requestOrigin(request)
}

/** The origin the browser used to reach us, from the Host header (browsers set it; an attacker's page cannot). */
function requestOrigin(request: FastifyRequest): string {
  return `${request.protocol}://${request.host}`
}

/** Sends the security headers on every response of the scope and refuses cross-site state changes. */
export function registerSecurityHooks(app: FastifyInstance, publicUrl: string, refuse: (request: FastifyRequest, reply: FastifyReply) => FastifyReply): void {
  const allowed = new Set<string>()
  try {
    allowed.add(new URL(publicUrl).origin)
  } catch {
    // publicUrl is validated by the server; an unusable one just leaves the Host-derived origin.
  }
  app.addHook('onRequest', async (request, reply) => {
    reply.headers({ ...SECURITY_HEADERS, 'cache-control': 'no-store' })
    if (request.method !== 'GET' && request.method !== 'HEAD' && isCrossSite(request, allowed)) {
      return refuse(request, reply)
    }
  })
}
