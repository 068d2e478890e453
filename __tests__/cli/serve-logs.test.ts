/**
 * What `serve` logs: by default only warnings and errors (the banner stays readable, no line
 * per request); `--log-level info` one line per request (JSON when stdout is not a terminal),
 * `debug` adds /healthz; `--log-format text` readable lines; API keys and cookies never appear.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Writable } from 'node:stream'
import Fastify from 'fastify'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { serverLoggerOptions, textLine } from '../../src/cli/logging.js'
import { runCli, startCli, stop } from './helpers.js'

let dir: string
let count = 0
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-logs-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

const COOKIE = 'ag_session=cookie-secret-value-123'

/** Starts serve with `args`, sends a few requests (with the API key and a cookie), stops it; its output. */
async function serveAndRequest(args: string[], env: Record<string, string> = {}) {
  const proc = startCli(['serve', '--port', '0', '--data', join(dir, `data-${++count}`), ...args], { env })
  const url = (await proc.waitFor(/Dashboard\s+(http:\/\/127\.0\.0\.1:\d+)/))[1]
  await proc.waitFor(/─+\n$/m)
  const key = proc.stdout().match(/API key\s+(agk_\S+)/)![1]
  const banner = proc.stdout()
  const headers = { authorization: `Bearer ${key}`, cookie: COOKIE, 'content-type': 'application/json' }
  expect((await fetch(`${url}/healthz`)).status).toBe(200)
  expect((await fetch(`${url}/v1/approvals`, { method: 'POST', headers, body: JSON.stringify({ action: 'log-check' }) })).status).toBe(201)
  expect((await fetch(`${url}/v1/approvals?status=pending&token=query-secret`, { headers })).status).toBe(200)
  expect((await fetch(`${url}/v1/approvals`, { headers: { authorization: 'Bearer agk_wrong-key-secret' } })).status).toBe(401)
  const result = await stop(proc)
  // What was logged after the banner (the banner itself shows the key once, on purpose).
  const logs = result.stdout.slice(banner.length)
  return { key, logs, stderr: result.stderr, code: result.code }
}

function expectNoSecrets(text: string, key: string) {
  for (const secret of [key, 'cookie-secret-value-123', 'agk_wrong-key-secret', 'query-secret']) expect(text).not.toContain(secret)
}

describe('serve logs', () => {
  it('by default: nothing per request, so the banner is the last thing on stdout', async () => {
    const { logs, stderr, code } = await serveAndRequest([])
    expect(code).toBe(0)
    expect(logs).toBe('')
    expect(stderr).not.toContain('{"level"')
  })

  it('--log-level info: one JSON line per request (not /healthz), without keys, cookies or query strings', async () => {
    const { key, logs } = await serveAndRequest(['--log-level', 'info'])
    const lines = logs.trim().split('\n').map((line) => JSON.parse(line) as Record<string, unknown>)
    const requests = lines.filter((line) => line.path !== undefined)
    expect(requests.map((line) => [line.method, line.path, line.status])).toEqual([
      ['POST', '/v1/approvals', 201],
      ['GET', '/v1/approvals', 200],
      ['GET', '/v1/approvals', 401],
    ])
    expect(typeof requests[0].ms).toBe('number')
    expectNoSecrets(logs, key)
  })

  it('APPROVAL_GATE_LOG_LEVEL=debug also logs /healthz; trace logs no secrets either', async () => {
    const debug = await serveAndRequest([], { APPROVAL_GATE_LOG_LEVEL: 'debug' })
    expect(debug.logs).toContain('"path":"/healthz"')
    const trace = await serveAndRequest(['--log-level', 'trace'])
    expect(trace.logs).toContain('"path":"/v1/approvals"')
    expectNoSecrets(trace.logs + trace.stderr, trace.key)
  })

  it('--log-format text: readable lines', async () => {
    const { logs } = await serveAndRequest(['--log-level', 'info', '--log-format', 'text'])
    expect(logs).toMatch(/^\d\d:\d\d:\d\d INFO {2}POST \/v1\/approvals 201 method=POST path=\/v1\/approvals status=201 ms=\d+$/m)
    expect(logs).not.toContain('{"level"')
  })

  it('a bad --log-level is a usage error naming the levels', async () => {
    const result = await runCli(['serve', '--log-level', 'loud', '--data', join(dir, 'never')])
    expect(result.code).toBe(64)
    expect(result.stderr).toContain('--log-level must be one of silent, fatal, error, warn, info, debug, trace, got "loud"')
  })

  it('redacts authorization, cookies, passwords and tokens wherever a line carries them', async () => {
    let written = ''
    const out = new Writable({
      write(chunk: Buffer, _encoding, callback) {
        written += chunk.toString()
        callback()
      },
    })
    const app = Fastify({ logger: serverLoggerOptions('info', 'json', out) as object })
    app.log.info(
      {
        req: { headers: { authorization: 'Bearer agk_secret1', cookie: 'sid=secret2' } },
        res: { headers: { 'set-cookie': 'sid=secret3' } },
        body: { password: 'secret4', token: 'secret5', api_key: 'secret6' },
      },
      'something',
    )
    await app.close()
    expect(written).toContain('[redacted]')
    for (const secret of ['secret1', 'secret2', 'secret3', 'secret4', 'secret5', 'secret6']) expect(written).not.toContain(secret)
  })

  it('auto: readable lines when stdout is a terminal, JSON lines otherwise', async () => {
    const capture = (isTTY: boolean) => {
      const out = Object.assign(
        new Writable({
          write(chunk: Buffer, _encoding, callback) {
            out.text += chunk.toString()
            callback()
          },
        }),
        { isTTY, text: '' },
      )
      return out
    }
    for (const isTTY of [true, false]) {
      const out = capture(isTTY)
      const app = Fastify({ logger: serverLoggerOptions('info', 'auto', out) as object })
      app.log.warn({ path: '/x' }, 'careful')
      await app.close()
      if (isTTY) expect(out.text).toMatch(/^\d\d:\d\d:\d\d WARN {2}careful path=\/x\n/)
      else expect(JSON.parse(out.text.split('\n')[0])).toMatchObject({ level: 40, msg: 'careful', path: '/x' })
    }
  })

  it('the readable form of a JSON line', () => {
    const line = JSON.stringify({ level: 40, time: Date.UTC(2026, 0, 1, 9, 5, 7), pid: 1, hostname: 'h', msg: 'could not record API key use', reqId: 'r1', extra: 3 })
    expect(textLine(line)).toBe('09:05:07 WARN  could not record API key use extra=3')
  })
})
