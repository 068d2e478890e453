/**
 * The core never lets a wrong answer pass as approval: an answer about another action, a
 * reused idempotency key, a decision the server cannot prove. And a self-hosted key never
 * travels to JamJet Cloud's default URL.
 */
import { afterEach, describe, expect, it } from '@jest/globals'
import { ApprovalError, ApprovalGateError, ApprovalsClient, requestApproval, resolveConnection } from '../../src/client/index.js'
import { errorBody, reply, startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import { gateOptions, rejectionOf } from './gate-fixtures.js'

let server: ScriptedServer | undefined
afterEach(async () => {
  await server?.close()
  server = undefined
})

const approvedRecord = (id: string, action: string) => ({
  id,
  status: 'approved',
  action,
  context: {},
  agent: null,
  reason: 'ok',
  decided_by: 'alice@example.com',
  decided_at: new Date().toISOString(),
  created_at: new Date().toISOString(),
  expires_at: new Date(Date.now() + 60_000).toISOString(),
  url: null,
})

describe('answers about another request', () => {
  it('refuses a create answer whose action is not the one asked for (an approved record of another request)', async () => {
    server = await startScriptedServer()
    server.script('create', reply(200, approvedRecord('apr_old', 'deploy-staging')))
    const error = await rejectionOf(requestApproval('drop-production-database', gateOptions(server)))
    expect(error).toBeInstanceOf(ApprovalError)
    expect((error as ApprovalError).code).toBe('bad_response')
    expect((error as ApprovalError).message).toMatch(/deploy-staging.*drop-production-database/)
    // No status check followed: the wrong record ended the gate.
    expect(server.requestsTo('get')).toHaveLength(0)
  })

  it('refuses a status answer whose action changed under it', async () => {
    server = await startScriptedServer()
    server.script('get', { kind: 'handle', handler: (req, res) => {
      res.writeHead(200, { 'content-type': 'application/json' })
      res.end(JSON.stringify(approvedRecord(req.approvalId as string, 'something-else')))
    } })
    const error = await rejectionOf(requestApproval('deploy', gateOptions(server)))
    expect((error as ApprovalError).code).toBe('bad_response')
  })

  it('still accepts JamJet answers without an action field', async () => {
    server = await startScriptedServer()
    server.script('create', reply(201, { id: 'apr_jj', status: 'pending' }))
    server.script('get', reply(200, { status: 'approved', reason: null }))
    const record = await requestApproval('deploy', gateOptions(server))
    expect(record).toMatchObject({ id: 'apr_jj', status: 'approved' })
  })

  it('maps 422 idempotency_key_reused to its own error, never to success', async () => {
    server = await startScriptedServer()
    server.script('create', reply(422, errorBody('idempotency_key_reused', 'this key was used for another request')))
    const error = await rejectionOf(requestApproval('deploy', gateOptions(server, { idempotencyKey: 'deploy-prod' })))
    expect(error).toBeInstanceOf(ApprovalError)
    expect((error as ApprovalError).code).toBe('idempotency_key_reused')
    expect((error as ApprovalError).status).toBe(422)
    expect((error as ApprovalError).message).toMatch(/idempotency key was already used for a different request/)
    expect(server.requestsTo('create')).toHaveLength(1)
  })
})

describe('a decision the server cannot prove', () => {
  it('fails at once with integrity_error on a status check: not approved, not retried', async () => {
    server = await startScriptedServer()
    server.script('get', reply(500, errorBody('integrity_error', 'the decision event of this approval does not verify')))
    const error = await rejectionOf(requestApproval('deploy', gateOptions(server)))
    expect(error).toBeInstanceOf(ApprovalGateError)
    expect((error as ApprovalError).code).toBe('integrity_error')
    expect((error as ApprovalError).message).toMatch(/could not prove/)
    expect(server.requestsTo('get')).toHaveLength(1)
  })

  it('fails at once with integrity_error on create too', async () => {
    server = await startScriptedServer()
    server.script('create', reply(500, errorBody('integrity_error', 'chain broken')))
    const error = await rejectionOf(requestApproval('deploy', gateOptions(server)))
    expect((error as ApprovalError).code).toBe('integrity_error')
    expect(server.requestsTo('create')).toHaveLength(1)
  })

  it('a plain 500 is still retried', async () => {
    server = await startScriptedServer()
    server.script('get', reply(500, errorBody('internal', 'oops')))
    const running = requestApproval('deploy', gateOptions(server))
    const second = await server.waitForRequest('get', { fromIndex: (await server.waitForRequest('get')).index + 1 })
    server.decide(second.approvalId as string, 'approve')
    await expect(running).resolves.toMatchObject({ status: 'approved' })
  })
})

describe('a self-hosted key without an API URL', () => {
  const noUrlEnv = {}

  it('is invalid_config naming the library option, before any request', () => {
    expect(() => resolveConnection({ apiKey: 'agk_secret_123' }, noUrlEnv)).toThrow(expect.objectContaining({ code: 'invalid_config', message: expect.stringMatching(/No API URL.*apiUrl/) }))
    expect(() => new ApprovalsClient({ apiKey: 'agk_secret_123', settingNames: { apiUrl: '--api-url' } })).not.toThrow(/agk_secret_123/)
  })

  it('names the caller’s own setting', () => {
    const error = (() => {
      try {
        resolveConnection({ apiKey: 'agk_x', settingNames: { apiUrl: '--api-url' } }, noUrlEnv)
      } catch (caught) {
        return caught as ApprovalError
      }
      throw new Error('expected invalid_config')
    })()
    expect(error.message).toContain('set --api-url')
    expect(error.message).not.toContain('agk_x')
  })

  it('is fine with an URL from the environment, and JamJet keys keep the JamJet default', () => {
    expect(resolveConnection({ apiKey: 'agk_x' }, { APPROVAL_GATE_API_URL: 'http://127.0.0.1:8080' }).apiUrl).toBe('http://127.0.0.1:8080')
    expect(resolveConnection({ apiKey: 'jj_live_x' }, noUrlEnv).apiUrl).toBe('https://api.jamjet.dev')
  })
})

describe('hints in the caller’s vocabulary', () => {
  it('a 401 names the key setting given by the caller', async () => {
    server = await startScriptedServer()
    const client = new ApprovalsClient({ apiUrl: server.url, apiKey: 'wrong-key', settingNames: { apiKey: '--api-key' } })
    const error = (await rejectionOf(client.list())) as ApprovalError
    expect(error.code).toBe('unauthorized')
    expect(error.message).toContain('Check --api-key and')
    expect(error.message).not.toContain('apiKey')
  })

  it('an URL ending in /v1 gets a hint to drop it', async () => {
    server = await startScriptedServer()
    const client = new ApprovalsClient({ apiUrl: `${server.url}/v1`, apiKey: server.apiKey as string })
    const error = (await rejectionOf(client.list())) as ApprovalError
    expect(error.message).toContain(`Drop the trailing /v1 from apiUrl`)
    expect(error.message).toContain(`use ${server.url}`)
  })

  it('an URL without a scheme gets a clean suggestion', () => {
    expect(() => resolveConnection({ apiUrl: '127.0.0.1:8080', apiKey: 'k' }, {})).toThrow(/^apiUrl.* needs a scheme: use http:\/\/127\.0\.0\.1:8080$/)
    expect(() => resolveConnection({ apiUrl: 'approvals.example.com', apiKey: 'k' }, {})).toThrow('use https://approvals.example.com')
  })
})

describe('an API that is never reached', () => {
  it('fails with unreachable after the connect budget, naming the URL, instead of retrying until the timeout', async () => {
    server = await startScriptedServer()
    const url = server.url
    await server.close()
    server = undefined
    const error = (await rejectionOf(requestApproval('deploy', { apiUrl: url, apiKey: 'k', timeoutMs: 3_600_000, connectTimeoutMs: 300 }))) as ApprovalError
    expect(error).toBeInstanceOf(ApprovalError)
    expect(error.code).toBe('unreachable')
    expect(error.message).toContain(`Could not reach ${url} within 300ms`)
  })

  it('a create that hangs counts against the budget too', async () => {
    server = await startScriptedServer()
    server.script('create', { kind: 'hang' }, { kind: 'hang' }, { kind: 'hang' })
    const error = (await rejectionOf(requestApproval('deploy', gateOptions(server, { timeoutMs: 3_600_000, connectTimeoutMs: 300 })))) as ApprovalError
    expect(error.code).toBe('unreachable')
  })

  it('once the API answered, a later outage is retried until the deadline as before', async () => {
    // No long-poll: the first status check answers pending after 600 ms, past the 500 ms budget;
    // the drops after it are retried because the API was reached.
    server = await startScriptedServer({ honourWait: false })
    server.script('get', { kind: 'delay', ms: 600 }, { kind: 'drop' }, { kind: 'drop' })
    const running = requestApproval('deploy', gateOptions(server, { connectTimeoutMs: 500 }))
    // Wait for the fourth status check: three drops were retried, not ended by the budget.
    const gets = async (n: number) => {
      let from = 0
      let req
      for (let i = 0; i < n; i++) {
        req = await server!.waitForRequest('get', { fromIndex: from })
        from = req.index + 1
      }
      return req!
    }
    const fourth = await gets(4)
    server.decide(fourth.approvalId as string, 'approve')
    await expect(running).resolves.toMatchObject({ status: 'approved' })
  })

  it('rejects a bad connectTimeoutMs', async () => {
    await expect(requestApproval('deploy', { apiUrl: 'http://127.0.0.1:9', apiKey: 'k', connectTimeoutMs: -1 })).rejects.toMatchObject({ code: 'invalid_config' })
  })
})
