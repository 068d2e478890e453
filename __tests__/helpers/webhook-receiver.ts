/**
 * A real HTTP receiver on loopback for webhook tests: it verifies each request's signature the
 * way docs/notifications.md tells receivers to, records what came, and answers as the test
 * says (`answer`: a status, or `'hang'` to never answer while the test holds it).
 */
import { createHmac, timingSafeEqual } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface ReceivedWebhook {
  headers: IncomingMessage['headers']
  body: string
  json: { id: string; type: string; occurred_at: string; project: { id: string; name: string }; approval: { id: string; status: string; url: string; action: string } }
  /** Whether the signature verified with the receiver's secret (and the timestamp is within 5 minutes). */
  verified: boolean
}

export interface WebhookReceiver {
  url: string
  received: ReceivedWebhook[]
  /** Requests being held open (`answer` returned 'hang'). */
  hanging: number
  /** What to answer to the next request (default 200). */
  answer: (request: ReceivedWebhook, index: number) => number | 'hang'
  /** The secret to verify with (set after `notify add` prints it). */
  secret: string | null
  close(): Promise<void>
}

/** Verifies an `X-Approval-Gate-Signature-256` header as the documentation shows. */
export function verifyWebhook(secret: string, headers: IncomingMessage['headers'], body: string, nowSeconds = Date.now() / 1000): boolean {
  const timestamp = String(headers['x-approval-gate-timestamp'] ?? '')
  const signature = String(headers['x-approval-gate-signature-256'] ?? '')
  if (!/^\d+$/.test(timestamp) || Math.abs(nowSeconds - Number(timestamp)) > 300) return false
  const expected = Buffer.from(`sha256=${createHmac('sha256', secret).update(`${timestamp}.${body}`).digest('hex')}`)
  const given = Buffer.from(signature)
  return given.length === expected.length && timingSafeEqual(given, expected)
}

export async function startWebhookReceiver(): Promise<WebhookReceiver> {
  const held: ServerResponse[] = []
  const receiver: WebhookReceiver = {
    url: '',
    received: [],
    hanging: 0,
    answer: () => 200,
    secret: null,
    close: async () => {},
  }
  const server: Server = createServer((request, response) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => {
      const body = Buffer.concat(chunks).toString('utf8')
      let json: ReceivedWebhook['json']
      try {
        json = JSON.parse(body) as ReceivedWebhook['json']
      } catch {
        response.writeHead(400).end()
        return
      }
      const webhook: ReceivedWebhook = { headers: request.headers, body, json, verified: receiver.secret !== null && verifyWebhook(receiver.secret, request.headers, body) }
      receiver.received.push(webhook)
      const answer = receiver.answer(webhook, receiver.received.length - 1)
      if (answer === 'hang') {
        receiver.hanging++
        held.push(response)
        response.on('close', () => receiver.hanging--)
        return
      }
      response.writeHead(answer, { 'content-type': 'text/plain' }).end(answer < 300 ? 'ok' : 'nope')
    })
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  receiver.url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hook`
  receiver.close = async () => {
    for (const response of held) response.destroy()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return receiver
}
