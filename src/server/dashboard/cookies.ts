/** Minimal cookie reading and writing for the dashboard's cookies (no extra package). */

/** Parses a `Cookie` header; later duplicates do not override the first value. */
export function parseCookies(header: string | undefined): Map<string, string> {
  const cookies = new Map<string, string>()
  if (!header) return cookies
  for (const part of header.split(';')) {
    const eq = part.indexOf('=')
    if (eq < 0) continue
    const name = part.slice(0, eq).trim()
    if (!name || cookies.has(name)) continue
    let value = part.slice(eq + 1).trim()
    if (value.startsWith('"') && value.endsWith('"')) value = value.slice(1, -1)
    try {
      cookies.set(name, decodeURIComponent(value))
    } catch {
      // A malformed escape is not one of our cookies; ignore it.
    }
  }
  return cookies
}

export interface CookieOptions {
  maxAgeSeconds?: number
  secure: boolean
  /** Default `Lax` (top-level links from GitHub keep the session); `Strict` for cookies only our own pages need. */
  sameSite?: 'Lax' | 'Strict'
}

/** `Set-Cookie` value: always HttpOnly and Path=/, SameSite=Lax unless told otherwise. */
export function serializeCookie(name: string, value: string, options: CookieOptions): string {
  const parts = [`${name}=${encodeURIComponent(value)}`, 'Path=/', 'HttpOnly', `SameSite=${options.sameSite ?? 'Lax'}`]
  if (options.maxAgeSeconds !== undefined) parts.push(`Max-Age=${Math.max(0, Math.floor(options.maxAgeSeconds))}`)
  if (options.secure) parts.push('Secure')
  return parts.join('; ')
}
