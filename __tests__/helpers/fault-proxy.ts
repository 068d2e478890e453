/**
 * A tiny HTTP proxy in front of a real approvals server that misbehaves on cue: per request it
 * forwards (optionally rewriting the path), answers a status itself, or hangs (accepts, reads,
 * never answers). Also a raw TCP listener that accepts connections and never says a word.
 */
import { createServer as createHttpServer, request as httpRequest, type IncomingMessage, type ServerResponse } from 'node:http'
import { createServer as createTcpServer, type AddressInfo, type Socket } from 'node:net'

/** What the proxy does with one request. */
export type ProxyBehaviour = { forward: true; path?: string } | { status: number } | { hang: true }

export interface SeenRequest {
  method: string
  path: string
  behaviour: ProxyBehaviour
  /** Set when the client gave up on (closed) a hung request. */
  closedAt?: number
}

export interface FaultProxy {
  url: string
  requests: SeenRequest[]
  /** Requests whose path starts with `/v1/approvals/` and method is GET (status checks). */
  statusChecks(): SeenRequest[]
  close(): Promise<void>
}

/** Starts a proxy to `target`; `behave` picks what to do with each request. */
export async function startFaultProxy(target: string, behave: (request: IncomingMessage, seen: SeenRequest[]) => ProxyBehaviour): Promise<FaultProxy> {
  const requests: SeenRequest[] = []
  const server = createHttpServer((request: IncomingMessage, response: ServerResponse) => {
    const behaviour = behave(request, requests)
    const seen: SeenRequest = { method: request.method ?? '', path: request.url ?? '', behaviour }
    requests.push(seen)
    if ('hang' in behaviour) {
      request.resume()
      response.on('close', () => (seen.closedAt = Date.now()))
      return
    }
    if ('status' in behaviour) {
      request.resume()
      const body = JSON.stringify({ error: { code: 'proxy_fault', message: `scripted ${behaviour.status}` } })
      response.writeHead(behaviour.status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) })
      response.end(body)
      return
    }
    const upstream = httpRequest(new URL(behaviour.path ?? request.url ?? '/', target), { method: request.method, headers: { ...request.headers, host: new URL(target).host } }, (answer) => {
      response.writeHead(answer.statusCode ?? 502, answer.headers)
      answer.pipe(response)
    })
    upstream.on('error', () => response.destroy())
    response.on('close', () => upstream.destroy())
    request.pipe(upstream)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    requests,
    statusChecks: () => requests.filter((seen) => seen.method === 'GET' && /^\/v1\/approvals\/[^/?]+(\?|$)/.test(seen.path)),
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve())
        server.closeAllConnections()
      }),
  }
}

/** A TCP listener that accepts every connection and never answers. */
export async function startSilentListener(): Promise<{ url: string; accepted(): number; close(): Promise<void> }> {
  const sockets = new Set<Socket>()
  let accepted = 0
  const server = createTcpServer((socket) => {
    accepted++
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
    socket.on('error', () => {})
    socket.resume()
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`,
    accepted: () => accepted,
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy()
        server.close(() => resolve())
      }),
  }
}

/** `path` without its `wait` query parameter: the server then answers a status check at once. */
export function withoutWait(path: string): string {
  const url = new URL(path, 'http://proxy')
  url.searchParams.delete('wait')
  return `${url.pathname}${url.search}`
}
