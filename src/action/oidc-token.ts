/**
 * The workflow's OIDC token as the bearer (`auth: oidc`, or `auto` without an API key): asked
 * from the runner with `core.getIDToken(audience)` (needs `permissions: id-token: write`),
 * masked at once, never logged, and asked again shortly before it expires — GitHub's tokens
 * live minutes while a gate may wait hours.
 */
import * as core from '@actions/core'

/** A new token is asked for when the current one expires within this long. */
const REFRESH_BEFORE_EXPIRY_MS = 60_000

/** Where the token is asked for; `getIDToken` by default (tests may replace it). */
export type TokenSource = (audience: string) => Promise<string>

/** A provider of fresh OIDC tokens for `audience`; call `next()` before each request. */
export function oidcBearer(audience: string, source: TokenSource = (aud) => core.getIDToken(aud)): { next: () => Promise<string> } {
  let current: { token: string; expiresAt: number } | undefined
  return {
    async next() {
      if (current && current.expiresAt - Date.now() > REFRESH_BEFORE_EXPIRY_MS) return current.token
      let token: string
      try {
        token = (await source(audience)).trim()
      } catch (error) {
        throw new Error(`the runner gave no OIDC token (${error instanceof Error ? error.message : String(error)}); the job needs \`permissions: id-token: write\``)
      }
      core.setSecret(token)
      current = { token, expiresAt: expiryOf(token) }
      return token
    },
  }
}

/** The token's `exp` in ms (unverified: only to know when to ask again); now when unreadable, so it is asked for every time. */
function expiryOf(token: string): number {
  try {
    const payload = JSON.parse(Buffer.from(token.split('.')[1] ?? '', 'base64url').toString('utf8')) as { exp?: unknown }
    return typeof payload.exp === 'number' ? payload.exp * 1000 : Date.now()
  } catch {
    return Date.now()
  }
}
