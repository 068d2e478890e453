/** Options are resolved and validated before any request; bad ones give `invalid_config`. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { ApprovalError, requireApproval, resolveApprovalOptions, resolveConnection, type RequireApprovalOptions } from '../../src/client/index.js'
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import { rejectionOf } from './gate-fixtures.js'

const KEY = 'sk_config_secret_41d2'

let server: ScriptedServer
beforeAll(async () => {
  server = await startScriptedServer({ apiKey: KEY })
})
afterAll(async () => {
  await server.close()
})

describe('connection fallbacks', () => {
  it('prefers options, then APPROVAL_GATE_*, then JAMJET_*, and defaults to JamJet Cloud', () => {
    const env = { APPROVAL_GATE_API_URL: 'https://gate.example/', APPROVAL_GATE_API_KEY: 'ag', JAMJET_API_URL: 'https://jj.example', JAMJET_API_KEY: 'jj' }
    expect(resolveConnection({ apiUrl: 'http://own.example', apiKey: 'own' }, env)).toEqual({ apiUrl: 'http://own.example', apiKey: 'own' })
    expect(resolveConnection({}, env)).toEqual({ apiUrl: 'https://gate.example', apiKey: 'ag' })
    expect(resolveConnection({}, { JAMJET_API_URL: 'https://jj.example', JAMJET_API_KEY: 'jj' })).toEqual({ apiUrl: 'https://jj.example', apiKey: 'jj' })
    expect(resolveConnection({}, { JAMJET_API_KEY: 'jj' })).toEqual({ apiUrl: 'https://api.jamjet.dev', apiKey: 'jj' })
    expect(resolveConnection({}, { APPROVAL_GATE_API_KEY: '', JAMJET_API_KEY: 'jj' }).apiKey).toBe('jj') // empty means unset
  })

  it('normalises trailing slashes and keeps a path prefix', () => {
    expect(resolveConnection({ apiUrl: 'https://x.example/approvals///', apiKey: 'k' }, {}).apiUrl).toBe('https://x.example/approvals')
    expect(resolveConnection({ apiUrl: 'https://x.example/', apiKey: 'k' }, {}).apiUrl).toBe('https://x.example')
  })

  it('applies the seed defaults', () => {
    const resolved = resolveApprovalOptions('deploy', { apiKey: 'k' }, {})
    expect(resolved).toMatchObject({ context: {}, timeoutMs: 3_600_000, pollIntervalMs: 5_000, apiUrl: 'https://api.jamjet.dev' })
  })

  it('copies the context, so later changes by the caller are not sent', () => {
    const context = { a: 1 }
    const resolved = resolveApprovalOptions('deploy', { apiKey: 'k', context }, {})
    context.a = 2
    expect(resolved.context).toEqual({ a: 1 })
  })
})

const circular: Record<string, unknown> = {}
circular.self = circular

const invalidCases: Array<[string, unknown, RequireApprovalOptions, string]> = [
  ['empty action', '', {}, 'action'],
  ['blank action', '   ', {}, 'action'],
  ['non-string action', 42, {}, 'action'],
  ['action over 200 characters', 'a'.repeat(201), {}, '200'],
  ['action with a line break', 'deploy\nnow', {}, 'control'],
  ['action that looks blank (Hangul filler)', '\u3164', {}, 'visible'],
  ['action that looks blank (Braille blank and a combining mark)', '\u2800\u0301', {}, 'visible'],
  ['agent that looks blank', 'deploy', { agent: '\u3164\u3164' }, 'agent'],
  ['context array', 'deploy', { context: [] as unknown as Record<string, unknown> }, 'context'],
  ['context string', 'deploy', { context: '{}' as unknown as Record<string, unknown> }, 'context'],
  ['context class instance', 'deploy', { context: new Date() as unknown as Record<string, unknown> }, 'context'],
  ['circular context', 'deploy', { context: circular }, 'context'],
  ['context with a BigInt', 'deploy', { context: { n: 1n } }, 'context'],
  ['context whose toJSON gives a string', 'deploy', { context: { toJSON: () => 'text' } }, 'context'],
  ['context whose toJSON gives an array', 'deploy', { context: { toJSON: () => [1, 2] } }, 'context'],
  ['context whose toJSON gives undefined', 'deploy', { context: { toJSON: () => undefined } }, 'context'],
  ['context whose toJSON gives null', 'deploy', { context: { toJSON: () => null } }, 'context'],
  ['context over 64 KB', 'deploy', { context: { blob: 'x'.repeat(65 * 1024) } }, '64 KB'],
  ['timeoutMs zero', 'deploy', { timeoutMs: 0 }, 'timeoutMs'],
  ['timeoutMs negative', 'deploy', { timeoutMs: -5 }, 'timeoutMs'],
  ['timeoutMs NaN', 'deploy', { timeoutMs: Number.NaN }, 'timeoutMs'],
  ['timeoutMs Infinity', 'deploy', { timeoutMs: Number.POSITIVE_INFINITY }, 'timeoutMs'],
  ['timeoutMs string', 'deploy', { timeoutMs: '10' as unknown as number }, 'timeoutMs'],
  ['pollIntervalMs zero', 'deploy', { pollIntervalMs: 0 }, 'pollIntervalMs'],
  ['pollIntervalMs Infinity', 'deploy', { pollIntervalMs: Number.POSITIVE_INFINITY }, 'pollIntervalMs'],
  ['apiUrl not a URL', 'deploy', { apiUrl: 'not a url' }, 'apiUrl'],
  ['apiUrl ftp', 'deploy', { apiUrl: 'ftp://files.example' }, 'http or https'],
  ['apiUrl javascript:', 'deploy', { apiUrl: 'javascript:alert(1)' }, 'http or https'],
  ['apiUrl with credentials', 'deploy', { apiUrl: 'https://u:p@x.example' }, 'credentials'],
  ['apiUrl with a query', 'deploy', { apiUrl: 'https://x.example/?a=1' }, 'query'],
  ['apiKey with a line break', 'deploy', { apiKey: `${KEY}\r\nX-Evil: 1` }, 'header'],
  ['idempotencyKey with a line break', 'deploy', { idempotencyKey: 'a\r\nb' }, 'idempotencyKey'],
  ['empty idempotencyKey', 'deploy', { idempotencyKey: '' }, 'idempotencyKey'],
  ['agent not a string', 'deploy', { agent: 5 as unknown as string }, 'agent'],
  ['signal not an AbortSignal', 'deploy', { signal: {} as AbortSignal }, 'signal'],
  ['onProgress not a function', 'deploy', { onProgress: 'log' as unknown as () => void }, 'onProgress'],
]

describe('invalid options', () => {
  it.each(invalidCases)('%s → invalid_config before any request', async (_name, action, extra, mentions) => {
    const before = server.requests.length
    const error = (await rejectionOf(requireApproval(action as string, { apiUrl: server.url, apiKey: KEY, ...extra }))) as ApprovalError
    expect(error).toBeInstanceOf(ApprovalError)
    expect(error.code).toBe('invalid_config')
    expect(error.message).toContain(mentions)
    expect(error.message).not.toContain(KEY)
    expect(server.requests.length).toBe(before)
  })

  it('a malformed apiUrl with credentials is not echoed with its password', async () => {
    const error = (await rejectionOf(requireApproval('deploy', { apiUrl: 'https://deploy:hunter2@approvals.example.com:99999', apiKey: KEY }))) as ApprovalError
    expect(error.code).toBe('invalid_config')
    expect(error.message).not.toContain('hunter2')
    expect(error.message).toContain('approvals.example.com')
  })

  it('a missing key says how to provide one, before any request', async () => {
    const saved = { a: process.env.APPROVAL_GATE_API_KEY, j: process.env.JAMJET_API_KEY }
    delete process.env.APPROVAL_GATE_API_KEY
    delete process.env.JAMJET_API_KEY
    const before = server.requests.length
    try {
      const error = (await rejectionOf(requireApproval('deploy', { apiUrl: server.url }))) as ApprovalError
      expect(error.code).toBe('invalid_config')
      expect(error.message).toMatch(/APPROVAL_GATE_API_KEY.*JAMJET_API_KEY/)
      expect(server.requests.length).toBe(before)
    } finally {
      if (saved.a !== undefined) process.env.APPROVAL_GATE_API_KEY = saved.a
      if (saved.j !== undefined) process.env.JAMJET_API_KEY = saved.j
    }
  })

  it('reads APPROVAL_GATE_API_URL and APPROVAL_GATE_API_KEY from the environment', async () => {
    const saved = { u: process.env.APPROVAL_GATE_API_URL, k: process.env.APPROVAL_GATE_API_KEY }
    process.env.APPROVAL_GATE_API_URL = `${server.url}/`
    process.env.APPROVAL_GATE_API_KEY = KEY
    try {
      const waiting = requireApproval('from_env', { timeoutMs: 5_000 })
      const check = await server.waitForRequest((r) => r.route === 'get' && server.approvals.get(r.approvalId ?? '')?.action === 'from_env')
      server.decide(check.approvalId ?? '', 'approve')
      await expect(waiting).resolves.toBe(check.approvalId)
    } finally {
      if (saved.u === undefined) delete process.env.APPROVAL_GATE_API_URL
      else process.env.APPROVAL_GATE_API_URL = saved.u
      if (saved.k === undefined) delete process.env.APPROVAL_GATE_API_KEY
      else process.env.APPROVAL_GATE_API_KEY = saved.k
    }
  })
})
