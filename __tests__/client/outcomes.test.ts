/** requireApproval / requestApproval: each way a wait can end when the server behaves. */
import { afterEach, beforeEach, describe, expect, it } from '@jest/globals'
import {
  ApprovalError,
  ApprovalRejected,
  ApprovalTimeout,
  JamjetApprovalRejected,
  JamjetApprovalTimeout,
  requestApproval,
  requireApproval,
  type ApprovalProgress,
} from '../../src/client/index.js'
import { reply, startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import { gateOptions, longPollHeld, rejectionOf } from './gate-fixtures.js'

let server: ScriptedServer
beforeEach(async () => {
  server = await startScriptedServer()
})
afterEach(async () => {
  await server.close()
})

describe('requireApproval outcomes', () => {
  it('resolves with the approval id when a person approves', async () => {
    const waiting = requireApproval('production_deploy', gateOptions(server, { context: { service: 'auth-api' }, agent: 'ci-bot' }))
    await longPollHeld(server)
    const [id] = [...server.approvals.keys()]
    server.decide(id, 'approve')
    await expect(waiting).resolves.toBe(id)

    const create = server.requestsTo('create')[0]
    expect(create.json).toEqual({ action: 'production_deploy', context: { service: 'auth-api' }, agent: 'ci-bot', timeout_ms: 10_000 })
    expect(create.headers.authorization).toBe('Bearer test-key')
    expect(create.headers['content-type']).toBe('application/json')
  })

  it('requestApproval resolves with the decided record (who, when, link)', async () => {
    const waiting = requestApproval('deploy', gateOptions(server))
    await longPollHeld(server)
    const [id] = [...server.approvals.keys()]
    server.decide(id, 'approve', 'ship it', 'carol@example.com')
    const record = await waiting
    expect(record).toMatchObject({ id, status: 'approved', decided_by: 'carol@example.com', reason: 'ship it', action: 'deploy' })
    expect(record.url).toContain(id)
    expect(typeof record.decided_at).toBe('string')
    expect(typeof record.created_at).toBe('string')
  })

  it('throws ApprovalRejected with the reason and the approver', async () => {
    const waiting = requireApproval('send_bulk_email', gateOptions(server))
    await longPollHeld(server)
    const [id] = [...server.approvals.keys()]
    server.decide(id, 'reject', 'wrong audience', 'dave@example.com')
    const error = await rejectionOf(waiting)
    expect(error).toBeInstanceOf(ApprovalRejected)
    expect(error).toBeInstanceOf(JamjetApprovalRejected)
    const rejected = error as ApprovalRejected
    expect(rejected.approvalId).toBe(id)
    expect(rejected.reason).toBe('wrong audience')
    expect(rejected.decidedBy).toBe('dave@example.com')
    expect(rejected.message).toContain('wrong audience')
  })

  it('a rejection without a reason has reason undefined', async () => {
    const waiting = requireApproval('deploy', gateOptions(server))
    await longPollHeld(server)
    server.decide([...server.approvals.keys()][0], 'reject')
    const error = (await rejectionOf(waiting)) as ApprovalRejected
    expect(error).toBeInstanceOf(ApprovalRejected)
    expect(error.reason).toBeUndefined()
  })

  it('an already-decided record from an idempotent create settles without waiting', async () => {
    const first = requireApproval('deploy', gateOptions(server, { idempotencyKey: 'run-42' }))
    await longPollHeld(server)
    const [id] = [...server.approvals.keys()]
    server.decide(id, 'approve')
    await first
    // A rerun with the same key gets the same, already approved, record.
    await expect(requireApproval('deploy', gateOptions(server, { idempotencyKey: 'run-42' }))).resolves.toBe(id)
    expect(server.approvals.size).toBe(1)
  })

  it('status expired ends with ApprovalTimeout, cause "expired", and no withdrawal', async () => {
    const waiting = requireApproval('deploy', gateOptions(server))
    await longPollHeld(server)
    const [id] = [...server.approvals.keys()]
    server.setStatus(id, 'expired')
    const error = (await rejectionOf(waiting)) as ApprovalTimeout
    expect(error).toBeInstanceOf(ApprovalTimeout)
    expect(error).toBeInstanceOf(JamjetApprovalTimeout)
    expect(error.cause).toBe('expired')
    expect(error.approvalId).toBe(id)
    expect(server.requestsTo('cancel')).toHaveLength(0)
  })

  it('status cancelled ends with ApprovalError code "cancelled", not a rejection', async () => {
    const waiting = requireApproval('deploy', gateOptions(server))
    await longPollHeld(server)
    const [id] = [...server.approvals.keys()]
    server.setStatus(id, 'cancelled', { decided_by: 'key:ops', reason: 'superseded' })
    const error = (await rejectionOf(waiting)) as ApprovalError
    expect(error).toBeInstanceOf(ApprovalError)
    expect(error).not.toBeInstanceOf(ApprovalRejected)
    expect(error.code).toBe('cancelled')
    expect(error.approvalId).toBe(id)
    expect(error.message).toContain('superseded')
  })

  it('an unknown status ends with ApprovalError code "unknown_status"', async () => {
    const waiting = requireApproval('deploy', gateOptions(server))
    await longPollHeld(server)
    server.setStatus([...server.approvals.keys()][0], 'on_hold')
    const error = (await rejectionOf(waiting)) as ApprovalError
    expect(error).toBeInstanceOf(ApprovalError)
    expect(error.code).toBe('unknown_status')
    expect(error.message).toContain('on_hold')
  })

  it('reports progress: created, a waiting tick per cycle, decided; callback exceptions are ignored', async () => {
    server.setHonourWait(false)
    const events: ApprovalProgress[] = []
    const waiting = requireApproval(
      'deploy',
      gateOptions(server, {
        pollIntervalMs: 10,
        onProgress: (event) => {
          events.push(event)
          throw new Error('a logger that throws')
        },
      }),
    )
    await server.waitForRequest('get', { fromIndex: 4 })
    server.decide([...server.approvals.keys()][0], 'approve')
    const id = await waiting
    expect(events[0]).toMatchObject({ type: 'created', approvalId: id, url: expect.stringContaining(id) })
    const ticks = events.filter((event) => event.type === 'waiting')
    expect(ticks.length).toBeGreaterThanOrEqual(3)
    for (const tick of ticks) {
      expect(tick).toMatchObject({ approvalId: id, waitedMs: expect.any(Number), remainingMs: expect.any(Number) })
    }
    expect(events.at(-1)).toMatchObject({ type: 'decided', approvalId: id, record: { status: 'approved' } })
  })
})

describe('JamJet-minimal answers', () => {
  it('accepts a create answering just {id} and checks answering just {status, reason}', async () => {
    server.script('create', reply(201, { id: 'apr_jj_1' }))
    server.script('get', reply(200, { status: 'pending' }), reply(200, { status: 'rejected', reason: 'not today' }))
    const error = (await rejectionOf(requireApproval('deploy', gateOptions(server)))) as ApprovalRejected
    expect(error).toBeInstanceOf(ApprovalRejected)
    expect(error).toMatchObject({ approvalId: 'apr_jj_1', reason: 'not today' })
    expect(server.requestsTo('get').map((r) => r.approvalId)).toEqual(['apr_jj_1', 'apr_jj_1'])
  })

  it('resolves with the id on {status: "approved"}', async () => {
    server.script('create', reply(201, { id: 'apr_jj_2' }))
    server.script('get', reply(200, { status: 'approved' }))
    await expect(requireApproval('deploy', gateOptions(server))).resolves.toBe('apr_jj_2')
  })
})
