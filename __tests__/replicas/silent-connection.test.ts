/**
 * The PostgreSQL notifier when its LISTEN connection goes silent without an error (a
 * failover or a NAT dropping it): a loopback TCP proxy in front of PostgreSQL stops
 * forwarding, the heartbeat notices, the notifier reconnects and wakes the waiter of an
 * approval decided meanwhile. Skipped, with a message, without the PostgreSQL binaries.
 */
import { createConnection, createServer, type Server, type Socket } from 'node:net'
import type { AddressInfo } from 'node:net'
import { expect, it } from '@jest/globals'
import type { ApprovalEvent } from '../../src/server/approvals/contracts.js'
import { createPostgresNotifier } from '../../src/server/approvals/postgres-notifier.js'
import { openPostgresStore } from '../../src/server/store/postgres/index.js'
import { testAuditKey } from '../helpers/audit-key.js'
import { approvalFor } from '../store/approval-input.js'
import { describeWithPostgres } from '../store/temp-postgres.js'
import { until } from './replicas.js'

/** Forwards loopback connections to `port`; `freeze()` silences the open ones (new ones still pass). */
async function startProxy(port: number): Promise<{ port: number; freeze(): void; close(): Promise<void> }> {
  const pairs = new Set<[Socket, Socket]>()
  const frozen: Socket[] = []
  const server: Server = createServer((client) => {
    const upstream = createConnection(port, '127.0.0.1')
    const pair: [Socket, Socket] = [client, upstream]
    pairs.add(pair)
    client.pipe(upstream)
    upstream.pipe(client)
    const drop = () => {
      pairs.delete(pair)
      client.destroy()
      upstream.destroy()
    }
    client.on('error', drop).on('close', drop)
    upstream.on('error', drop).on('close', drop)
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  return {
    port: (server.address() as AddressInfo).port,
    freeze() {
      for (const [client, upstream] of pairs) {
        client.unpipe(upstream)
        upstream.unpipe(client)
        client.pause()
        upstream.pause()
        frozen.push(client, upstream)
      }
      pairs.clear()
    },
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve())
        for (const socket of [...frozen, ...[...pairs].flat()]) socket.destroy()
      })
    },
  }
}

describeWithPostgres('PostgreSQL notifier heartbeat', (cluster) => {
  it('replaces a LISTEN connection that went silent and wakes a waiter decided meanwhile', async () => {
    const config = await cluster.createDatabase()
    const proxy = await startProxy(config.port!)
    const store = await openPostgresStore(config, { auditKey: testAuditKey() })
    const sender = await createPostgresNotifier({ connection: config, store })
    const errors: string[] = []
    const receiver = await createPostgresNotifier({
      connection: { ...config, port: proxy.port },
      store,
      heartbeatMs: 200,
      onError: (_error, what) => errors.push(what),
    })
    try {
      const project = await store.createProject('main')
      const { approval } = await store.createApproval(approvalFor(project))
      const heard: ApprovalEvent[] = []
      receiver.onApproval(approval.id, (event) => heard.push(event))

      proxy.freeze()
      const decided = await store.decideApproval(project.id, approval.id, { decision: 'approve', reason: null, decided_by: 'ana@example.com' })
      expect(decided?.changed).toBe(true)
      sender.publish({ type: 'approved', approval: decided!.approval })

      await until('the receiver wakes the waiter', () => heard.length > 0)
      expect(heard[0]).toMatchObject({ type: 'approved', approval: { id: approval.id, status: 'approved', decided_by: 'ana@example.com' } })
      expect(errors.some((what) => what.includes('lost the PostgreSQL LISTEN connection'))).toBe(true)
      expect(receiver.listening).toBe(true)
    } finally {
      await Promise.all([sender.close(), receiver.close()])
      await store.close()
      await proxy.close()
    }
  })
})
