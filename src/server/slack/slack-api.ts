/**
 * The Slack Web API calls we make — `chat.postMessage`, `chat.update`, `chat.postEphemeral`,
 * `views.open` — through Slack's official SDK (`@slack/web-api`), with its retries turned off
 * (the delivery worker retries with backoff), no redirects (the bearer token goes to the API
 * base URL only), a timeout, and the caller's abort signal. The base URL is configurable
 * (`serve --slack-api-url`) so tests can point it at a local stand-in. The SDK is loaded by the
 * first call: a server that never talks to Slack does not carry it.
 */
import type { Logger, WebClient } from '@slack/web-api'

type SlackSdk = typeof import('@slack/web-api')

export const DEFAULT_SLACK_API_URL = 'https://slack.com/api/'
/** Longest wait for one Slack API call. */
export const SLACK_CALL_TIMEOUT_MS = 10_000

/** Slack API errors that retrying cannot fix (the token, the channel or the message is wrong). */
const PERMANENT_ERRORS = new Set([
  'invalid_auth',
  'not_authed',
  'account_inactive',
  'token_revoked',
  'token_expired',
  'no_permission',
  'missing_scope',
  'channel_not_found',
  'not_in_channel',
  'is_archived',
  'message_not_found',
  'cant_update_message',
  'invalid_blocks',
  'invalid_arguments',
  'msg_too_long',
  'user_not_in_channel',
])

/** A failed Slack call: one line without secrets, the HTTP status when there was one, and whether a retry may help. */
export class SlackCallError extends Error {
  constructor(
    message: string,
    readonly statusCode: number | null,
    readonly retryable: boolean,
  ) {
    super(message)
    this.name = 'SlackCallError'
  }
}

export interface PostedMessage {
  channel: string
  ts: string
}

export interface SlackMessageBody {
  text: string
  blocks: object[]
}

/** One bot token's Slack API, at `apiUrl`. */
export class SlackApi {
  private client: WebClient | null = null

  constructor(
    private readonly botToken: string,
    private readonly apiUrl: string = DEFAULT_SLACK_API_URL,
    private readonly signal?: AbortSignal,
  ) {}

  /** Posts a message (in a thread when `threadTs` is given). Untrusted text is escaped by the message builder; nothing is parsed here. */
  async post(channel: string, message: SlackMessageBody, threadTs?: string): Promise<PostedMessage> {
    const result = await this.call('chat.postMessage', (client) =>
      client.chat.postMessage({ channel, ...message, ...(threadTs ? { thread_ts: threadTs } : {}), parse: 'none', link_names: false, unfurl_links: false, unfurl_media: false }),
    )
    if (typeof result.channel !== 'string' || typeof result.ts !== 'string') throw new SlackCallError('chat.postMessage answered without channel and ts', null, true)
    return { channel: result.channel, ts: result.ts }
  }

  async update(channel: string, ts: string, message: SlackMessageBody): Promise<void> {
    await this.call('chat.update', (client) => client.chat.update({ channel, ts, ...message, parse: 'none', link_names: false }))
  }

  /** A message only `user` sees, in `channel`. */
  async ephemeral(channel: string, user: string, message: SlackMessageBody): Promise<void> {
    await this.call('chat.postEphemeral', (client) => client.chat.postEphemeral({ channel, user, ...message, parse: 'none', link_names: false }))
  }

  /** Opens a modal for the person who clicked (`triggerId` is valid for 3 seconds). */
  async openView(triggerId: string, view: object): Promise<void> {
    await this.call('views.open', (client) => client.views.open({ trigger_id: triggerId, view: view as never }))
  }

  private async call<T>(method: string, work: (client: WebClient) => Promise<T>): Promise<T> {
    const sdk = await import('@slack/web-api')
    try {
      return await work((this.client ??= this.newClient(sdk)))
    } catch (error) {
      throw toCallError(method, error, sdk)
    }
  }

  private newClient(sdk: SlackSdk): WebClient {
    const signal = this.signal
    return new sdk.WebClient(this.botToken, {
      slackApiUrl: this.apiUrl.endsWith('/') ? this.apiUrl : `${this.apiUrl}/`,
      retryConfig: { retries: 0 },
      rejectRateLimitedCalls: true,
      timeout: SLACK_CALL_TIMEOUT_MS,
      allowAbsoluteUrls: false,
      logger: silentLogger(sdk),
      fetch: (input, init) => fetch(input, { ...init, redirect: 'error', signal: signal && init?.signal ? AbortSignal.any([signal, init.signal]) : (signal ?? init?.signal) }),
    })
  }
}

function toCallError(method: string, error: unknown, { WebAPIPlatformError, WebAPIRateLimitedError, WebAPIHTTPError }: SlackSdk): SlackCallError {
  if (error instanceof WebAPIPlatformError) {
    const code = String(error.data.error).slice(0, 100)
    return new SlackCallError(`${method}: Slack answered ${code}`, 200, !PERMANENT_ERRORS.has(code))
  }
  if (error instanceof WebAPIRateLimitedError) return new SlackCallError(`${method}: rate limited by Slack (retry after ${error.retryAfter} s)`, 429, true)
  if (error instanceof WebAPIHTTPError) return new SlackCallError(`${method}: HTTP ${error.statusCode}`, error.statusCode, error.statusCode >= 500 || error.statusCode === 408)
  const reason = error instanceof Error ? error.message.split('\n')[0].slice(0, 200) : 'unknown error'
  return new SlackCallError(`${method}: ${reason}`, null, true)
}

/** The SDK logs through this; our callers report failures themselves, without tokens. */
function silentLogger(sdk: SlackSdk): Logger {
  return {
    debug: () => {},
    info: () => {},
    warn: () => {},
    error: () => {},
    setLevel: () => {},
    getLevel: () => sdk.LogLevel.ERROR,
    setName: () => {},
  }
}
