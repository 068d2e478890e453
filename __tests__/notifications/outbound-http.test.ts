/**
 * The webhook sender through the server's outbound HTTP, against real loopback receivers that
 * misbehave: redirects are not followed, answers are read only up to the cap, a receiver that
 * never answers (or trickles an answer that is read) is cut off, and status codes map to retry or give up.
 */
import { afterEach, describe, expect, it } from '@jest/globals'
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { OutboundHttp } from '../../src/server/notifications/outbound-http.js'
import type { Channel, NotificationEvent } from '../../src/server/notifications/types.js'
import { WebhookSender } from '../../src/server/notifications/webhook-sender.js'

const EVENT: NotificationEvent = {
  delivery_id: 'dlv_test',
  type: 'approval.created',
  occurred_at: '2026-11-26T00:00:00.000Z',
  project: { id: 'prj_x', name: 'web' },
  approval: { id: 'apr_x', status: 'pending', action: 'deploy' },
}

function channel(url: string): Channel {
  return { id: 'chn_x', project_id: 'prj_x', kind: 'webhook', name: 'hook', config: { url }, events: ['approval.created'], remind_after_ms: null, escalate_after_ms: null, escalate_to: null, created_at: EVENT.occurred_at }
}

describe('webhook sender over outbound HTTP', () => {
  const closers: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const close of closers.splice(0)) await close()
  })

  async function serve(handler: (request: IncomingMessage, response: ServerResponse) => void): Promise<{ url: string; hits: () => number }> {
    let hits = 0
    const server = createServer((request, response) => {
      hits++
      handler(request, response)
    })
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    closers.push(async () => {
      server.closeAllConnections()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    })
    return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, hits: () => hits }
  }

  function sender(options: ConstructorParameters<typeof OutboundHttp>[0] = {}): WebhookSender {
    const http = new OutboundHttp({ allowPrivate: true, ...options })
    closers.push(() => http.close())
    return new WebhookSender(http)
  }

  it('does not follow a redirect, and gives the delivery up saying why', async () => {
    const target = await serve((_request, response) => response.writeHead(200).end())
    const redirecting = await serve((_request, response) => response.writeHead(307, { location: `${target.url}/elsewhere` }).end())
    const result = await sender().deliver(channel(`${redirecting.url}/hook`), 'whsec_s', EVENT, null, AbortSignal.timeout(5_000))
    expect(result).toMatchObject({ ok: false, status_code: 307, retryable: false })
    expect(result.error).toMatch(/redirects are not followed/)
    expect(target.hits()).toBe(0)
  })

  it.each([
    [200, true, false],
    [204, true, false],
    [400, false, false],
    [404, false, false],
    [408, false, true],
    [429, false, true],
    [500, false, true],
    [503, false, true],
  ])('maps HTTP %i to ok=%s, retryable=%s', async (status, ok, retryable) => {
    const receiver = await serve((_request, response) => response.writeHead(status).end())
    const result = await sender().deliver(channel(receiver.url), 'whsec_s', EVENT, null, AbortSignal.timeout(5_000))
    expect(result).toMatchObject({ ok, status_code: status, retryable })
  })

  it('reads a huge answer only up to the cap', async () => {
    const receiver = await serve((_request, response) => {
      response.writeHead(200, { 'content-type': 'text/plain' })
      const chunk = Buffer.alloc(64 * 1024, 'a')
      let sent = 0
      const pump = () => {
        while (sent < 200 && response.write(chunk)) sent++
        if (sent < 200) response.once('drain', pump)
        else response.end()
      }
      pump()
    })
    const http = new OutboundHttp({ allowPrivate: true, maxResponseBytes: 1024 })
    closers.push(() => http.close())
    const answer = await http.post(receiver.url, { headers: {}, body: '{}', signal: AbortSignal.timeout(10_000) })
    expect(answer).toMatchObject({ status: 200, truncated: true })
    expect(answer.body).toHaveLength(1024)
  })

  it('cuts off a receiver that never answers (retryable), and takes a 2xx status without waiting for a trickled body', async () => {
    const silent = await serve(() => {})
    const s = sender({ responseTimeoutMs: 300 })
    const result = await s.deliver(channel(silent.url), 'whsec_s', EVENT, null, AbortSignal.timeout(10_000))
    expect(result).toMatchObject({ ok: false, retryable: true })
    expect(result.error).toMatch(/did not answer in time/)
    const trickling = await serve((_request, response) => {
      response.writeHead(200)
      response.write('a') // …and nothing more
    })
    expect(await s.deliver(channel(trickling.url), 'whsec_s', EVENT, null, AbortSignal.timeout(10_000))).toMatchObject({ ok: true, status_code: 200 })
    // Reading the answer (as Slack's API calls will) is cut off by the same timeout.
    const http = new OutboundHttp({ allowPrivate: true, responseTimeoutMs: 300 })
    closers.push(() => http.close())
    await expect(http.post(trickling.url, { headers: {}, body: '{}', signal: AbortSignal.timeout(10_000) })).rejects.toThrow(/did not answer in time/)
  })

  it('names the host, never the path, when a receiver cannot be reached', async () => {
    const refused = await serve(() => {})
    const port = new URL(refused.url).port
    await closers.splice(0).reduce((p, close) => p.then(close), Promise.resolve())
    const result = await sender().deliver(channel(`http://127.0.0.1:${port}/secret-token-in-path`), 'whsec_s', EVENT, null, AbortSignal.timeout(5_000))
    expect(result).toMatchObject({ ok: false, status_code: null, retryable: true })
    expect(result.error).toContain(`127.0.0.1:${port}`)
    expect(result.error).not.toContain('secret-token-in-path')
  })
})
