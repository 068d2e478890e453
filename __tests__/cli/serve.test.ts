/** `approval-gate serve` as a child process: first-run banner, restarts, SIGTERM, and kill -9 durability. */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { waitUntil } from '../helpers/wait-until.js'
import { startServe, stop, type CliProcess } from './helpers.js'

let dir: string
const running = new Set<CliProcess>()
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-serve-'))
})
afterAll(async () => {
  for (const proc of running) await stop(proc)
  await rm(dir, { recursive: true, force: true })
})

async function serve(data: string) {
  const started = await startServe(data)
  running.add(started.process)
  return started
}

async function api(url: string, method: string, path: string, key: string, body?: unknown) {
  const response = await fetch(`${url}${path}`, {
    method,
    headers: { authorization: `Bearer ${key}`, ...(body ? { 'content-type': 'application/json' } : {}) },
    body: body ? JSON.stringify(body) : undefined,
  })
  return { status: response.status, body: await response.json() }
}

describe('serve', () => {
  it('prints the first-login banner once, then only the URL', async () => {
    const data = join(dir, 'banner')
    const first = await serve(data)
    await first.process.waitFor(/─+\n$/m)
    const out = first.process.stdout()
    expect(out).toContain('admin@localhost')
    const key = out.match(/API key\s+(agk_\S+)/)![1]
    expect(out).toMatch(/Password\s+\S{12,}/)
    expect(out).toContain(`curl -s -X POST ${first.url}/v1/approvals`)
    expect(out).toContain('approval-gate request hello')
    expect((await api(first.url, 'POST', '/v1/approvals', key, { action: 'hello' })).status).toBe(201)
    const stopped = await stop(first.process)
    running.delete(first.process)
    expect(stopped.code).toBe(0)
    expect(stopped.stderr).toContain('stopped')

    const second = await serve(data)
    expect(second.process.stdout()).not.toContain('admin@localhost')
    expect(second.process.stderr()).toContain(`listening on ${second.url}`)
    const health = await fetch(`${second.url}/healthz`)
    expect(health.status).toBe(200)
  })

  it('answers a waiting long-poll on SIGTERM, then exits 0', async () => {
    const data = join(dir, 'sigterm')
    const started = await serve(data)
    await started.process.waitFor(/─+\n$/m)
    const key = started.process.stdout().match(/API key\s+(agk_\S+)/)![1]
    const created = await api(started.url, 'POST', '/v1/approvals', key, { action: 'held' })
    const poll = api(started.url, 'GET', `/v1/approvals/${created.body.id}?wait=60`, key)
    await waitUntil(async () => ((await (await fetch(`${started.url}/healthz`)).json()) as { waiting: number }).waiting > 0, { what: 'serve to hold the long-poll' })
    started.process.child.kill('SIGTERM')
    const answered = await poll
    expect(answered).toMatchObject({ status: 200, body: { id: created.body.id, status: 'pending' } })
    const result = await started.process.done
    running.delete(started.process)
    expect(result.code).toBe(0)
  })

  it('keeps an acknowledged decision across kill -9 and restart', async () => {
    const data = join(dir, 'kill9')
    const first = await serve(data)
    await first.process.waitFor(/─+\n$/m)
    const requestKey = first.process.stdout().match(/API key\s+(agk_\S+)/)![1]
    const { startCli } = await import('./helpers.js')
    const keys = startCli(['keys', 'create', '--project', 'default', '--scope', 'decide', '--name', 'approver', '--data', data, '--json'])
    const decideKey = JSON.parse((await keys.done).stdout).api_key as string

    const created = await api(first.url, 'POST', '/v1/approvals', requestKey, { action: 'durable' })
    const decided = await api(first.url, 'POST', `/v1/approvals/${created.body.id}/decision`, decideKey, { decision: 'approve', reason: 'survives' })
    expect(decided.status).toBe(200)
    first.process.child.kill('SIGKILL')
    const killed = await first.process.done
    running.delete(first.process)
    expect(killed.signal).toBe('SIGKILL')

    const second = await serve(data)
    const record = await api(second.url, 'GET', `/v1/approvals/${created.body.id}`, requestKey)
    expect(record.body).toMatchObject({ status: 'approved', reason: 'survives', decided_by: 'key:approver' })
    const audit = await api(second.url, 'GET', '/v1/audit/verify', decideKey)
    expect(audit.body).toMatchObject({ ok: true, events: 4 }) // the first key, the CLI's key, the request and its decision
  })
})
