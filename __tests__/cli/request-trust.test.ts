/**
 * `approval-gate request` and `decide` as processes against answers that must never pass:
 * another action's record, a reused idempotency key, a decision the server cannot prove;
 * hostile text that would become workflow commands; a self-hosted key with no URL; and the
 * first-hour papercuts (version, usage, agent, hints, an unreachable URL).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer } from 'node:net'
import { hostname, userInfo } from 'node:os'
import { errorBody, reply, startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import { runCli, startCli } from './helpers.js'

const KEY = 'agk_cli_trust_secret_9c2d'

let server: ScriptedServer
beforeAll(async () => {
  server = await startScriptedServer({ apiKey: KEY })
})
afterAll(async () => {
  await server.close()
})

const env = () => ({ APPROVAL_GATE_API_URL: server.url, APPROVAL_GATE_API_KEY: KEY })

/** Lines a GitHub runner would read as a workflow command. */
function commandLines(text: string): string[] {
  return text.split(/\r?\n/).filter((line) => /^\s*(::|##\[)/.test(line))
}

async function closedPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

describe('server-sent text cannot become a workflow command', () => {
  it.each([
    ['line breaks', 'no\n::stop-commands::tok123\n::error::pwned'],
    ['a reason that starts with a command', '::error::pwned'],
    ['percent-encoded line breaks', 'fine%0A::warning::pwned%0d::add-mask::x'],
    ['the legacy ##[ form', '##[error]pwned'],
  ])('on stdout and stderr alike: %s', async (_name, reason) => {
    const gate = startCli(['request', 'deploy', '--timeout', '1m'], { env: env() })
    const [, id] = await gate.waitFor(/waiting for approval (apr_\S+)/)
    server.decide(id, 'reject', reason, `eve\n::add-mask::${reason}`)
    const result = await gate.done
    expect(result.code).toBe(1)
    expect(commandLines(result.stdout)).toEqual([])
    expect(commandLines(result.stderr)).toEqual([])
    expect(result.stdout.trim().split('\n')).toHaveLength(1)
    expect(result.stdout).toContain('pwned')
  })
})

describe('answers that must never pass as approval', () => {
  it('exits 3 when the create answer is another action’s (approved) record', async () => {
    server.script('create', reply(200, { id: 'apr_staging', status: 'approved', action: 'deploy-staging', decided_by: 'bob' }))
    const result = await runCli(['request', 'drop-production-database', '--idempotency-key', 'deploy-prod', '--timeout', '1m'], { env: env() })
    expect(result.code).toBe(3)
    expect(result.stdout).toBe('')
    expect(result.stderr).toMatch(/deploy-staging.*not "drop-production-database"/)
  })

  it('exits 3 with a clear message for 422 idempotency_key_reused', async () => {
    server.script('create', reply(422, errorBody('idempotency_key_reused', 'this key was used for another request')))
    const result = await runCli(['request', 'drop-production-database', '--idempotency-key', 'deploy-prod', '--timeout', '1m'], { env: env() })
    expect(result.code).toBe(3)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('idempotency key was already used for a different request')
  })

  it('exits 3 on integrity_error, saying the decision could not be proven', async () => {
    server.script('get', reply(500, errorBody('integrity_error', 'the decision of this approval does not verify')))
    const result = await runCli(['request', 'deploy', '--timeout', '1m'], { env: env() })
    expect(result.code).toBe(3)
    expect(result.stdout).toBe('')
    expect(result.stderr).toContain('could not prove')
    expect(result.stderr).not.toMatch(/approved by/)
  })
})

describe('configuration', () => {
  it('refuses an agk_ key without an API URL, naming --api-url, before any request', async () => {
    const result = await runCli(['request', 'deploy', '--timeout', '1m'], { env: { APPROVAL_GATE_API_KEY: KEY } })
    expect(result.code).toBe(3)
    expect(result.stderr).toContain('set --api-url')
    expect(result.stderr).not.toContain(KEY)
  })

  it('hints name the CLI’s flags', async () => {
    const result = await runCli(['request', 'deploy', '--timeout', '1m', '--api-url', server.url, '--api-key', 'agk_wrong'])
    expect(result.code).toBe(3)
    expect(result.stderr).toContain('Check --api-key')
    expect(result.stderr).not.toMatch(/\bapiKey\b/)
  })

  it('an unreachable URL fails after --connect-timeout, saying it could not reach it', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`
    const result = await runCli(['request', 'deploy', '--timeout', '1h', '--connect-timeout', '700ms', '--api-url', url], { env: { APPROVAL_GATE_API_KEY: KEY } })
    expect(result.code).toBe(3)
    expect(result.stderr).toContain(`Could not reach ${url} within 700ms`)
    expect(result.stderr).not.toContain('withdraw')
  })

  it('a scheme-less URL gets a clean suggestion', async () => {
    const result = await runCli(['request', 'deploy', '--api-url', '127.0.0.1:8080'], { env: { APPROVAL_GATE_API_KEY: KEY } })
    expect(result.code).toBe(3)
    expect(result.stderr).toContain('needs a scheme: use http://127.0.0.1:8080')
  })
})

describe('the first hour', () => {
  it('--version prints the package version', async () => {
    const result = await runCli(['--version'])
    expect(result.code).toBe(0)
    expect(result.stdout).toMatch(/^approval-gate \d+\.\d+\.\d+\n$/)
  })

  it('request without ACTION shows the usage', async () => {
    const result = await runCli(['request'])
    expect(result.code).toBe(64)
    expect(result.stderr).toContain('Usage: approval-gate request ACTION')
  })

  it('request --help has every option description in one column', async () => {
    const result = await runCli(['request', '--help'])
    const options = result.stdout.split('Options:\n')[1].split('\n').filter((line) => /^ {2}-/.test(line))
    // Where each description starts: after the flag and a gap of two or more spaces.
    const columns = new Set(options.map((line) => /^ {2}\S.*?\S {2,}(?=\S)/.exec(line)?.[0].length))
    expect(options.length).toBeGreaterThan(5)
    expect(columns.size).toBe(1)
  })

  it('requests carry a default agent cli:<user>@<host>', async () => {
    const from = server.requests.length
    const gate = startCli(['request', 'agent-check', '--timeout', '1m'], { env: env() })
    const [, id] = await gate.waitFor(/waiting for approval (apr_\S+)/)
    const create = await server.waitForRequest('create', { fromIndex: from })
    expect((create.json as { agent?: string }).agent).toBe(`cli:${userInfo().username}@${hostname()}`)
    server.decide(id, 'approve')
    expect((await gate.done).code).toBe(0)
  })

  it('SIGTERM before anything was created does not claim to withdraw a request', async () => {
    server.script('create', { kind: 'hang' })
    const from = server.requests.length
    const gate = startCli(['request', 'never-created', '--timeout', '1m'], { env: env() })
    await server.waitForRequest('create', { fromIndex: from })
    gate.child.kill('SIGTERM')
    const result = await gate.done
    expect(result.code).toBe(130)
    expect(result.stderr).not.toContain('withdrawing the request')
    expect(result.stderr).toContain('interrupted')
  })
})
