/**
 * `approval-gate notify redeliver` as a real process on a data dir: it queues the delivery
 * again and appends one `delivery_resent` event by `cli` that `audit verify` accepts; another
 * project's delivery id (or an unknown one) is refused with a clear error, changing nothing.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ChannelService } from '../../src/server/admin/channel-service.js'
import { openDataDir } from '../../src/server/server.js'
import type { Delivery, Store } from '../../src/server/store/types.js'
import { runCli } from '../cli/helpers.js'

let dir: string
let data: string
let delivery: Delivery

async function withStore<T>(work: (store: Store) => Promise<T>): Promise<T> {
  const store = await openDataDir(data)
  try {
    return await work(store)
  } finally {
    await store.close()
  }
}

async function resendEvents(projectName: string) {
  return withStore(async (store) => {
    const project = await store.getProjectByName(projectName)
    return (await store.listAudit(project!.id)).items.filter((event) => event.type === 'delivery_resent')
  })
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-cli-redeliver-'))
  data = join(dir, 'data')
  for (const name of ['web', 'ops']) expect((await runCli(['project', 'create', name, '--data', data])).code).toBe(0)
  delivery = await withStore(async (store) => {
    const web = (await store.getProjectByName('web'))!
    const { channel } = await new ChannelService(store).addEmail(web, 'cli', ['ops@example.com'], { name: 'ops mail' })
    await store.createApproval({ project_id: web.id, action: 'deploy', context: {}, agent: null, expires_at: new Date(Date.now() + 3_600_000).toISOString(), idempotency_key: null, requested_by: 'key:ci' })
    await store.materializeDeliveries(new Date().toISOString())
    return (await store.listDeliveries(web.id, channel.id))[0]
  })
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('notify redeliver', () => {
  it('refuses another project’s delivery id and an unknown one, queueing and recording nothing', async () => {
    const crossProject = await runCli(['notify', 'redeliver', '--project', 'ops', delivery.id, '--data', data])
    expect(crossProject.code).not.toBe(0)
    expect(crossProject.stderr).toContain(`project ops has no delivery "${delivery.id}"`)
    const unknown = await runCli(['notify', 'redeliver', '--project', 'web', 'dlv_nope', '--data', data])
    expect(unknown.code).not.toBe(0)
    expect(unknown.stderr).toContain('project web has no delivery "dlv_nope"')
    expect(await resendEvents('web')).toEqual([])
    expect(await resendEvents('ops')).toEqual([])
    await withStore(async (store) => expect((await store.listDeliveries(delivery.project_id, delivery.channel_id))[0]).toEqual(delivery))
  })

  it('queues the delivery again and records one delivery_resent event by cli that audit verify accepts', async () => {
    const resent = await runCli(['notify', 'redeliver', '--project', 'web', delivery.id, '--data', data])
    expect(resent.stderr).toBe('')
    expect(resent.code).toBe(0)
    expect(resent.stdout).toContain(`Queued delivery ${delivery.id} (approval.created of ${delivery.approval_id}) to be sent again.`)
    const events = await resendEvents('web')
    expect(events.map((event) => [event.actor, event.action])).toEqual([['cli', `channel:ops mail/${delivery.id}`]])
    await withStore(async (store) => expect((await store.listDeliveries(delivery.project_id, delivery.channel_id))[0]).toMatchObject({ id: delivery.id, status: 'pending' }))
    const verified = await runCli(['audit', 'verify', '--project', 'web', '--data', data])
    expect(verified.code).toBe(0)
  })
})
