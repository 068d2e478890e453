/**
 * OpenID issuers as the server accepts them: the URL rule shared by workflow trust rules
 * (CLI, dashboard, token verification) and the dashboard's single sign-on provider.
 */

/** GitHub Actions' issuer: the default of a trust rule's issuer. */
export const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com'

/** `iss` as rules store it: without trailing slashes. */
export function normaliseIssuer(issuer: string): string {
  return issuer.replace(/\/+$/, '')
}

/**
 * The URL rules for issuers: https, or plain http to this machine only (a local issuer).
 * @returns the problem, or `null` when the URL is acceptable.
 */
export function issuerUrlProblem(raw: string): string | null {
  let url: URL
  try {
    url = new URL(raw)
  } catch {
    return 'is not a URL'
  }
  if (url.username || url.password || url.search || url.hash) return 'must not carry credentials, a query or a fragment'
  if (url.protocol === 'https:') return null
  if (url.protocol === 'http:' && isLoopbackHost(url.hostname)) return null
  return 'must use https (plain http only to this machine)'
}

function isLoopbackHost(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\.\d+\.\d+\.\d+$/.test(hostname)
}
