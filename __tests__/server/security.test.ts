/** Auth, scopes, project isolation and every bad input: status codes and error codes. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { call, createKey, expectError, startTestServer, type TestServer } from './helpers.js'

let t: TestServer
let pendingId: string
beforeAll(async () => {
  t = await startTestServer()
  pendingId = (await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'guarded' } })).body.id
})
afterAll(async () => {
  await t?.close()
})

describe('authentication', () => {
  it('401s a missing, malformed, unknown or revoked key alike', async () => {
    expectError(await call(t.url, 'GET', `/v1/approvals/${pendingId}`), 401, 'unauthorized')
    expectError(await call(t.url, 'GET', `/v1/approvals/${pendingId}`, { headers: { authorization: 'Basic abc' } }), 401, 'unauthorized')
    expectError(await call(t.url, 'GET', `/v1/approvals/${pendingId}`, { key: 'agk_unknown' }), 401, 'unauthorized')
    const key = await createKey(t.store, t.project.id, ['request'], 'to-revoke')
    expect((await call(t.url, 'GET', `/v1/approvals/${pendingId}`, { key })).status).toBe(200)
    const info = (await t.store.listApiKeys(t.project.id)).find((k) => k.name === 'to-revoke')!
    await t.store.revokeApiKey(t.project.id, info.id)
    const revoked = await call(t.url, 'GET', `/v1/approvals/${pendingId}`, { key })
    expectError(revoked, 401, 'unauthorized')
    expect(revoked.headers.get('www-authenticate')).toBe('Bearer')
  })

  it('401s before looking at the body or the id', async () => {
    expectError(await call(t.url, 'POST', '/v1/approvals', { raw: '{nope' }), 401, 'unauthorized')
    expectError(await call(t.url, 'GET', '/v1/audit/verify'), 401, 'unauthorized')
  })
})

describe('scopes', () => {
  it('request keys create/get/list/cancel but cannot decide or read the audit trail', async () => {
    expectError(await call(t.url, 'POST', `/v1/approvals/${pendingId}/decision`, { key: t.keys.request, json: { decision: 'approve' } }), 403, 'forbidden', 'decide')
    expectError(await call(t.url, 'GET', '/v1/audit', { key: t.keys.request }), 403, 'forbidden')
    expectError(await call(t.url, 'GET', '/v1/audit/export', { key: t.keys.request }), 403, 'forbidden')
    expectError(await call(t.url, 'GET', '/v1/audit/verify', { key: t.keys.request }), 403, 'forbidden')
    expect((await call(t.url, 'GET', '/v1/approvals', { key: t.keys.request })).status).toBe(200)
  })

  it('decide keys read and decide but cannot create or cancel', async () => {
    expectError(await call(t.url, 'POST', '/v1/approvals', { key: t.keys.decide, json: { action: 'x' } }), 403, 'forbidden', 'request')
    expectError(await call(t.url, 'POST', `/v1/approvals/${pendingId}/cancel`, { key: t.keys.decide }), 403, 'forbidden')
    expect((await call(t.url, 'GET', `/v1/approvals/${pendingId}`, { key: t.keys.decide })).status).toBe(200)
    expect((await call(t.url, 'GET', '/v1/audit', { key: t.keys.decide })).status).toBe(200)
  })

  it('admin keys do everything (but decide what they created themselves)', async () => {
    const created = await call(t.url, 'POST', '/v1/approvals', { key: t.keys.admin, json: { action: 'admin-made' } })
    expect(created.status).toBe(201)
    expectError(await call(t.url, 'POST', `/v1/approvals/${created.body.id}/decision`, { key: t.keys.admin, json: { decision: 'approve' } }), 403, 'self_approval')
    const requested = await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json: { action: 'ci-made' } })
    expect((await call(t.url, 'POST', `/v1/approvals/${requested.body.id}/decision`, { key: t.keys.admin, json: { decision: 'approve' } })).body.decided_by).toBe('key:admin-key')
    expect((await call(t.url, 'POST', `/v1/approvals/${created.body.id}/cancel`, { key: t.keys.admin })).body.status).toBe('cancelled')
    expect((await call(t.url, 'GET', '/v1/audit/verify', { key: t.keys.admin })).body.ok).toBe(true)
  })
})

describe('project isolation', () => {
  it("answers 404 for another project's approval on every route", async () => {
    const other = await t.addProject('isolated')
    const theirs = await call(t.url, 'POST', '/v1/approvals', { key: other.keys.request, json: { action: 'secret-deploy', context: { token: 'x' } } })
    const id = theirs.body.id
    expectError(await call(t.url, 'GET', `/v1/approvals/${id}`, { key: t.keys.admin }), 404, 'not_found')
    expectError(await call(t.url, 'GET', `/v1/approvals/${id}?wait=1`, { key: t.keys.admin }), 404, 'not_found')
    expectError(await call(t.url, 'POST', `/v1/approvals/${id}/decision`, { key: t.keys.admin, json: { decision: 'approve' } }), 404, 'not_found')
    expectError(await call(t.url, 'POST', `/v1/approvals/${id}/cancel`, { key: t.keys.admin }), 404, 'not_found')
    const listed = await call(t.url, 'GET', '/v1/approvals?action=secret-deploy', { key: t.keys.admin })
    expect(listed.body.items).toEqual([])
    const audit = await call(t.url, 'GET', '/v1/audit?action=secret-deploy', { key: t.keys.admin })
    expect(audit.body.items).toEqual([])
    const exported = await call(t.url, 'GET', '/v1/audit/export', { key: t.keys.admin })
    expect(exported.text).not.toContain(id)
    // Still pending for its owner.
    expect((await call(t.url, 'GET', `/v1/approvals/${id}`, { key: other.keys.request })).body.status).toBe('pending')
  })
})

describe('bad input', () => {
  const post = (json: unknown, headers: Record<string, string> = {}) => call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json, headers })

  it('checks the action', async () => {
    expectError(await post({}), 400, 'invalid_request', 'body.action is required')
    expectError(await post({ action: '' }), 400, 'invalid_request', 'body.action')
    expectError(await post({ action: '   ' }), 400, 'invalid_request', 'body.action')
    expectError(await post({ action: 'a'.repeat(201) }), 400, 'invalid_request', 'body.action')
    expectError(await post({ action: 'deploy\nnow' }), 400, 'invalid_request', 'body.action')
    expectError(await post({ action: 'deploy\u0000' }), 400, 'invalid_request', 'body.action')
    expectError(await post({ action: 'evil\u202Eexe' }), 400, 'invalid_request', 'body.action')
    // JSON types are checked, not coerced: a number is not an action name.
    expectError(await post({ action: 123 }), 400, 'invalid_request', 'body.action')
    expectError(await post({ action: ['deploy'] }), 400, 'invalid_request', 'body.action')
    expect((await post({ action: 'a'.repeat(200) })).status).toBe(201)
    expect((await post({ action: 'déploiement 🚀 prod' })).status).toBe(201)
  })

  it('checks context, agent, timeout_ms and Idempotency-Key', async () => {
    expectError(await post({ action: 'x', context: [1, 2] }), 400, 'invalid_request', 'body.context')
    expectError(await post({ action: 'x', context: 'text' }), 400, 'invalid_request', 'body.context')
    expectError(await post({ action: 'x', context: { blob: 'y'.repeat(70 * 1024) } }), 413, 'payload_too_large', 'body.context')
    expectError(await post({ action: 'x', agent: 'b'.repeat(201) }), 400, 'invalid_request', 'body.agent')
    expectError(await post({ action: 'x', timeout_ms: 999 }), 400, 'invalid_request', 'body.timeout_ms')
    expectError(await post({ action: 'x', timeout_ms: 31 * 24 * 3600 * 1000 }), 400, 'invalid_request', 'body.timeout_ms')
    expectError(await post({ action: 'x', timeout_ms: 1500.5 }), 400, 'invalid_request', 'body.timeout_ms')
    expectError(await post({ action: 'x', timeout_ms: '5000' }), 400, 'invalid_request', 'body.timeout_ms')
    expectError(await post({ action: 'x', agent: 42 }), 400, 'invalid_request', 'body.agent')
    expectError(await post({ action: 'x' }, { 'idempotency-key': 'k'.repeat(201) }), 400, 'invalid_request', 'idempotency-key')
  })

  it('maps malformed JSON, empty bodies, oversize bodies and media types', async () => {
    expectError(await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, raw: '{"action": ' }), 400, 'invalid_json')
    expectError(await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, raw: '' }), 400, 'invalid_json')
    expectError(await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, raw: JSON.stringify({ action: 'x', pad: 'z'.repeat(300 * 1024) }) }), 413, 'payload_too_large')
    expectError(await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, raw: '<x/>', headers: { 'content-type': 'application/xml' } }), 415, 'unsupported_media_type')
    expectError(await call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, raw: '"just a string"' }), 400, 'invalid_request', 'body')
  })

  it('checks decisions and reasons', async () => {
    const path = `/v1/approvals/${pendingId}/decision`
    expectError(await call(t.url, 'POST', path, { key: t.keys.decide, json: {} }), 400, 'invalid_request', 'body.decision is required')
    expectError(await call(t.url, 'POST', path, { key: t.keys.decide, json: { decision: 'maybe' } }), 400, 'invalid_request', 'approve, reject')
    expectError(await call(t.url, 'POST', path, { key: t.keys.decide, json: { decision: 'approve', reason: 'r'.repeat(2001) } }), 400, 'invalid_request', 'body.reason')
    expectError(await call(t.url, 'POST', path, { key: t.keys.decide, json: { decision: 'approve', reason: 7 } }), 400, 'invalid_request', 'body.reason')
    expectError(await call(t.url, 'POST', `/v1/approvals/${pendingId}/cancel`, { key: t.keys.request, json: { reason: 'r'.repeat(2001) } }), 400, 'invalid_request', 'body.reason')
    expectError(await call(t.url, 'POST', `/v1/approvals/apr_unknown/decision`, { key: t.keys.decide, json: { decision: 'approve' } }), 404, 'not_found')
    // Multi-line reasons are fine; the pending approval is still undecided after all the refusals.
    const ok = await call(t.url, 'POST', path, { key: t.keys.decide, json: { decision: 'approve', reason: 'line one\nline two' } })
    expect(ok.status).toBe(200)
    expect(ok.body.reason).toBe('line one\nline two')
  })

  it('checks list and audit filters', async () => {
    expectError(await call(t.url, 'GET', '/v1/approvals?status=maybe', { key: t.keys.request }), 400, 'invalid_request', 'query.status')
    expectError(await call(t.url, 'GET', '/v1/approvals?limit=0', { key: t.keys.request }), 400, 'invalid_request', 'query.limit')
    expectError(await call(t.url, 'GET', '/v1/approvals?limit=201', { key: t.keys.request }), 400, 'invalid_request', 'query.limit')
    expectError(await call(t.url, 'GET', '/v1/audit?from=yesterday', { key: t.keys.decide }), 400, 'invalid_request', 'query.from')
    expectError(await call(t.url, 'GET', '/v1/audit?outcome=won', { key: t.keys.decide }), 400, 'invalid_request', 'query.outcome')
    expectError(await call(t.url, 'GET', '/v1/audit/export?format=xlsx', { key: t.keys.decide }), 400, 'invalid_request', 'query.format')
  })
})
