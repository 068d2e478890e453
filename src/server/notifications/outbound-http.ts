/**
 * The server's outbound HTTP for notifications (webhooks now, Slack's Web API later): the one
 * deliberate exception to "only `src/client/` makes HTTP calls", because these calls go to
 * receivers the project's admins name, not to an approvals API. One undici agent with bounded
 * connect and response times, a cap on the answer read, no redirects followed (undici's
 * `request` never follows them), and — unless the operator allows private receivers — every
 * address a connection is about to use checked against loopback/private/link-local ranges, at
 * connect time, so a host that resolved to a public address when the channel was added cannot
 * rebind to an internal one later. undici is loaded by the first call: a server that sends no
 * notification does not carry it.
 */
import { lookup as dnsLookup, type LookupAddress } from 'node:dns'
import { isIP, type LookupFunction } from 'node:net'
import type { Agent } from 'undici'
import { isNonPublicAddress } from '../../shared/network-address.js'

export interface OutboundHttpOptions {
  /** Allow loopback/private/link-local receivers (`serve --allow-private-webhooks`). */
  allowPrivate?: boolean
  /** Default 5 s. */
  connectTimeoutMs?: number
  /** Time for the answer's headers, and between body chunks. Default 10 s. */
  responseTimeoutMs?: number
  /** Bytes of the answer kept; the rest is not read. Default 64 KB. */
  maxResponseBytes?: number
}

export interface OutboundResponse {
  status: number
  headers: Record<string, string | string[] | undefined>
  /** The answer, at most `maxResponseBytes` of it, as UTF-8. */
  body: string
  /** True when the answer was longer than what `body` holds. */
  truncated: boolean
}

/** Why an outbound request failed, with a stable code; the message names no secret and no URL path. */
export class OutboundHttpError extends Error {
  constructor(
    readonly code: 'private_address' | 'timeout' | 'network',
    message: string,
  ) {
    super(message)
    this.name = 'OutboundHttpError'
  }
}

export class OutboundHttp {
  private undici: Promise<{ agent: Agent; request: typeof import('undici').request }> | null = null
  private readonly agentOptions: Agent.Options
  private readonly allowPrivate: boolean
  private readonly maxResponseBytes: number

  constructor(options: OutboundHttpOptions = {}) {
    this.allowPrivate = options.allowPrivate ?? false
    this.maxResponseBytes = options.maxResponseBytes ?? 64 * 1024
    const responseTimeoutMs = options.responseTimeoutMs ?? 10_000
    this.agentOptions = {
      connect: { timeout: options.connectTimeoutMs ?? 5_000, ...(this.allowPrivate ? {} : { lookup: publicOnlyLookup }) },
      headersTimeout: responseTimeoutMs,
      bodyTimeout: responseTimeoutMs,
      // Receivers are many and mostly idle between events: keep few sockets, briefly.
      connections: 16,
      keepAliveTimeout: 4_000,
    }
  }

  /** The agent, made with undici on first use. */
  private connection(): Promise<{ agent: Agent; request: typeof import('undici').request }> {
    this.undici ??= import('undici').then(({ Agent, request }) => ({ agent: new Agent(this.agentOptions), request }))
    return this.undici
  }

  /**
   * POSTs `body`; resolves with any HTTP answer (the caller judges the status), rejects for no
   * answer. With `readAnswer: false` the answer's body is discarded unread, so a receiver that
   * answers its status and then trickles the rest does not hold the attempt.
   */
  async post(url: string, input: { headers: Record<string, string>; body: string; signal: AbortSignal; readAnswer?: boolean }): Promise<OutboundResponse> {
    const target = new URL(url)
    const host = target.hostname.replace(/^\[|\]$/g, '')
    // An IP written in the URL never goes through the lookup: judge it here.
    if (!this.allowPrivate && isIP(host) !== 0 && isNonPublicAddress(host)) throw privateAddress(target.host)
    try {
      const { agent, request } = await this.connection()
      const response = await request(target, { method: 'POST', dispatcher: agent, headers: input.headers, body: input.body, signal: input.signal })
      if (input.readAnswer === false) {
        // Destroying the body aborts the rest of the answer; its error is expected, not news.
        response.body.on('error', () => {})
        response.body.destroy()
        return { status: response.statusCode, headers: response.headers, body: '', truncated: false }
      }
      const { body, truncated } = await readCapped(response.body, this.maxResponseBytes)
      return { status: response.statusCode, headers: response.headers, body, truncated }
    } catch (error) {
      throw describe(error, target)
    }
  }

  async close(): Promise<void> {
    if (this.undici) await (await this.undici).agent.close()
  }
}

/** A DNS lookup that fails when any address of the host is not public (DNS rebinding included). */
const publicOnlyLookup: LookupFunction = (hostname, options, callback) => {
  dnsLookup(hostname, { ...options, all: true }, (error, addresses: LookupAddress[]) => {
    if (error) return callback(error, '', 0)
    const refused = addresses.find((entry) => isNonPublicAddress(entry.address))
    if (refused || addresses.length === 0) return callback(privateAddress(hostname), '', 0)
    // net.connect asks for every address when it tries both families, else for one.
    if ((options as { all?: boolean }).all) return (callback as unknown as (e: null, a: LookupAddress[]) => void)(null, addresses)
    callback(null, addresses[0].address, addresses[0].family)
  })
}

function privateAddress(host: string): OutboundHttpError {
  return new OutboundHttpError('private_address', `${host} resolves to a loopback, private or link-local address; refused (the server allows it only with --allow-private-webhooks)`)
}

/** Reads at most `limit` bytes of a body, then stops reading it. */
async function readCapped(body: AsyncIterable<Buffer> & { destroy(): unknown }, limit: number): Promise<{ body: string; truncated: boolean }> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    const room = limit - size
    if (chunk.length > room) {
      chunks.push(chunk.subarray(0, room))
      body.destroy()
      return { body: Buffer.concat(chunks).toString('utf8'), truncated: true }
    }
    chunks.push(chunk)
    size += chunk.length
  }
  return { body: Buffer.concat(chunks).toString('utf8'), truncated: false }
}

/** One line for the delivery log: what went wrong, naming the host only (paths may hold tokens). */
function describe(error: unknown, target: URL): OutboundHttpError {
  if (error instanceof OutboundHttpError) return error
  const cause = (error as { cause?: unknown }).cause
  if (cause instanceof OutboundHttpError) return cause
  const code = String((error as { code?: unknown }).code ?? (cause as { code?: unknown } | undefined)?.code ?? '')
  const name = (error as { name?: string }).name
  if (name === 'AbortError' || name === 'TimeoutError') return new OutboundHttpError('timeout', `no answer from ${target.host} in time`)
  if (code === 'UND_ERR_CONNECT_TIMEOUT') return new OutboundHttpError('timeout', `connecting to ${target.host} timed out`)
  if (code === 'UND_ERR_HEADERS_TIMEOUT' || code === 'UND_ERR_BODY_TIMEOUT') return new OutboundHttpError('timeout', `${target.host} did not answer in time`)
  return new OutboundHttpError('network', `could not reach ${target.host}: ${code || (error as Error)?.message || 'network error'}`)
}
