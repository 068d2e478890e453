/** The test server itself: contract behaviour and scripted faults, so other tests can trust it. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import { replyRaw, startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'

let server: ScriptedServer
const auth = { authorization: 'Bearer test-key', 'content-type': 'application/json' }

beforeEach(async () => {
  server = await startScriptedServer()
})
afterEach(async () => {
  await server.close()
})

async function create(headers: Record<string, string> = {}): Promise<{ status: number; body: Record<string, unknown> }> {
  const res = await fetch(`${server.url}/v1/approvals`, { method: 'POST', headers: { ...auth, ...headers }, body: JSON.stringify({ action: 'deploy' }) })
  return { status: res.status, body: (await res.json()) as Record<string, unknown> }
}

describe('scripted server', () => {
  it('creates, honours Idempotency-Key, and wakes a long-poll on decide', async () => {
    const first = await create({ 'idempotency-key': 'k1' })
    expect(first.status).toBe(201)
    expect(first.body).toMatchObject({ status: 'pending', id: expect.stringMatching(/^apr_/) })
    const again = await create({ 'idempotency-key': 'k1' })
    expect(again.status).toBe(200)
    expect(again.body.id).toBe(first.body.id)

    const id = String(first.body.id)
    const poll = fetch(`${server.url}/v1/approvals/${id}?wait=10`, { headers: auth })
    await server.waitForRequest((r) => r.route === 'get' && r.query.wait === '10')
    server.decide(id, 'reject', 'no', 'bob')
    const body = (await (await poll).json()) as Record<string, unknown>
    expect(body).toMatchObject({ status: 'rejected', reason: 'no', decided_by: 'bob' })
  })

  it('rejects a bad key with 401 and records the request', async () => {
    const res = await fetch(`${server.url}/v1/approvals/x`, { headers: { authorization: 'Bearer nope' } })
    expect(res.status).toBe(401)
    expect(server.requests[0]).toMatchObject({ route: 'get', approvalId: 'x', method: 'GET' })
  })

  it('plays scripted faults in order, then serves normally', async () => {
    server.script('create', replyRaw(502, '<html>bad gateway</html>'), { kind: 'drop' })
    const first = await fetch(`${server.url}/v1/approvals`, { method: 'POST', headers: auth, body: '{"action":"a"}' })
    expect(first.status).toBe(502)
    expect(await first.text()).toContain('bad gateway')
    await expect(fetch(`${server.url}/v1/approvals`, { method: 'POST', headers: auth, body: '{"action":"a"}' })).rejects.toThrow()
    expect((await create()).status).toBe(201)
  })

  it('pauses and resumes on the same port', async () => {
    await server.pause()
    await expect(create()).rejects.toThrow()
    await server.resume()
    expect((await create()).status).toBe(201)
  })
})
