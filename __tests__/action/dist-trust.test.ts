/**
 * The committed bundle as a process against answers that must never pass as approval, hostile
 * server text in its logs, a self-hosted key without api-url, and an API that is never reached.
 * Rebuild with `npm run bundle` after changing the sources.
 */
import { afterAll, afterEach, beforeAll, beforeEach, describe, expect, it } from '@jest/globals'
import { createServer } from 'node:net'
import { errorBody, reply, startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import { createRunnerFiles, inputEnv, readOutputs, runAction, RUNNER_ENV, startAction, type RunnerFiles } from './run-action.js'

const KEY = 'agk_action_trust_key_42'
let server: ScriptedServer
let files: RunnerFiles

beforeAll(async () => {
  server = await startScriptedServer({ apiKey: KEY })
})
afterAll(async () => {
  await server.close()
})
beforeEach(() => {
  files = createRunnerFiles()
})
afterEach(() => {
  files.remove()
})

let runId = 5000
function gateEnv(inputs: Record<string, string> = {}): Record<string, string> {
  return { ...RUNNER_ENV, GITHUB_RUN_ID: String(++runId), ...inputEnv({ action: 'deploy-production', 'api-url': server.url, 'api-key': KEY, ...inputs }) }
}

/** The workflow commands a runner would read from the log (`::name …::`), by name. */
function commands(stdout: string): string[] {
  return stdout
    .split(/\r?\n/)
    .map((line) => /^\s*::([\w-]+)/.exec(line)?.[1] ?? (/^\s*##\[/.test(line) ? '##[' : undefined))
    .filter((name): name is string => name !== undefined)
}

/** The only commands the action itself sends. */
const OWN_COMMANDS = new Set(['add-mask', 'notice', 'warning', 'error', 'debug', 'group', 'endgroup'])

describe('answers that must never pass', () => {
  it('fails when the create answer is another action’s approved record', async () => {
    server.script('create', reply(200, { id: 'apr_staging', status: 'approved', action: 'deploy-staging', decided_by: 'bob' }))
    const result = await runAction(files, gateEnv({ action: 'drop-production-database', 'idempotency-key': 'deploy-prod' }))
    expect(result.code).not.toBe(0)
    expect(result.stdout).toMatch(/::error::Approval gate failed \(bad_response.*deploy-staging.*not "drop-production-database"/)
    expect(readOutputs(files).decision).toBe('')
  })

  it('fails with a clear message on 422 idempotency_key_reused', async () => {
    server.script('create', reply(422, errorBody('idempotency_key_reused', 'this key was used for another request')))
    const result = await runAction(files, gateEnv({ 'idempotency-key': 'deploy-prod' }))
    expect(result.code).not.toBe(0)
    expect(result.stdout).toMatch(/::error::Approval gate failed \(idempotency_key_reused, HTTP 422\).*idempotency key was already used for a different request/)
    expect(readOutputs(files).decision).toBe('')
  })

  it('fails on integrity_error, saying the decision could not be proven, and never reports approved', async () => {
    server.script('get', reply(500, errorBody('integrity_error', 'the decision event does not verify')))
    const result = await runAction(files, gateEnv())
    expect(result.code).not.toBe(0)
    expect(result.stdout).toMatch(/::error::The approvals server could not prove the decision on "deploy-production".*does not pass \(integrity_error\)/)
    expect(readOutputs(files).decision).toBe('')
    expect(server.requestsTo((req) => req.route === 'get' && req.headers.authorization === `Bearer ${KEY}`).length).toBeGreaterThan(0)
  })
})

describe('logs', () => {
  it('server-sent reason and approver never start a workflow command', async () => {
    const from = server.requests.length
    const running = startAction(files, gateEnv({ 'fail-on-reject': 'false' }))
    const create = await server.waitForRequest('create', { fromIndex: from })
    const check = await server.waitForRequest('get', { fromIndex: create.index })
    const hostile = 'no\n::stop-commands::tok\n::error::pwned%0A::warning::x\r##[error]y'
    server.decide(check.approvalId as string, 'reject', hostile, `eve\n::add-mask::z`)
    const result = await running.done
    expect(result.code).toBe(0)
    for (const name of commands(result.stdout)) expect(OWN_COMMANDS.has(name) ? 'own' : name).toBe('own')
    expect(result.stdout).toContain('pwned')
  })
})

describe('configuration', () => {
  it('refuses an agk_ key without api-url, naming the input and the typo’d api_url', async () => {
    const before = server.requests.length
    const env = { ...RUNNER_ENV, ...inputEnv({ action: 'deploy', 'api-key': KEY }), INPUT_API_URL: server.url }
    const result = await runAction(files, env)
    expect(result.code).not.toBe(0)
    expect(result.stdout).toMatch(/::error::Input "api-url" is required with a self-hosted key/)
    expect(result.stdout).toContain('the input is spelled api-url')
    expect(result.stdout).toMatch(/::warning::The workflow sets "api_url"/)
    expect(server.requests.length).toBe(before)
  })

  it('an API that is never reached fails after connect-timeout, naming the URL', async () => {
    const probe = createServer()
    await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
    const url = `http://127.0.0.1:${(probe.address() as { port: number }).port}`
    await new Promise((resolve) => probe.close(resolve))
    const result = await runAction(files, gateEnv({ 'api-url': url, timeout: '1h', 'connect-timeout': '1s' }))
    expect(result.code).not.toBe(0)
    expect(result.stdout).toMatch(new RegExp(`::error::Approval gate failed \\(unreachable\\): Could not reach ${url.replace(/\./g, '\\.')} within 1s.*Check the api-url input`))
  })

  it('a 401 names the api-key input once, in sentences', async () => {
    const result = await runAction(files, gateEnv({ 'api-key': 'agk_wrong_key' }))
    expect(result.code).not.toBe(0)
    const error = result.stdout.split('\n').find((line) => line.startsWith('::error::')) ?? ''
    expect(error).toMatch(/Check the api-key input and that the key is not revoked\. Also check/)
    expect(error.match(/api-key input/g)).toHaveLength(1)
  })
})
