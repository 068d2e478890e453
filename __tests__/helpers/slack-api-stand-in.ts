/**
 * A local stand-in for Slack's Web API on loopback, speaking the documented shapes of
 * `chat.postMessage`, `chat.update`, `chat.postEphemeral` and `views.open` (form-encoded or JSON
 * bodies, `{ok: true, …}` answers, `{ok: false, error}` on failure, HTTP 200 either way) and
 * checking the bearer token like Slack does (`not_authed` without one, `invalid_auth` for
 * another). It keeps the channel's messages so a test reads what a person would see, records
 * every call, and can fail the next calls (`failNext`) or stop answering (`hang`).
 *
 * Also signs interaction payloads the way Slack does (`signedInteraction`).
 */
import { createHmac } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface SlackCall {
  method: string
  token: string | null
  args: Record<string, unknown>
}

export interface StoredMessage {
  channel: string
  ts: string
  text: string
  blocks: Array<Record<string, unknown>>
  thread_ts: string | null
}

type Failure = { status: number } | { error: string }

export class SlackApiStandIn {
  readonly calls: SlackCall[] = []
  readonly messages: StoredMessage[] = []
  readonly ephemerals: Array<{ channel: string; user: string; text: string }> = []
  readonly views: Array<{ trigger_id: string; view: Record<string, unknown> }> = []
  /** Set true to accept connections and never answer. */
  hang = false
  private readonly failures = new Map<string, Failure[]>()
  private readonly server: Server
  private counter = 0
  /** Channel names (`#deploys`) map to ids as Slack answers with ids. */
  private readonly channelIds = new Map<string, string>()

  private constructor(readonly botToken: string) {
    this.server = createServer((request, response) => void this.handle(request, response))
  }

  static async start(botToken = 'xoxb-stand-in-0000000000'): Promise<SlackApiStandIn> {
    const standIn = new SlackApiStandIn(botToken)
    await new Promise<void>((resolve) => standIn.server.listen(0, '127.0.0.1', resolve))
    return standIn
  }

  /** The base URL to configure (`serve --slack-api-url`). */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}/api/`
  }

  /** The next `times` calls of `method` fail: an HTTP status, or a Slack `{ok:false, error}`. */
  failNext(method: string, failure: Failure, times = 1): void {
    this.failures.set(method, [...(this.failures.get(method) ?? []), ...Array.from({ length: times }, () => failure)])
  }

  /** The id Slack uses for a channel named in the config (ids stay ids). */
  channelId(name: string): string {
    if (/^[A-Z0-9]+$/.test(name)) return name
    let id = this.channelIds.get(name)
    if (!id) {
      id = `C${String(this.channelIds.size + 1).padStart(8, '0')}`
      this.channelIds.set(name, id)
    }
    return id
  }

  /** The message at `ts`, as it reads now. */
  message(ts: string): StoredMessage | undefined {
    return this.messages.find((message) => message.ts === ts)
  }

  /** Every mrkdwn and plain text of a message's blocks, joined: what a reader sees. */
  static textOf(message: Pick<StoredMessage, 'blocks'>): string {
    const texts: string[] = []
    const walk = (value: unknown): void => {
      if (Array.isArray(value)) value.forEach(walk)
      else if (value && typeof value === 'object') {
        const object = value as Record<string, unknown>
        if ((object.type === 'mrkdwn' || object.type === 'plain_text') && typeof object.text === 'string') texts.push(object.text)
        else Object.values(object).forEach(walk)
      }
    }
    walk(message.blocks)
    return texts.join('\n')
  }

  /** The buttons' action ids in a message. */
  static buttonsOf(message: Pick<StoredMessage, 'blocks'>): string[] {
    return message.blocks.flatMap((block) => (block.type === 'actions' ? (block.elements as Array<Record<string, unknown>>).map((element) => String(element.action_id)) : []))
  }

  async close(): Promise<void> {
    this.server.closeAllConnections()
    await new Promise<void>((resolve) => this.server.close(() => resolve()))
  }

  private async handle(request: IncomingMessage, response: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of request) chunks.push(chunk as Buffer)
    if (this.hang) return
    const method = (request.url ?? '').replace(/^\/api\//, '').split('?')[0]
    const auth = request.headers.authorization
    const token = auth?.startsWith('Bearer ') ? auth.slice(7) : null
    const args = parseArgs(request.headers['content-type'] ?? '', Buffer.concat(chunks).toString('utf8'))
    this.calls.push({ method, token, args })
    const answer = (status: number, body: object) => {
      // Slack's rate limit answer names when to come back.
      response.writeHead(status, { 'content-type': 'application/json; charset=utf-8', ...(status === 429 ? { 'retry-after': '30' } : {}) })
      response.end(JSON.stringify(body))
    }
    const failure = this.failures.get(method)?.shift()
    if (failure) return 'status' in failure ? answer(failure.status, { ok: false, error: 'fatal_error' }) : answer(200, { ok: false, error: failure.error })
    if (!token) return answer(200, { ok: false, error: 'not_authed' })
    if (token !== this.botToken) return answer(200, { ok: false, error: 'invalid_auth' })
    const result = this.apply(method, args)
    answer(200, result)
  }

  private apply(method: string, args: Record<string, unknown>): object {
    const blocks = typeof args.blocks === 'string' ? (JSON.parse(args.blocks) as StoredMessage['blocks']) : ((args.blocks as StoredMessage['blocks']) ?? [])
    switch (method) {
      case 'chat.postMessage': {
        if (typeof args.channel !== 'string' || args.channel === '') return { ok: false, error: 'channel_not_found' }
        if (typeof args.text !== 'string' && blocks.length === 0) return { ok: false, error: 'no_text' }
        const message: StoredMessage = { channel: this.channelId(args.channel), ts: this.nextTs(), text: String(args.text ?? ''), blocks, thread_ts: typeof args.thread_ts === 'string' ? args.thread_ts : null }
        this.messages.push(message)
        return { ok: true, channel: message.channel, ts: message.ts, message: { text: message.text, blocks } }
      }
      case 'chat.update': {
        const message = this.messages.find((candidate) => candidate.ts === args.ts && candidate.channel === args.channel)
        if (!message) return { ok: false, error: 'message_not_found' }
        message.text = String(args.text ?? '')
        message.blocks = blocks
        return { ok: true, channel: message.channel, ts: message.ts, text: message.text }
      }
      case 'chat.postEphemeral': {
        if (typeof args.channel !== 'string' || typeof args.user !== 'string') return { ok: false, error: 'invalid_arguments' }
        this.ephemerals.push({ channel: args.channel, user: args.user, text: String(args.text ?? '') })
        return { ok: true, message_ts: this.nextTs() }
      }
      case 'views.open': {
        if (typeof args.trigger_id !== 'string') return { ok: false, error: 'invalid_arguments' }
        const view = typeof args.view === 'string' ? (JSON.parse(args.view) as Record<string, unknown>) : (args.view as Record<string, unknown>)
        this.views.push({ trigger_id: args.trigger_id, view })
        return { ok: true, view: { id: `V${this.counter++}`, ...view } }
      }
      default:
        return { ok: false, error: 'unknown_method' }
    }
  }

  private nextTs(): string {
    return `${Math.floor(Date.now() / 1000)}.${String(++this.counter).padStart(6, '0')}`
  }
}

function parseArgs(contentType: string, body: string): Record<string, unknown> {
  if (body === '') return {}
  if (contentType.startsWith('application/json')) return JSON.parse(body) as Record<string, unknown>
  return Object.fromEntries(new URLSearchParams(body))
}

/** A Slack interaction request: the form body (`payload=<json>`) and Slack's signature headers. */
export function signedInteraction(
  signingSecret: string,
  payload: object,
  options: { timestamp?: number; body?: string } = {},
): { body: string; headers: Record<string, string> } {
  const timestamp = String(options.timestamp ?? Math.floor(Date.now() / 1000))
  const body = options.body ?? new URLSearchParams({ payload: JSON.stringify(payload) }).toString()
  const signature = `v0=${createHmac('sha256', signingSecret).update(`v0:${timestamp}:${body}`).digest('hex')}`
  return {
    body,
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'x-slack-request-timestamp': timestamp, 'x-slack-signature': signature },
  }
}

/** A `block_actions` payload as Slack sends it when `user` clicks a button of `message`. */
export function buttonClick(user: string, message: Pick<StoredMessage, 'channel' | 'ts'>, actionId: string, approvalId: string): object {
  return {
    type: 'block_actions',
    team: { id: 'T00000001', domain: 'example' },
    user: { id: user, username: user.toLowerCase(), team_id: 'T00000001' },
    api_app_id: 'A00000001',
    trigger_id: `${Date.now()}.1.${Math.random().toString(16).slice(2)}`,
    container: { type: 'message', message_ts: message.ts, channel_id: message.channel, is_ephemeral: false },
    channel: { id: message.channel, name: 'deploys' },
    message: { ts: message.ts, type: 'message' },
    response_url: 'https://hooks.slack.invalid/actions/T00000001/1/x',
    actions: [{ type: 'button', action_id: actionId, block_id: 'approval_gate_decide', value: approvalId, action_ts: String(Date.now() / 1000) }],
  }
}
