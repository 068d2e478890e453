/**
 * `approval-gate notify …` and `serve --allow-private-webhooks` as real processes: a webhook
 * added from the CLI while the server runs, deliveries pending (the receiver answers 503) when
 * the server is killed with SIGKILL, and every event delivered once the server is back — signed
 * with the secret printed once, which no listing or log line shows again.
 */
import { afterEach, describe, expect, it } from '@jest/globals'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { runCli, startCli, stop, type CliProcess } from '../cli/helpers.js'
import { startWebhookReceiver, type WebhookReceiver } from '../helpers/webhook-receiver.js'
import { waitUntil } from '../helpers/wait-until.js'
import { call } from '../server/helpers.js'

describe('notify commands and a killed server', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  async function serve(dataDir: string): Promise<{ process: CliProcess; url: string }> {
    const proc = startCli(['serve', '--port', '0', '--data', dataDir, '--allow-private-webhooks', '--log-level', 'debug', '--log-format', 'json'])
    cleanups.push(async () => void (await stop(proc)))
    const match = await proc.waitFor(/(?:listening on |Dashboard\s+)(http:\/\/127\.0\.0\.1:\d+)/, 30_000)
    return { process: proc, url: match[1] }
  }

  it('delivers what was pending when the server was killed, after it restarts, exactly once per event', async () => {
    const dataDir = await mkdtemp(join(tmpdir(), 'ag-notify-cli-'))
    cleanups.push(() => rm(dataDir, { recursive: true, force: true }))
    const hook: WebhookReceiver = await startWebhookReceiver()
    cleanups.push(() => hook.close())
    hook.answer = () => 503

    const first = await serve(dataDir)
    await first.process.waitFor(/─+\n$/m, 30_000)
    const apiKey = first.process.stdout().match(/API key\s+(agk_\S+)/)![1]

    // Without the flag the CLI refuses a loopback receiver, and says how to allow it.
    const refused = await runCli(['notify', 'add', '--project', 'default', 'webhook', hook.url, '--data', dataDir])
    expect(refused.code).toBe(3)
    expect(refused.stderr).toMatch(/must use https:\/\/.*--allow-private-webhooks/)

    const added = await runCli(['notify', 'add', '--project', 'default', 'webhook', hook.url, '--name', 'ops', '--events', 'created,decided', '--allow-private-webhooks', '--data', dataDir])
    expect(added.code).toBe(0)
    expect(added.stdout).toMatch(/Added webhook channel chn_\S+ "ops" to project default: to http:\/\/127\.0\.0\.1:\d+\/hook, events created,decided\./)
    const secret = added.stdout.match(/Signing secret, shown once: (whsec_\S+)/)![1]
    hook.secret = secret

    const ids: string[] = []
    for (let i = 0; i < 3; i++) {
      const created = await call(first.url, 'POST', '/v1/approvals', { key: apiKey, json: { action: `deploy ${i}`, context: {} } })
      expect(created.status).toBe(201)
      ids.push(created.body.id)
    }
    // Each event was tried (and refused) at least once: they are pending in the store.
    await waitUntil(() => new Set(hook.received.map((r) => r.json.approval.id)).size === 3, { what: 'a first attempt of each delivery', timeoutMs: 30_000 })
    first.process.child.kill('SIGKILL')
    const killed = await first.process.done
    expect(killed.signal).toBe('SIGKILL')

    hook.answer = () => 200
    const attemptsBefore = hook.received.length
    const second = await serve(dataDir)
    await waitUntil(() => new Set(hook.received.slice(attemptsBefore).filter((r) => r.verified).map((r) => r.json.approval.id)).size === 3, {
      what: 'every pending delivery after the restart',
      timeoutMs: 60_000,
    })
    const afterRestart = hook.received.slice(attemptsBefore)
    expect(afterRestart.every((r) => r.verified && r.json.type === 'approval.created')).toBe(true)
    expect(new Set(afterRestart.map((r) => r.json.approval.id))).toEqual(new Set(ids))
    // Retries of one event carry its one delivery id: three ids in all, whatever the attempts.
    expect(new Set(hook.received.map((r) => r.json.id)).size).toBe(3)

    const listed = await waitUntil(async () => {
      const result = await runCli(['notify', 'list', '--project', 'default', '--data', dataDir])
      return /3 delivered/.test(result.stdout) ? result : null
    }, { what: 'notify list to count three deliveries', timeoutMs: 30_000 })
    expect(listed.stdout).toMatch(/chn_\S+ {2}webhook {2}"ops" {2}to http/)
    const json = await runCli(['notify', 'list', '--project', 'default', '--json', '--data', dataDir])
    expect(JSON.parse(json.stdout)[0]).toMatchObject({ name: 'ops', health: { delivered: 3 } })
    const log = await runCli(['notify', 'deliveries', '--project', 'default', 'ops', '--data', dataDir])
    expect(log.stdout.trim().split('\n')).toHaveLength(3)
    expect(log.stdout).toMatch(/approval\.created {2}apr_\S+ {2}delivered {2}attempts \d+ {2}answer 200 {2}last error: HTTP 503/)

    const tested = await runCli(['notify', 'test', '--project', 'default', 'ops', '--allow-private-webhooks', '--data', dataDir])
    expect(tested.stdout).toContain('Sent a test notification to webhook channel "ops" (HTTP 200).')
    expect(hook.received.at(-1)).toMatchObject({ verified: true, json: { type: 'approval.created', approval: { action: 'approval-gate test notification' } } })

    // The secret was printed once: no listing, log line or audit event holds it.
    for (const text of [listed.stdout, json.stdout, log.stdout, first.process.stdout(), first.process.stderr(), second.process.stdout(), second.process.stderr()]) expect(text).not.toContain(secret)
    const audit = await runCli(['audit', 'export', '--project', 'default', '--data', dataDir])
    expect(audit.stdout).toContain('channel_added')
    expect(audit.stdout).not.toContain(secret)

    const removed = await runCli(['notify', 'remove', '--project', 'default', 'ops', '--data', dataDir])
    expect(removed.stdout).toMatch(/Removed webhook channel chn_\S+ "ops"\./)
    const gone = await runCli(['notify', 'remove', '--project', 'default', 'ops', '--data', dataDir])
    expect(gone.code).toBe(3)
    expect(gone.stderr).toContain('has no channel "ops"')
  }, 180_000)

  it('refuses bad notify add command lines, naming what is wrong', async () => {
    const cases: Array<[string[], RegExp]> = [
      [['notify', 'add', '--project', 'p', 'pager'], /kind is webhook, email or slack/],
      [['notify', 'add', '--project', 'p', 'webhook'], /give the webhook URL/],
      [['notify', 'add', '--project', 'p', 'email', 'a@b.c'], /recipients go in --to/],
      [['notify', 'add', '--project', 'p', 'webhook', 'https://x.example', '--to', 'a@b.c'], /--to is for email/],
      [['notify', 'add', '--project', 'p', 'email', '--remind-after', 'soon'], /--remind-after: /],
      [['notify', 'add', 'email'], /--project is required/],
    ]
    for (const [args, message] of cases) {
      const result = await runCli(args)
      expect({ args, code: result.code }).toEqual({ args, code: 64 })
      expect(result.stderr).toMatch(message)
    }
    const smtp = await runCli(['serve', '--smtp-url', 'smtp://127.0.0.1:1'])
    expect(smtp.code).toBe(64)
    expect(smtp.stderr).toMatch(/--smtp-url and --mail-from go together/)
  })
})
