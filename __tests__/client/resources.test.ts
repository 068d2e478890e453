/** Long waits and many waits do not accumulate listeners, timers or memory. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { getEventListeners } from 'node:events'
import { requireApproval } from '../../src/client/index.js'
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import { gateOptions } from './gate-fixtures.js'

let server: ScriptedServer
beforeAll(async () => {
  server = await startScriptedServer({ honourWait: false })
})
afterAll(async () => {
  await server.close()
})

describe('resources', () => {
  it('one long wait of 200 poll cycles keeps exactly one abort listener on the caller signal', async () => {
    const controller = new AbortController()
    const counts = new Set<number>()
    let ticks = 0
    let id = ''
    const waiting = requireApproval(
      'long_wait',
      gateOptions(server, {
        pollIntervalMs: 1,
        signal: controller.signal,
        onProgress: (event) => {
          if (event.type !== 'waiting') return
          counts.add(getEventListeners(controller.signal, 'abort').length)
          id = event.approvalId
          if (++ticks === 200) server.decide(id, 'approve')
        },
      }),
    )
    expect(await waiting).toBe(id)
    expect(ticks).toBeGreaterThanOrEqual(200)
    expect([...counts]).toEqual([1])
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })

  it('200 waits in a row on one signal leave no listeners and no significant heap growth', async () => {
    server.setHonourWait(true)
    const controller = new AbortController()
    const runOne = async (): Promise<void> => {
      const waiting = requireApproval('many', gateOptions(server, { signal: controller.signal }))
      const check = await server.waitForRequest('get', { fromIndex: server.requests.length })
      server.decide(check.approvalId ?? '', 'approve')
      await waiting
    }
    for (let i = 0; i < 20; i++) await runOne() // warm up (JIT, connection pool)
    const gc = (globalThis as { gc?: () => void }).gc
    gc?.()
    const before = process.memoryUsage().heapUsed
    for (let i = 0; i < 200; i++) await runOne()
    gc?.()
    const growth = process.memoryUsage().heapUsed - before
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
    // Loose bound: the scripted server keeps every request and approval; a per-wait leak of
    // listeners/timers/closures over 200 waits would show as far more than this.
    expect(growth).toBeLessThan(40 * 1024 * 1024)
  })
})
