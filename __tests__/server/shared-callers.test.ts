/**
 * Requests of one API key share one caller only while the rows it was built from are unchanged:
 * any change to the key or its project gives a fresh caller at once, and a shared one cannot be
 * edited. Through HTTP: held long-polls of one key keep one caller, and revoking the key still
 * fails its next request.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import type { Caller } from '../../src/server/http/auth.js'
import { SharedCallers } from '../../src/server/http/shared-callers.js'
import { call, createKey, startTestServer, type TestServer } from './helpers.js'

function keyCaller(overrides: { keyId?: string; name?: string; lastUsed?: string | null; blockSelfApproval?: boolean } = {}): Caller {
  const keyId = overrides.keyId ?? 'key_1'
  const key = {
    id: keyId,
    project_id: 'prj_1',
    name: overrides.name ?? 'ci',
    scopes: ['request' as const],
    prefix: 'agk_abc',
    created_at: '2026-11-26T00:00:00.000Z',
    last_used_at: overrides.lastUsed ?? null,
    revoked_at: null,
  }
  const project = { id: 'prj_1', name: 'p', settings: { blockSelfApproval: overrides.blockSelfApproval ?? false, defaultTimeoutMs: 60_000 }, created_at: '2026-11-26T00:00:00.000Z' }
  return { key, scopes: key.scopes, project, actor: { label: `key:${key.name}`, githubLogin: null, keyId }, requester: null, limitKey: keyId }
}

describe('SharedCallers', () => {
  it('gives requests built from identical rows one frozen caller', () => {
    const callers = new SharedCallers<Caller>()
    const first = callers.share(keyCaller())
    const second = callers.share(keyCaller())
    expect(second).toBe(first)
    expect(Object.isFrozen(first)).toBe(true)
    expect(() => {
      ;(first.project.settings as { blockSelfApproval: boolean }).blockSelfApproval = true
    }).toThrow(TypeError)
    expect(() => {
      ;(first.actor as { label: string }).label = 'key:someone-else'
    }).toThrow(TypeError)
  })

  it('builds a new caller as soon as the key or its project changes, and never hands out the old one again', () => {
    const callers = new SharedCallers<Caller>()
    const original = callers.share(keyCaller())
    for (const changed of [{ name: 'renamed' }, { lastUsed: '2026-11-26T01:00:00.000Z' }, { blockSelfApproval: true }]) {
      const fresh = keyCaller(changed)
      const shared = callers.share(fresh)
      expect(shared).toBe(fresh)
      expect(shared).not.toBe(original)
    }
    expect(callers.share(keyCaller({ blockSelfApproval: true })).project.settings.blockSelfApproval).toBe(true)
  })

  it('shares nothing for workflow identities, and remembers a bounded number of keys', () => {
    const callers = new SharedCallers<Caller>(2)
    const workflow: Caller = { ...keyCaller(), key: null, requester: null, limitKey: 'oidc:rule_1' }
    expect(callers.share(workflow)).toBe(workflow)
    expect(callers.size).toBe(0)
    const a = callers.share(keyCaller({ keyId: 'key_a' }))
    callers.share(keyCaller({ keyId: 'key_b' }))
    callers.share(keyCaller({ keyId: 'key_c' }))
    expect(callers.size).toBe(2)
    // key_a was forgotten first: its next request gets a new caller, equal to the old.
    const again = callers.share(keyCaller({ keyId: 'key_a' }))
    expect(again).not.toBe(a)
    expect(again).toEqual(a)
  })
})

describe('shared callers through HTTP', () => {
  let t: TestServer
  beforeAll(async () => {
    t = await startTestServer()
  })
  afterAll(async () => {
    await t?.close()
  })

  it('applies a project change to the next request of the same key, and refuses the key once revoked', async () => {
    const key = await createKey(t.store, t.project.id, ['request'], 'shared-caller')
    const lifetime = async () => {
      const created = await call(t.url, 'POST', '/v1/approvals', { key, json: { action: 'shared-caller' } })
      expect(created.status).toBe(201)
      return Date.parse(created.body.expires_at) - Date.parse(created.body.created_at)
    }
    await t.store.updateProjectSettings(t.project.id, { defaultTimeoutMs: 120_000 })
    expect(await lifetime()).toBe(120_000)
    expect(await lifetime()).toBe(120_000)
    await t.store.updateProjectSettings(t.project.id, { defaultTimeoutMs: 240_000 })
    expect(await lifetime()).toBe(240_000)
    const info = (await t.store.listApiKeys(t.project.id)).find((k) => k.name === 'shared-caller')!
    await t.store.revokeApiKey(t.project.id, info.id)
    const refused = await call(t.url, 'POST', '/v1/approvals', { key, json: { action: 'shared-caller' } })
    expect(refused.status).toBe(401)
  })
})
