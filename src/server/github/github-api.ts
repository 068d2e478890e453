/**
 * The server's outbound calls to GitHub's REST API, as the App: an installation token (with
 * the App's JWT) and the answer to a deployment protection rule. Each call has a timeout,
 * follows no redirects and reads at most a small answer. Installation tokens are cached per
 * installation until five minutes before they expire.
 *
 * Not `@octokit/auth-app`: the JWT is three lines of `jose` (already a dependency), and these
 * calls keep the server's rules for outbound HTTP (timeout, no redirects, bounded answers),
 * which Octokit's request layer does not enforce.
 */
import { SignJWT } from 'jose'
import type { GithubAppConfig } from './config.js'

/** Longest wait for one GitHub call. */
const CALL_TIMEOUT_MS = 10_000
/** Largest answer body read (a token answer is under 2 KB). */
const MAX_ANSWER_BYTES = 64 * 1024
/** A cached token is renewed this long before GitHub's `expires_at`. */
const TOKEN_MARGIN_MS = 5 * 60_000

/** What a deployment protection rule is answered with. */
export interface DeploymentReview {
  environment_name: string
  state: 'approved' | 'rejected'
  comment: string
}

/** The outcome of one call: done, or why not and whether trying again can help. */
export type GithubCallResult = { ok: true } | { ok: false; retryable: boolean; error: string }

/** Where an answer goes. */
export interface DeploymentTarget {
  installationId: string
  repository: string
  runId: string
}

/** Answers deployment protection rules (the callback worker's one dependency on GitHub). */
export interface DeploymentReviewer {
  review(target: DeploymentTarget, review: DeploymentReview): Promise<GithubCallResult>
}

class GithubCallError extends Error {
  constructor(
    message: string,
    readonly retryable: boolean,
    readonly status: number | null,
  ) {
    super(message)
  }
}

/** The GitHub App client. */
export class GithubAppClient implements DeploymentReviewer {
  private readonly tokens = new Map<string, { token: string; renewAt: number }>()

  constructor(private readonly config: GithubAppConfig) {}

  async review(target: DeploymentTarget, review: DeploymentReview): Promise<GithubCallResult> {
    try {
      const token = await this.installationToken(target.installationId)
      const [owner, repo] = target.repository.split('/')
      const path = `/repos/${encodeURIComponent(owner)}/${encodeURIComponent(repo)}/actions/runs/${encodeURIComponent(target.runId)}/deployment_protection_rule`
      await this.call('POST', path, `Bearer ${token}`, review)
      return { ok: true }
    } catch (error) {
      if (!(error instanceof GithubCallError)) throw error
      // A revoked or expired token: forget it so the retry asks for a new one.
      if (error.status === 401) this.tokens.delete(target.installationId)
      return { ok: false, retryable: error.retryable, error: error.message }
    }
  }

  /** A token for the installation (cached until shortly before it expires). */
  private async installationToken(installationId: string): Promise<string> {
    const cached = this.tokens.get(installationId)
    if (cached && cached.renewAt > Date.now()) return cached.token
    const answer = await this.call('POST', `/app/installations/${encodeURIComponent(installationId)}/access_tokens`, `Bearer ${await this.appJwt()}`)
    const fields = typeof answer === 'object' && answer !== null ? (answer as Record<string, unknown>) : {}
    if (typeof fields.token !== 'string' || typeof fields.expires_at !== 'string' || Number.isNaN(Date.parse(fields.expires_at))) {
      throw new GithubCallError('GitHub answered the installation token request without a token and expires_at', true, null)
    }
    this.tokens.set(installationId, { token: fields.token, renewAt: Date.parse(fields.expires_at) - TOKEN_MARGIN_MS })
    return fields.token
  }

  /** The App's JWT: RS256, issued a minute in the past (clock drift), valid for nine minutes (GitHub allows ten). */
  private appJwt(): Promise<string> {
    const now = Math.floor(Date.now() / 1000)
    return new SignJWT({}).setProtectedHeader({ alg: 'RS256', typ: 'JWT' }).setIssuer(this.config.appId).setIssuedAt(now - 60).setExpirationTime(now + 540).sign(this.config.privateKey)
  }

  private async call(method: string, path: string, authorization: string, body?: unknown): Promise<unknown> {
    let response: Response
    try {
      response = await fetch(`${this.config.apiUrl}${path}`, {
        method,
        redirect: 'error',
        signal: AbortSignal.timeout(CALL_TIMEOUT_MS),
        headers: {
          accept: 'application/vnd.github+json',
          authorization,
          'user-agent': 'approval-gate',
          'x-github-api-version': '2022-11-28',
          ...(body === undefined ? {} : { 'content-type': 'application/json' }),
        },
        body: body === undefined ? undefined : JSON.stringify(body),
      })
    } catch (error) {
      throw new GithubCallError(`${method} ${path}: ${describeFailure(error)}`, true, null)
    }
    const text = await boundedText(response)
    if (response.ok) return text ? parseJson(text) : null
    throw new GithubCallError(`${method} ${path}: HTTP ${response.status}${githubMessage(text)}`, isRetryable(response.status, response.headers), response.status)
  }
}

/** 5xx, 408, 429, a rate-limited 403 and 401 (a token that expired meanwhile) are worth retrying; other 4xx are final. */
function isRetryable(status: number, headers: Headers): boolean {
  if (status >= 500 || status === 408 || status === 429 || status === 401) return true
  return status === 403 && (headers.get('x-ratelimit-remaining') === '0' || headers.has('retry-after'))
}

/** The answer's text, cut off (the rest discarded) past `MAX_ANSWER_BYTES`. */
async function boundedText(response: Response): Promise<string> {
  if (!response.body) return ''
  const reader = response.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read().catch(() => ({ done: true, value: undefined }))
    if (done || !value) break
    size += value.byteLength
    if (size > MAX_ANSWER_BYTES) {
      await reader.cancel().catch(() => {})
      break
    }
    chunks.push(value)
  }
  return Buffer.concat(chunks).toString('utf8')
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text)
  } catch {
    return null
  }
}

/** GitHub's `message` field, short, for logs and `last_error`. */
function githubMessage(text: string): string {
  const body = parseJson(text)
  const message = typeof body === 'object' && body !== null ? (body as { message?: unknown }).message : undefined
  return typeof message === 'string' ? `: ${message.replace(/[\p{Cc}\p{Cf}]/gu, ' ').slice(0, 200)}` : ''
}

function describeFailure(error: unknown): string {
  const name = typeof error === 'object' && error !== null ? (error as { name?: unknown }).name : undefined
  if (name === 'TimeoutError' || name === 'AbortError') return `no answer within ${CALL_TIMEOUT_MS} ms`
  const cause = (error as { cause?: { code?: unknown; message?: unknown } }).cause
  return String(cause?.code ?? cause?.message ?? (error as Error).message ?? error)
}
