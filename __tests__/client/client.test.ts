/** ApprovalsClient: the one HTTP client (CLI decide/cancel, the action's post step, the core). */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { inspect } from 'node:util'
import { ApprovalError, ApprovalsClient } from '../../src/client/index.js'
import { errorBody, reply, startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import { rejectionOf } from './gate-fixtures.js'

const KEY = 'sk_client_secret_99aa'

let server: ScriptedServer
let client: ApprovalsClient
beforeAll(async () => {
  server = await startScriptedServer({ apiKey: KEY })
  client = new ApprovalsClient({ apiUrl: `${server.url}/`, apiKey: KEY })
})
afterAll(async () => {
  await server.close()
})

describe('ApprovalsClient', () => {
  it('creates with agent, context, timeout and Idempotency-Key', async () => {
    const record = await client.create({ action: 'deploy', context: { v: '1.2.3' }, agent: 'bot', idempotencyKey: 'k-1', timeoutMs: 90_000 })
    expect(record).toMatchObject({ status: 'pending', action: 'deploy', agent: 'bot', context: { v: '1.2.3' } })
    const sent = server.requestsTo('create').at(-1)
    expect(sent?.path).toBe('/v1/approvals') // trailing slash on apiUrl is harmless
    expect(sent?.json).toEqual({ action: 'deploy', context: { v: '1.2.3' }, agent: 'bot', timeout_ms: 90_000 })
    expect(sent?.headers['idempotency-key']).toBe('k-1')
    expect(await client.create({ action: 'deploy', context: { v: '1.2.3' }, agent: 'bot', idempotencyKey: 'k-1', timeoutMs: 90_000 })).toMatchObject({ id: record.id })
  })

  it('gets, long-polls with ?wait=, decides and reports a second decision as conflict with the record', async () => {
    const { id } = await client.create({ action: 'deploy' })
    expect((await client.get(id)).status).toBe('pending')
    const polling = client.get(id, { waitSeconds: 5 })
    await server.waitForRequest((r) => r.route === 'get' && r.query.wait === '5')
    const decided = await client.decide(id, 'approve', 'lgtm')
    expect(decided).toMatchObject({ status: 'approved', reason: 'lgtm', decided_by: 'key:test' })
    expect((await polling).status).toBe('approved')

    const error = (await rejectionOf(client.decide(id, 'reject'))) as ApprovalError
    expect(error.code).toBe('conflict')
    expect(error.status).toBe(409)
    expect(error.record).toMatchObject({ id, status: 'approved' })
  })

  it('cancels a pending approval; cancelling again is a conflict', async () => {
    const { id } = await client.create({ action: 'deploy' })
    expect(await client.cancel(id, 'job cancelled')).toMatchObject({ status: 'cancelled', reason: 'job cancelled' })
    expect(server.requestsTo('cancel').at(-1)?.json).toEqual({ reason: 'job cancelled' })
    expect(((await rejectionOf(client.cancel(id))) as ApprovalError).code).toBe('conflict')
  })

  it('lists with filters and cursor', async () => {
    await client.create({ action: 'list_me', agent: 'a1' })
    await client.create({ action: 'list_me', agent: 'a1' })
    await client.create({ action: 'list_me', agent: 'a1' })
    const page = await client.list({ action: 'list_me', agent: 'a1', limit: 2 })
    expect(page.items).toHaveLength(2)
    expect(page.next_cursor).not.toBeNull()
    expect(server.requestsTo('list').at(-1)?.query).toEqual({ action: 'list_me', agent: 'a1', limit: '2' })
    const rest = await client.list({ action: 'list_me', agent: 'a1', limit: 2, cursor: page.next_cursor ?? undefined })
    expect(rest.items).toHaveLength(1)
    expect(rest.next_cursor).toBeNull()
  })

  it('URL-encodes ids', async () => {
    const weird = server.addApproval({ id: 'apr_a/b?c=d#e f' })
    const record = await client.get(weird.id)
    expect(record.id).toBe(weird.id)
    const sent = server.requestsTo('get').at(-1)
    expect(sent?.path).toBe('/v1/approvals/apr_a%2Fb%3Fc%3Dd%23e%20f')
    expect(sent?.approvalId).toBe(weird.id)
    await client.decide(weird.id, 'approve')
    expect(server.approvals.get(weird.id)?.status).toBe('approved')
    expect(((await rejectionOf(client.get('../../v1/approvals'))) as ApprovalError).code).toBe('not_found')
  })

  it('maps 404, 401, 429 (with Retry-After) and 5xx to codes', async () => {
    expect(((await rejectionOf(client.get('apr_missing'))) as ApprovalError).code).toBe('not_found')
    server.script('get', reply(429, errorBody('rate_limited', 'slow down'), { 'retry-after': '7' }))
    const limited = (await rejectionOf(client.get('apr_missing'))) as ApprovalError
    expect(limited).toMatchObject({ code: 'rate_limited', status: 429, retryAfterMs: 7_000 })
    expect(limited.message).toContain('slow down')
    server.script('get', reply(502))
    expect(await rejectionOf(client.get('apr_missing'))).toMatchObject({ code: 'server_error', status: 502 })
    const stranger = new ApprovalsClient({ apiUrl: server.url, apiKey: 'sk_wrong_key' })
    expect(await rejectionOf(stranger.list())).toMatchObject({ code: 'unauthorized', status: 401 })
  })

  it('times a request out as network_error, and aborts it with an AbortError at once', async () => {
    const { id } = await client.create({ action: 'deploy' })
    server.script('get', { kind: 'hang' })
    const timedOut = (await rejectionOf(client.get(id, { timeoutMs: 150 }))) as ApprovalError
    expect(timedOut.code).toBe('network_error')
    expect(timedOut.message).toContain('150ms')

    server.script('get', { kind: 'hang' })
    const controller = new AbortController()
    const pending = client.get(id, { signal: controller.signal })
    await server.waitForRequest('get', { fromIndex: server.requests.length })
    controller.abort()
    const aborted = await rejectionOf(pending)
    expect(aborted).toBeInstanceOf(DOMException)
    expect((aborted as DOMException).name).toBe('AbortError')
  })

  it('reports an unreachable API as network_error', async () => {
    const gone = await startScriptedServer()
    const url = gone.url
    await gone.close()
    const error = (await rejectionOf(new ApprovalsClient({ apiUrl: url, apiKey: KEY }).get('apr_1'))) as ApprovalError
    expect(error.code).toBe('network_error')
    expect(error.message).toContain(url)
  })

  it('keeps the key out of inspect output and JSON', () => {
    expect(inspect(client, { showHidden: true, depth: 5 })).not.toContain(KEY)
    expect(JSON.stringify(client)).not.toContain(KEY)
  })

  it('rejects bad configuration in the constructor', () => {
    expect(() => new ApprovalsClient({ apiUrl: 'file:///etc/passwd', apiKey: KEY })).toThrow(ApprovalError)
    expect(() => new ApprovalsClient({ apiUrl: server.url, apiKey: KEY, requestTimeoutMs: -1 })).toThrow(/requestTimeoutMs/)
  })
})
