/**
 * Failures that are not worth retrying end with a clear ApprovalError (never a rejection,
 * never a silent wait, never a raw SyntaxError), and the API key is in no message.
 */
import { afterEach, describe, expect, it } from '@jest/globals'
import { ApprovalError, ApprovalRejected, requireApproval, type ApprovalErrorCode } from '../../src/client/index.js'
import { errorBody, reply, replyRaw, startScriptedServer, type ScriptedFault, type RouteName, type ScriptedServer } from '../helpers/scripted-server.js'
import { gateOptions, rejectionOf } from './gate-fixtures.js'

const SECRET_KEY = 'sk_live_do_not_print_7f3a9c'

let server: ScriptedServer
afterEach(async () => {
  await server.close()
})

interface Case {
  name: string
  route: RouteName
  fault: ScriptedFault
  code: ApprovalErrorCode
  status?: number
  says?: string
}

const cases: Case[] = [
  { name: '401 on create', route: 'create', fault: reply(401, errorBody('unauthorized', 'key revoked')), code: 'unauthorized', status: 401, says: 'key revoked' },
  { name: '403 on create', route: 'create', fault: reply(403, errorBody('forbidden', 'needs request scope')), code: 'unauthorized', status: 403, says: 'needs request scope' },
  { name: '400 on create', route: 'create', fault: reply(400, errorBody('bad_request', 'action too long')), code: 'create_failed', status: 400, says: 'action too long' },
  { name: '404 on create (wrong apiUrl)', route: 'create', fault: replyRaw(404, 'Not Found'), code: 'create_failed', status: 404, says: 'apiUrl' },
  { name: '413 on create', route: 'create', fault: reply(413, errorBody('too_large', 'context over 64 KB')), code: 'create_failed', status: 413 },
  { name: 'non-JSON 201 on create', route: 'create', fault: replyRaw(201, '<html>captive portal</html>'), code: 'create_failed', says: 'not JSON' },
  { name: 'create without an id', route: 'create', fault: reply(201, { status: 'pending' }), code: 'create_failed', says: '"id"' },
  { name: '401 on status check', route: 'get', fault: reply(401, errorBody('unauthorized', 'key revoked')), code: 'unauthorized', status: 401 },
  { name: '404 on status check', route: 'get', fault: reply(404, errorBody('not_found', 'no such approval')), code: 'not_found', status: 404, says: 'no such approval' },
  { name: '400 on status check', route: 'get', fault: reply(400, errorBody('bad_request', 'wait must be ≤ 60')), code: 'bad_request', status: 400, says: 'wait must be' },
  { name: '418 with an empty body', route: 'get', fault: reply(418), code: 'bad_request', status: 418 },
  { name: 'non-JSON 200 on status check', route: 'get', fault: replyRaw(200, 'OK'), code: 'bad_response', status: 200 },
  { name: 'empty 200 on status check', route: 'get', fault: replyRaw(200, ''), code: 'bad_response' },
  { name: 'shape-less JSON on status check', route: 'get', fault: reply(200, { ok: true }), code: 'bad_response' },
  { name: 'JSON array on status check', route: 'get', fault: reply(200, [1, 2]), code: 'bad_response' },
  { name: 'unknown status on status check', route: 'get', fault: reply(200, { status: 'paused' }), code: 'unknown_status', says: 'paused' },
  { name: 'another approval approved on status check', route: 'get', fault: reply(200, { id: 'apr_someone_else', status: 'approved' }), code: 'bad_response', says: 'apr_someone_else' },
]

describe('failures end with a clear ApprovalError', () => {
  it.each(cases)('$name → $code', async ({ route, fault, code, status, says }) => {
    server = await startScriptedServer({ apiKey: SECRET_KEY })
    server.script(route, fault)
    const error = await rejectionOf(requireApproval('deploy', gateOptions(server)))
    expect(error).toBeInstanceOf(ApprovalError)
    expect(error).not.toBeInstanceOf(ApprovalRejected)
    const failure = error as ApprovalError
    expect(failure.code).toBe(code)
    if (status !== undefined) expect(failure.status).toBe(status)
    if (says !== undefined) expect(failure.message).toContain(says)
    expect(failure.message).not.toContain(SECRET_KEY)
    expect(JSON.stringify(failure)).not.toContain(SECRET_KEY)
    expect(String(failure.stack)).not.toContain(SECRET_KEY)
  })

  it('a redirect is not followed (the key must not travel to another host) and names where it points', async () => {
    const elsewhere = await startScriptedServer({ apiKey: null })
    try {
      server = await startScriptedServer({ apiKey: SECRET_KEY })
      for (const route of ['create', 'get'] as const) {
        server.script(route, reply(route === 'create' ? 301 : 307, undefined, { location: `${elsewhere.url.replace('127.0.0.1', 'localhost')}/v1/approvals` }))
        const error = (await rejectionOf(requireApproval('deploy', gateOptions(server)))) as ApprovalError
        expect(error.code).toBe(route === 'create' ? 'create_failed' : 'bad_request')
        expect(error.message).toMatch(/redirect/i)
        expect(error.message).toContain(`localhost:${elsewhere.port}`)
      }
      expect(elsewhere.requests).toHaveLength(0)
    } finally {
      await elsewhere.close()
    }
  })

  it('a wrong key is reported as unauthorized without echoing either key', async () => {
    server = await startScriptedServer({ apiKey: 'the-right-key' })
    const error = (await rejectionOf(requireApproval('deploy', gateOptions(server, { apiKey: SECRET_KEY })))) as ApprovalError
    expect(error.code).toBe('unauthorized')
    expect(error.message).toContain('APPROVAL_GATE_API_KEY')
    expect(error.message).not.toContain(SECRET_KEY)
    expect(error.message).not.toContain('the-right-key')
  })

  it('redacts the key even when a hostile server echoes it', async () => {
    server = await startScriptedServer({ apiKey: SECRET_KEY })
    server.script('create', reply(400, errorBody('bad_request', `your key ${SECRET_KEY} is weird`)))
    const error = (await rejectionOf(requireApproval('deploy', gateOptions(server)))) as ApprovalError
    expect(error.message).toContain('[redacted]')
    expect(error.message).not.toContain(SECRET_KEY)
  })

  it('an unreachable API keeps retrying until the deadline (no key in the retry messages)', async () => {
    server = await startScriptedServer({ apiKey: SECRET_KEY })
    await server.pause()
    const messages: string[] = []
    const error = await rejectionOf(
      requireApproval('deploy', gateOptions(server, { timeoutMs: 700, onProgress: (e) => void (e.type === 'retrying' && messages.push(e.error)) })),
    )
    expect((error as Error).name).toBe('ApprovalTimeout')
    expect(messages.length).toBeGreaterThanOrEqual(1)
    for (const message of messages) expect(message).not.toContain(SECRET_KEY)
  })
})
