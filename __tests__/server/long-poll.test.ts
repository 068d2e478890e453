/** `?wait=N` long-polls: woken by decisions, cancels and expiry; answered at the deadline and on shutdown. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { waitUntil } from '../helpers/wait-until.js'
import { call, startTestServer, type TestServer } from './helpers.js'

let t: TestServer
beforeAll(async () => {
  t = await startTestServer()
})
afterAll(async () => {
  await t?.close()
})

async function pending(extra: Record<string, unknown> = {}): Promise<string> {
  const created = await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'wait-test', ...extra } })
  expect(created.status).toBe(201)
  return created.body.id
}

async function waiting(): Promise<number> {
  return (await call(t.url, 'GET', '/healthz')).body.waiting
}

/** Resolves once `n` long-polls are held by the server; throws if they never are. */
async function untilWaiting(n: number, url = t.url): Promise<void> {
  await waitUntil(async () => (await call(url, 'GET', '/healthz')).body.waiting >= n, { what: `the server to hold ${n} long-poll(s)` })
}

describe('long-poll', () => {
  it('wakes a waiter as soon as a decision is written, well within the wait', async () => {
    const id = await pending()
    const started = Date.now()
    const poll = call(t.url, 'GET', `/v1/approvals/${id}?wait=30`, { key: t.keys.request })
    await untilWaiting(1)
    await call(t.url, 'POST', `/v1/approvals/${id}/decision`, { key: t.keys.decide, json: { decision: 'approve', reason: 'ship it' } })
    const answered = await poll
    expect(answered.status).toBe(200)
    expect(answered.body).toMatchObject({ id, status: 'approved', reason: 'ship it', decided_by: 'key:decide-key' })
    expect(Date.now() - started).toBeLessThan(20_000)
    expect(await waiting()).toBe(0)
  })

  it('answers a pending request after about the wait with the pending record (decimals allowed)', async () => {
    const id = await pending()
    const started = Date.now()
    const answered = await call(t.url, 'GET', `/v1/approvals/${id}?wait=1`, { key: t.keys.request })
    const elapsed = Date.now() - started
    expect(answered.status).toBe(200)
    expect(answered.body.status).toBe('pending')
    expect(elapsed).toBeGreaterThanOrEqual(950)
    const short = await call(t.url, 'GET', `/v1/approvals/${id}?wait=0.2`, { key: t.keys.request })
    expect(short.body.status).toBe('pending')
  })

  it('answers at once when the approval is already decided', async () => {
    const id = await pending()
    await call(t.url, 'POST', `/v1/approvals/${id}/cancel`, { key: t.keys.request })
    const started = Date.now()
    const answered = await call(t.url, 'GET', `/v1/approvals/${id}?wait=30`, { key: t.keys.request })
    expect(answered.body.status).toBe('cancelled')
    expect(Date.now() - started).toBeLessThan(5_000)
  })

  it('wakes every waiter of the same approval, and a cancel wakes them too', async () => {
    const id = await pending()
    const polls = Array.from({ length: 5 }, () => call(t.url, 'GET', `/v1/approvals/${id}?wait=30`, { key: t.keys.decide }))
    await untilWaiting(5)
    await call(t.url, 'POST', `/v1/approvals/${id}/cancel`, { key: t.keys.request, json: { reason: 'gone' } })
    for (const answered of await Promise.all(polls)) expect(answered.body).toMatchObject({ status: 'cancelled', reason: 'gone' })
  })

  it('drops the waiter when the client goes away', async () => {
    const id = await pending()
    const controller = new AbortController()
    const poll = call(t.url, 'GET', `/v1/approvals/${id}?wait=30`, { key: t.keys.request, signal: controller.signal }).catch((error: unknown) => error)
    await untilWaiting(1)
    controller.abort()
    await poll
    await waitUntil(async () => (await waiting()) === 0, { what: 'the server to drop the abandoned long-poll' })
  })

  it('keeps nothing of 40 abandoned waits of 40 different lengths, and times the next wait out as before', async () => {
    const id = await pending()
    const controller = new AbortController()
    // Distinct lengths (ms precision) each get their own deadline queue: all of them must go.
    const polls = Array.from({ length: 40 }, (_, i) =>
      call(t.url, 'GET', `/v1/approvals/${id}?wait=${30 + i * 0.001}`, { key: t.keys.request, signal: controller.signal }).catch((error: unknown) => error),
    )
    await untilWaiting(40)
    controller.abort()
    await Promise.all(polls)
    await waitUntil(async () => (await waiting()) === 0, { what: 'the server to drop the 40 abandoned long-polls' })
    const answered = await call(t.url, 'GET', `/v1/approvals/${id}?wait=0.3`, { key: t.keys.request })
    expect(answered.body.status).toBe('pending')
    expect(await waiting()).toBe(0)
  })

  it('wakes waiters when the approval expires (timeout_ms 1000)', async () => {
    const id = await pending({ timeout_ms: 1000 })
    const answered = await call(t.url, 'GET', `/v1/approvals/${id}?wait=20`, { key: t.keys.request })
    expect(answered.body.status).toBe('expired')
    const audit = await call(t.url, 'GET', `/v1/audit?outcome=timed_out`, { key: t.keys.decide })
    expect(audit.body.items.map((e: { approval_id: string }) => e.approval_id)).toContain(id)
    expect(audit.body.items.find((e: { approval_id: string }) => e.approval_id === id).actor).toBe('system')
  })

  it('validates wait: 0 < wait ≤ 60', async () => {
    const id = await pending()
    for (const wait of ['0', '-1', '61', 'soon']) {
      const answered = await call(t.url, 'GET', `/v1/approvals/${id}?wait=${wait}`, { key: t.keys.request })
      expect(answered.status).toBe(400)
      expect(answered.body.error.code).toBe('invalid_request')
      expect(answered.body.error.message).toContain('query.wait')
    }
  })

  it('is 404 for an unknown id even with wait', async () => {
    const answered = await call(t.url, 'GET', `/v1/approvals/apr_doesnotexist?wait=5`, { key: t.keys.request })
    expect(answered.status).toBe(404)
    expect(await waiting()).toBe(0)
  })
})

describe('graceful close', () => {
  it('answers waiting long-polls with their current record, then closes', async () => {
    const own = await startTestServer()
    try {
      const created = await call(own.url, 'POST', '/v1/approvals', { key: own.keys.request, json: { action: 'shutdown' } })
      const polls = Array.from({ length: 3 }, () => call(own.url, 'GET', `/v1/approvals/${created.body.id}?wait=60`, { key: own.keys.request }))
      await untilWaiting(3, own.url)
      const started = Date.now()
      const closed = own.server.close()
      const answers = await Promise.all(polls)
      await closed
      expect(Date.now() - started).toBeLessThan(10_000)
      for (const answered of answers) expect(answered.body).toMatchObject({ id: created.body.id, status: 'pending' })
      await expect(fetch(`${own.url}/healthz`)).rejects.toThrow()
    } finally {
      await own.close()
    }
  })
})
