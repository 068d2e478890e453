/**
 * `approval-gate request` against servers that are gone or send hostile text: the exit code
 * tells a broken setup (3) from a person who did not decide (2), and server-sent text cannot
 * start a new log line (CI systems such as GitHub Actions read commands from any line).
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { createServer } from 'node:net'
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import { runCli, startCli } from './helpers.js'

const KEY = 'agk_cli_edges_secret_5b1e'

let server: ScriptedServer
beforeAll(async () => {
  server = await startScriptedServer({ apiKey: KEY })
})
afterAll(async () => {
  await server.close()
})

/** A loopback port nothing listens on. */
async function closedPort(): Promise<number> {
  const probe = createServer()
  await new Promise<void>((resolve) => probe.listen(0, '127.0.0.1', resolve))
  const { port } = probe.address() as { port: number }
  await new Promise((resolve) => probe.close(resolve))
  return port
}

describe('request', () => {
  it('exits 3, not 2, when the server never answered (nothing was ever created)', async () => {
    const url = `http://127.0.0.1:${await closedPort()}`
    const result = await runCli(['request', 'deploy', '--timeout', '1500ms', '--api-url', url], { env: { APPROVAL_GATE_API_KEY: KEY } })
    expect(result.code).toBe(3)
    expect(result.stderr).toMatch(/could not (create|reach)/i)
    expect(result.stdout + result.stderr).not.toContain(KEY)
  })

  it('keeps server-sent reason, approver and link on one stderr line', async () => {
    const gate = startCli(['request', 'deploy', '--timeout', '1m', '--api-url', server.url], { env: { APPROVAL_GATE_API_KEY: KEY } })
    const [, id] = await gate.waitFor(/waiting for approval (apr_\S+)/)
    server.decide(id, 'reject', 'no\n::error::injected\u001b[31m', 'eve\r\n::add-mask::x')
    const result = await gate.done
    expect(result.code).toBe(1)
    for (const line of result.stderr.split('\n')) expect(line).not.toMatch(/^::/)
    expect(result.stderr).not.toContain('\u001b')
    expect(result.stderr).toContain('injected')
  })

  it.each([
    ['a --context over 64 KB', ['request', 'deploy', '--context', JSON.stringify({ blob: 'x'.repeat(70_000) })], '64 KB'],
    ['an ACTION over 200 characters', ['request', 'd'.repeat(201)], '200'],
    ['an ACTION with a line break', ['request', 'deploy\nnow'], 'ACTION'],
  ])('exits 64 for %s, before any request', async (_name, args, says) => {
    const before = server.requests.length
    const result = await runCli([...args, '--api-url', server.url], { env: { APPROVAL_GATE_API_KEY: KEY } })
    expect(result.code).toBe(64)
    expect(result.stderr).toContain(says)
    expect(server.requests.length).toBe(before)
  })
})
