/**
 * What hostile or sloppy HTTP peers send, and what the API must answer: deep nesting, lone
 * surrogates, malformed URLs, overlong ids, non-finite waits. Every answer is a 4xx in the
 * `{error:{code,message}}` shape, and nothing a client sends can break the audit chain.
 */
import { connect } from 'node:net'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { call, expectError, startTestServer, type TestServer } from './helpers.js'

let t: TestServer
let pendingId: string
beforeAll(async () => {
  t = await startTestServer()
  pendingId = (await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'hostile-peers' } })).body.id
})
afterAll(async () => {
  await t?.close()
})

/** `{"action":…,"context":{"a":[[[…]]]}}` nested `depth` levels, as raw JSON text. */
function nestedBody(depth: number): string {
  return `{"action":"deep","context":{"a":${'['.repeat(depth)}${']'.repeat(depth)}}}`
}

/** One raw HTTP/1.1 exchange, for what fetch refuses to send. */
function rawRequest(url: string, head: string): Promise<{ status: number; body: string }> {
  const { hostname, port } = new URL(url)
  return new Promise((resolve, reject) => {
    const socket = connect(Number(port), hostname)
    let data = ''
    socket.setEncoding('utf8')
    socket.on('data', (chunk: string) => (data += chunk))
    socket.on('error', reject)
    socket.on('close', () => {
      const [headers, ...rest] = data.split('\r\n\r\n')
      resolve({ status: Number(/^HTTP\/1\.1 (\d{3})/.exec(headers)?.[1] ?? 0), body: rest.join('\r\n\r\n') })
    })
    socket.write(`${head}Connection: close\r\n\r\n`)
  })
}

describe('deeply nested context', () => {
  it('answers 400 naming the field, not 500, for 10,000 levels within 64 KB', async () => {
    const body = nestedBody(10_000)
    expect(body.length).toBeLessThan(64 * 1024)
    expectError(await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, raw: body }), 400, 'invalid_request', 'body.context')
  })

  it('refuses nesting that would still serialise but makes cards megabytes large', async () => {
    expectError(await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, raw: nestedBody(3_000) }), 400, 'invalid_request', 'body.context')
  })

  it('accepts ordinary nesting', async () => {
    const context = { github: { run: { steps: [{ with: { env: { deep: [1, [2, [3]]] } } }] } } }
    const created = await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'nested-ok', context } })
    expect(created.status).toBe(201)
    expect(created.body.context).toEqual(context)
  })
})

describe('lone surrogates', () => {
  it('refuses them in action, agent and reasons with 400', async () => {
    expectError(await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, raw: '{"action":"\\ud800"}' }), 400, 'invalid_request', 'body.action')
    expectError(await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, raw: '{"action":"x","agent":"a\\udc00"}' }), 400, 'invalid_request', 'body.agent')
    const decision = await call(t.url, 'POST', `/v1/approvals/${pendingId}/decision`, { key: t.keys.decide, raw: '{"decision":"reject","reason":"\\ud83d"}' })
    expectError(decision, 400, 'invalid_request', 'body.reason')
  })

  it('still accepts astral characters (emoji) made of surrogate pairs', async () => {
    const created = await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'ship 🚀', agent: 'bot 🤖' } })
    expect(created.status).toBe(201)
    expect(created.body.action).toBe('ship 🚀')
  })

  it('cannot break the audit chain, whichever way a lone surrogate reaches a stored event', async () => {
    // The store keeps UTF-8 text, so a lone surrogate comes back as U+FFFD; the hash must cover what is stored.
    const project = await t.store.createProject('surrogates')
    const { approval } = await t.store.createApproval({
      project_id: project.id,
      action: 'act\ud800',
      context: {},
      agent: 'agent\udfff',
      expires_at: new Date(Date.now() + 60_000).toISOString(),
      idempotency_key: null,
      requested_by: 'key:ci\ud800',
    })
    await t.store.decideApproval(project.id, approval.id, { decision: 'reject', reason: 'no\ud83d', decided_by: 'someone\udc00' })
    expect(await t.store.verifyAudit(project.id)).toMatchObject({ ok: true, events: 2 })
  })
})

describe('zero-width and other format characters in single-line text', () => {
  it('refuses an action that is invisible or hides characters', async () => {
    expectError(await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: '\u200b' } }), 400, 'invalid_request', 'body.action')
    expectError(await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'deploy-pro\u200bduction' } }), 400, 'invalid_request', 'body.action')
    expectError(await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'x', agent: 'a\u2060b' } }), 400, 'invalid_request', 'body.agent')
  })
})

describe('malformed and overlong URLs answer in the API error shape', () => {
  it('a bad percent-encoding is a 400', async () => {
    expectError(await call(t.url, 'GET', '/v1/approvals/%ZZ', { key: t.keys.request }), 400, 'invalid_request')
  })

  it('an id longer than any real one is a 4xx with the error shape, and up to the documented 200 characters a 404', async () => {
    expectError(await call(t.url, 'GET', `/v1/approvals/apr_${'a'.repeat(150)}`, { key: t.keys.request }), 404, 'not_found')
    const long = await call(t.url, 'GET', `/v1/approvals/${'a'.repeat(5_000)}`, { key: t.keys.request })
    expect(long.status).toBeGreaterThanOrEqual(400)
    expect(long.status).toBeLessThan(500)
    expect(typeof long.body.error?.code).toBe('string')
    expect(typeof long.body.error?.message).toBe('string')
  })

  it('an oversized header block is a 431 with the error shape', async () => {
    const answer = await rawRequest(t.url, `GET /v1/approvals HTTP/1.1\r\nHost: x\r\nX-Big: ${'a'.repeat(100_000)}\r\n`)
    expect(answer.status).toBe(431)
    expect(JSON.parse(answer.body)).toEqual({ error: { code: 'invalid_request', message: expect.any(String) } })
  })

  it('a request line that is not HTTP is a 400 with the error shape', async () => {
    const answer = await rawRequest(t.url, 'GARBAGE\r\n')
    expect(answer.status).toBe(400)
    expect(JSON.parse(answer.body)).toEqual({ error: { code: 'invalid_request', message: expect.any(String) } })
  })
})

describe('?wait= edge values', () => {
  it('refuses non-finite waits instead of answering at once', async () => {
    for (const wait of ['Infinity', '-Infinity']) {
      expectError(await call(t.url, 'GET', `/v1/approvals/${pendingId}?wait=${wait}`, { key: t.keys.request }), 400, 'invalid_request', 'query.wait')
    }
  })
})
