/**
 * One wire-contract suite, run against BOTH the real server and the scripted test server
 * (`__tests__/helpers/scripted-server.ts`), through the client core: whatever the core's
 * tests learn from the fake holds for the real thing, and the fake cannot drift unnoticed.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { ApprovalError, ApprovalsClient, type ApprovalRecord } from '../../src/client/index.js'
import { startScriptedServer } from '../helpers/scripted-server.js'
import { startTestServer } from '../server/helpers.js'

/** A server under test: where it is, a key that requests and one that decides. */
interface Target {
  url: string
  requestKey: string
  decideKey: string
  close(): Promise<void>
}

const targets: Array<[string, () => Promise<Target>]> = [
  [
    'the real server',
    async () => {
      const t = await startTestServer()
      return { url: t.url, requestKey: t.keys.request, decideKey: t.keys.decide, close: () => t.close() }
    },
  ],
  [
    'the scripted test server',
    async () => {
      const s = await startScriptedServer({ apiKey: 'contract-key' })
      return { url: s.url, requestKey: 'contract-key', decideKey: 'contract-key', close: () => s.close() }
    },
  ],
]

/** The error a promise rejects with. */
async function failure(promise: Promise<unknown>): Promise<ApprovalError> {
  try {
    await promise
  } catch (error) {
    if (error instanceof ApprovalError) return error
    throw error
  }
  throw new Error('expected an ApprovalError')
}

describe.each(targets)('the wire contract against %s', (_name, start) => {
  let target: Target
  let requester: ApprovalsClient
  let decider: ApprovalsClient
  beforeAll(async () => {
    target = await start()
    requester = new ApprovalsClient({ apiUrl: target.url, apiKey: target.requestKey })
    decider = new ApprovalsClient({ apiUrl: target.url, apiKey: target.decideKey })
  })
  afterAll(async () => {
    await target.close()
  })

  let n = 0
  const create = (extra: Partial<Parameters<ApprovalsClient['create']>[0]> = {}): Promise<ApprovalRecord> =>
    requester.create({ action: `contract-${++n}`, context: { n }, agent: 'contract-agent', ...extra })

  it('create answers a pending record with the documented fields; get answers the same record', async () => {
    const created = await create({ action: 'contract-create', context: { service: 'api' } })
    expect(created).toMatchObject({ status: 'pending', action: 'contract-create', context: { service: 'api' }, agent: 'contract-agent', reason: null, decided_by: null })
    expect(created.id).toEqual(expect.any(String))
    for (const field of ['created_at', 'expires_at', 'url'] as const) expect([field, typeof created[field]]).toEqual([field, 'string'])
    // Without a policy: one approval needed, no votes yet, no policy version.
    expect(created).toMatchObject({ required_approvals: 1, votes: [], policy: null })
    expect(await requester.get(created.id)).toEqual(created)
  })

  it('the same Idempotency-Key and body gives back the same approval', async () => {
    const request = { action: 'contract-idem', context: { same: true }, idempotencyKey: 'contract-idem-1' }
    const first = await create(request)
    const again = await create(request)
    expect(again.id).toBe(first.id)
  })

  it('the same Idempotency-Key with a different request is 422 idempotency_key_reused', async () => {
    await create({ action: 'contract-idem-a', idempotencyKey: 'contract-idem-2' })
    const error = await failure(create({ action: 'contract-idem-b', idempotencyKey: 'contract-idem-2' }))
    expect([error.code, error.status]).toEqual(['idempotency_key_reused', 422])
  })

  it('a long-poll is answered with the decision; a second decision is 409 with the current record', async () => {
    const created = await create()
    const polling = requester.get(created.id, { waitSeconds: 30 })
    const decided = await decider.decide(created.id, 'approve', 'ship it')
    expect(decided).toMatchObject({ id: created.id, status: 'approved', reason: 'ship it', decided_by: expect.any(String), decided_at: expect.any(String) })
    // The decision is recorded as the one vote that settled it.
    expect(decided.votes).toEqual([{ by: decided.decided_by, decision: 'approve', reason: 'ship it', at: decided.decided_at, groups: ['approvers'] }])
    expect(await polling).toMatchObject({ id: created.id, status: 'approved' })
    const conflict = await failure(decider.decide(created.id, 'reject'))
    expect([conflict.code, conflict.status, conflict.record?.status]).toEqual(['conflict', 409, 'approved'])
  })

  it('reject records the reason', async () => {
    const created = await create()
    expect(await decider.decide(created.id, 'reject', 'not today')).toMatchObject({ status: 'rejected', reason: 'not today' })
  })

  it('cancel withdraws a pending request; cancelling again is 409', async () => {
    const created = await create()
    expect(await requester.cancel(created.id, 'changed my mind')).toMatchObject({ id: created.id, status: 'cancelled', reason: 'changed my mind' })
    const conflict = await failure(requester.cancel(created.id))
    expect([conflict.code, conflict.status, conflict.record?.status]).toEqual(['conflict', 409, 'cancelled'])
  })

  it('cancel with timed_out ends the request expired, not cancelled', async () => {
    const created = await create()
    expect(await requester.cancel(created.id, 'no decision within 1s', { timedOut: true })).toMatchObject({ status: 'expired', reason: expect.stringMatching(/^no decision within 1s/) })
    expect((await requester.get(created.id)).status).toBe('expired')
  })

  it('list filters by status and action, newest first, with a cursor', async () => {
    const older = await create({ action: 'contract-list' })
    const newer = await create({ action: 'contract-list' })
    const page = await requester.list({ action: 'contract-list', status: 'pending' })
    expect(page.items.map((item) => item.id)).toEqual([newer.id, older.id])
    const first = await requester.list({ action: 'contract-list', limit: 1 })
    expect(first.items.map((item) => item.id)).toEqual([newer.id])
    expect(first.next_cursor).toEqual(expect.any(String))
    const second = await requester.list({ action: 'contract-list', limit: 1, cursor: first.next_cursor! })
    expect(second.items.map((item) => item.id)).toEqual([older.id])
  })

  it('an unknown id is 404 not_found on get, decide and cancel', async () => {
    for (const call of [requester.get('apr_does_not_exist'), decider.decide('apr_does_not_exist', 'approve'), requester.cancel('apr_does_not_exist')]) {
      const error = await failure(call)
      expect([error.code, error.status]).toEqual(['not_found', 404])
    }
  })

  it('a wrong key is 401 unauthorized', async () => {
    const stranger = new ApprovalsClient({ apiUrl: target.url, apiKey: 'agk_not_a_key_of_this_server' })
    const error = await failure(stranger.list())
    expect([error.code, error.status]).toEqual(['unauthorized', 401])
  })

  it('a long-poll longer than 60 s is refused with 400', async () => {
    const created = await create()
    const response = await fetch(`${target.url}/v1/approvals/${created.id}?wait=61`, { headers: { authorization: `Bearer ${target.requestKey}` } })
    expect(response.status).toBe(400)
    const body = (await response.json()) as { error?: { code?: unknown; message?: unknown } }
    expect([typeof body.error?.code, typeof body.error?.message]).toEqual(['string', 'string'])
  })
})
