/**
 * Held long-polls are answered outside Fastify (`http/held-reply.ts`): over real HTTP their
 * answers carry the same status line, headers and body bytes as a request Fastify answers, the
 * held request keeps none of Fastify's per-request objects, and the lifecycle is unchanged.
 */
import { tracingChannel } from 'node:diagnostics_channel'
import { mkdtemp, rm } from 'node:fs/promises'
import type { IncomingMessage } from 'node:http'
import { connect } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { startServer } from '../../src/server/server.js'
import { waitUntil } from '../helpers/wait-until.js'
import { call, createKey, startTestServer, type TestServer } from './helpers.js'

let t: TestServer
beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.close()
})

/** One answer as it came off the wire. */
interface RawAnswer {
  statusLine: string
  /** Header lines in the order sent, without `Date` (the clock moves between two answers). */
  headerLines: string[]
  body: Buffer
}

/** A GET over a plain socket; resolves with the answer's bytes. `socket` lets a test drop the connection. */
function rawGet(url: string, path: string, key: string, method = 'GET'): { answer: Promise<RawAnswer>; drop: () => void } {
  const { hostname, port } = new URL(url)
  const socket = connect(Number(port), hostname)
  socket.write(`${method} ${path} HTTP/1.1\r\nHost: ${hostname}:${port}\r\nAuthorization: Bearer ${key}\r\n\r\n`)
  const answer = new Promise<RawAnswer>((resolve, reject) => {
    let received = Buffer.alloc(0)
    socket.on('data', (chunk: Buffer) => {
      received = Buffer.concat([received, chunk])
      const end = received.indexOf('\r\n\r\n')
      if (end < 0) return
      const [statusLine, ...lines] = received.subarray(0, end).toString('latin1').split('\r\n')
      // A HEAD answer names the length of a body it does not send.
      const length = method === 'HEAD' ? 0 : Number(/^content-length: (\d+)$/im.exec(lines.join('\n'))?.[1])
      if (received.length < end + 4 + length) return
      socket.destroy()
      resolve({ statusLine, headerLines: lines.filter((line) => !/^date:/i.test(line)), body: received.subarray(end + 4, end + 4 + length) })
    })
    socket.on('error', reject)
    socket.on('close', () => reject(new Error(`connection closed before a whole answer to ${path}`)))
  })
  return { answer, drop: () => socket.destroy() }
}

async function pending(server = t): Promise<string> {
  const created = await call(server.url, 'POST', '/v1/approvals', { key: server.keys.request, json: { action: 'held-test', context: { n: 1, text: 'ünïcode ✓' } } })
  expect(created.status).toBe(201)
  return created.body.id
}

async function waiting(url = t.url): Promise<number> {
  return (await call(url, 'GET', '/healthz')).body.waiting
}

async function untilWaiting(n: number, url = t.url): Promise<void> {
  await waitUntil(async () => (await waiting(url)) === n, { what: `the server to hold ${n} long-poll(s)` })
}

describe('a held long-poll', () => {
  it('is answered on a decision with the same status, headers and body bytes as a plain GET', async () => {
    const id = await pending()
    const held = rawGet(t.url, `/v1/approvals/${id}?wait=30`, t.keys.request)
    await untilWaiting(1)
    const decided = await call(t.url, 'POST', `/v1/approvals/${id}/decision`, { key: t.keys.decide, json: { decision: 'approve', reason: 'looks fine' } })
    expect(decided.status).toBe(200)
    const heldAnswer = await held.answer
    const plainAnswer = await rawGet(t.url, `/v1/approvals/${id}`, t.keys.request).answer
    expect(heldAnswer.statusLine).toBe('HTTP/1.1 200 OK')
    expect(heldAnswer.headerLines).toEqual(plainAnswer.headerLines)
    expect(heldAnswer.headerLines).toEqual(expect.arrayContaining(['content-type: application/json; charset=utf-8', 'x-content-type-options: nosniff', 'cache-control: no-store']))
    expect(heldAnswer.body.equals(plainAnswer.body)).toBe(true)
    expect(JSON.parse(heldAnswer.body.toString('utf8'))).toMatchObject({ id, status: 'approved', reason: 'looks fine', context: { text: 'ünïcode ✓' } })
    expect(await waiting()).toBe(0)
  })

  it('is answered at its own deadline with the same bytes as a plain GET of the pending record', async () => {
    const id = await pending()
    const heldAnswer = await rawGet(t.url, `/v1/approvals/${id}?wait=0.5`, t.keys.request).answer
    const plainAnswer = await rawGet(t.url, `/v1/approvals/${id}`, t.keys.request).answer
    expect(heldAnswer.statusLine).toBe(plainAnswer.statusLine)
    expect(heldAnswer.headerLines).toEqual(plainAnswer.headerLines)
    expect(heldAnswer.body.equals(plainAnswer.body)).toBe(true)
    expect(JSON.parse(heldAnswer.body.toString('utf8')).status).toBe('pending')
  })

  it('answers a held HEAD with the headers of a plain HEAD and no body', async () => {
    const id = await pending()
    const heldAnswer = await rawGet(t.url, `/v1/approvals/${id}?wait=0.3`, t.keys.request, 'HEAD').answer
    const plainAnswer = await rawGet(t.url, `/v1/approvals/${id}`, t.keys.request, 'HEAD').answer
    expect(heldAnswer.statusLine).toBe('HTTP/1.1 200 OK')
    expect(heldAnswer.headerLines).toEqual(plainAnswer.headerLines)
    expect(heldAnswer.body.length).toBe(0)
    expect(await waiting()).toBe(0)
  })

  it('frees its waiter when the client drops the connection, and a later decision answers nobody', async () => {
    const id = await pending()
    const held = rawGet(t.url, `/v1/approvals/${id}?wait=30`, t.keys.request)
    held.answer.catch(() => {})
    await untilWaiting(1)
    held.drop()
    await untilWaiting(0)
    const decided = await call(t.url, 'POST', `/v1/approvals/${id}/decision`, { key: t.keys.decide, json: { decision: 'reject' } })
    expect(decided.status).toBe(200)
    // The server is healthy and the next wait on the decided record answers at once.
    const again = await call(t.url, 'GET', `/v1/approvals/${id}?wait=30`, { key: t.keys.request })
    expect(again.body.status).toBe('rejected')
    expect(await waiting()).toBe(0)
  })

  it('answers a failed read at its deadline (404 gone, 500 store error) with the same bytes as the error handler', async () => {
    const store = t.store
    const realGet = store.getApproval.bind(store)
    for (const [failure, status] of [
      [async () => null, 'HTTP/1.1 404 Not Found'],
      [async () => Promise.reject(new Error('disk on fire')), 'HTTP/1.1 500 Internal Server Error'],
    ] as const) {
      const id = await pending()
      let reads = 0
      // The first read (before holding) sees the real pending record; every later one fails.
      store.getApproval = async (projectId, approvalId) => (approvalId === id && reads++ > 0 ? failure() : realGet(projectId, approvalId))
      try {
        const heldAnswer = await rawGet(t.url, `/v1/approvals/${id}?wait=0.3`, t.keys.request).answer
        const plainAnswer = await rawGet(t.url, `/v1/approvals/${id}`, t.keys.request).answer
        expect(reads).toBe(3)
        expect(heldAnswer.statusLine).toBe(status)
        expect(plainAnswer.statusLine).toBe(status)
        expect(heldAnswer.headerLines).toEqual(plainAnswer.headerLines)
        expect(heldAnswer.body.toString('utf8')).toBe(plainAnswer.body.toString('utf8'))
        expect(JSON.parse(heldAnswer.body.toString('utf8')).error.message).not.toContain('disk on fire')
      } finally {
        store.getApproval = realGet
      }
    }
    expect(await waiting()).toBe(0)
  })

  it("is 404 on another project's approval, as before, and holds nothing", async () => {
    const other = await t.addProject(`other-${Date.now()}`)
    const created = await call(t.url, 'POST', '/v1/approvals', { key: other.keys.request, json: { action: 'theirs' } })
    const answered = await call(t.url, 'GET', `/v1/approvals/${created.body.id}?wait=30`, { key: t.keys.request })
    expect(answered.status).toBe(404)
    expect(answered.body.error.code).toBe('not_found')
    expect(await waiting()).toBe(0)
    // Its own project's key still waits on it.
    const own = call(t.url, 'GET', `/v1/approvals/${created.body.id}?wait=30`, { key: other.keys.request })
    await untilWaiting(1)
    await call(t.url, 'POST', `/v1/approvals/${created.body.id}/cancel`, { key: other.keys.request })
    expect((await own).body.status).toBe('cancelled')
  })
})

describe('graceful close', () => {
  it('answers held long-polls with their record and the API headers', async () => {
    const own = await startTestServer()
    try {
      const id = await pending(own)
      const held = [rawGet(own.url, `/v1/approvals/${id}?wait=60`, own.keys.request), rawGet(own.url, `/v1/approvals/${id}?wait=60`, own.keys.request)]
      await untilWaiting(2, own.url)
      const closed = own.server.close()
      for (const answer of await Promise.all(held.map((h) => h.answer))) {
        expect(answer.statusLine).toBe('HTTP/1.1 200 OK')
        expect(answer.headerLines).toEqual(expect.arrayContaining(['x-content-type-options: nosniff', 'cache-control: no-store']))
        expect(JSON.parse(answer.body.toString('utf8'))).toMatchObject({ id, status: 'pending' })
      }
      await closed
    } finally {
      await own.close()
    }
  })
})

describe('memory of a held long-poll', () => {
  it("keeps none of Fastify's Request and Reply nor the request headers while held (logging on), and still logs its one line when answered", async () => {
    setFlagsFromString('--expose-gc')
    const gc = runInNewContext('gc') as () => void
    const lines: string[] = []
    const stream = new Writable({
      write(chunk: Buffer, _encoding, done) {
        lines.push(...chunk.toString().split('\n').filter(Boolean))
        done()
      },
    })
    const dataDir = await mkdtemp(join(tmpdir(), 'approval-gate-held-'))
    const server = await startServer({ dataDir, port: 0, publicUrl: 'https://gate.example.test/', logger: { level: 'info', stream } })
    // Fastify publishes each handler call's Request and Reply here; only weak references are kept.
    const seen: { url: string; request: WeakRef<object>; reply: WeakRef<object>; raw: WeakRef<IncomingMessage> }[] = []
    const onStart = (message: unknown) => {
      const { request, reply } = message as { request: { url: string; raw: IncomingMessage }; reply: object }
      seen.push({ url: request.url, request: new WeakRef(request), reply: new WeakRef(reply), raw: new WeakRef(request.raw) })
    }
    const handlers = { start: onStart, end() {}, asyncStart() {}, asyncEnd() {}, error() {} }
    tracingChannel('fastify.request.handler').subscribe(handlers)
    try {
      const project = await server.store.createProject('held-memory', {})
      const requestKey = await createKey(server.store, project.id, ['request'], 'requester')
      const decideKey = await createKey(server.store, project.id, ['decide'], 'decider')
      const created = await call(server.url, 'POST', '/v1/approvals', { key: requestKey, json: { action: 'memory' } })
      const held = rawGet(server.url, `/v1/approvals/${created.body.id}?wait=60`, requestKey)
      await untilWaiting(1, server.url)
      const heldCall = seen.find((s) => s.url.includes('?wait=60'))!
      expect(heldCall).toBeDefined()
      await waitUntil(
        async () => {
          gc()
          await new Promise((resolve) => setImmediate(resolve))
          return heldCall.request.deref() === undefined && heldCall.reply.deref() === undefined
        },
        { what: 'the held request’s Fastify Request and Reply to be collected' },
      )
      expect(await waiting(server.url)).toBe(1)
      // Node's request object stays (its socket is open), but not the headers: the bearer key is not kept for the wait.
      const raw = heldCall.raw.deref()!
      expect(raw.rawHeaders).toEqual([])
      expect(raw.headers.authorization).toBeUndefined()
      await call(server.url, 'POST', `/v1/approvals/${created.body.id}/decision`, { key: decideKey, json: { decision: 'approve' } })
      const answer = await held.answer
      expect(answer.statusLine).toBe('HTTP/1.1 200 OK')
      expect(JSON.parse(answer.body.toString('utf8')).status).toBe('approved')
      const logged = await waitUntil(() => lines.map((line) => JSON.parse(line)).find((line) => line.msg === `GET /v1/approvals/${created.body.id} 200`), { what: 'the held answer’s log line' })
      expect(logged).toMatchObject({ level: 30, reqId: expect.any(String), method: 'GET', path: `/v1/approvals/${created.body.id}`, status: 200, ms: expect.any(Number) })
      // One line for it, not a second one from Fastify.
      expect(lines.filter((line) => line.includes(`GET /v1/approvals/${created.body.id} 200`))).toHaveLength(1)
    } finally {
      tracingChannel('fastify.request.handler').unsubscribe(handlers)
      await server.close()
      await rm(dataDir, { recursive: true, force: true })
    }
  })
})
