/**
 * The headers every response of the app carries beyond its content: `nosniff` everywhere, and
 * `no-store` on the API (records and errors must not be cached by anything in between). The
 * app's `onSend` hook adds them; a held long-poll answered on the raw response adds the same.
 */
const API_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'x-content-type-options': 'nosniff', 'cache-control': 'no-store' })
const PAGE_HEADERS: Readonly<Record<string, string>> = Object.freeze({ 'x-content-type-options': 'nosniff' })

/** The headers to add to the response to a request for `url` (path and query). */
export function commonResponseHeaders(url: string): Readonly<Record<string, string>> {
  return isApiPath(url) ? API_HEADERS : PAGE_HEADERS
}

function isApiPath(url: string): boolean {
  return url === '/healthz' || url.startsWith('/v1/') || url.startsWith('/v1?') || url === '/v1' || url.startsWith('/integrations/')
}
