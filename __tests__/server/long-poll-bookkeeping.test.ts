/**
 * The long-poll bookkeeping on its own (`LongPolls` with the real in-process notifier): waits
 * of one length share a deadline queue, and however a wait ends — change, deadline, client
 * gone, cancel, shutdown — nothing of it stays behind (subscription, close listener, count).
 */
import { EventEmitter } from 'node:events'
import { describe, expect, it } from '@jest/globals'
import type { ApprovalEvent, ApprovalEventType } from '../../src/server/approvals/contracts.js'
import { LongPolls } from '../../src/server/approvals/long-poll.js'
import { InMemoryNotifier } from '../../src/server/approvals/notifier.js'
import type { Approval } from '../../src/server/store/types.js'

/** A stand-in for the raw HTTP response: emits `close` when the client goes away. */
class Connection extends EventEmitter {
  closes(): number {
    return this.listenerCount('close')
  }
}

function event(type: ApprovalEventType, id: string): ApprovalEvent {
  return { type, approval: { id, project_id: 'p1', status: type === 'voted' ? 'pending' : type } as unknown as Approval }
}

function setup(): { notifier: InMemoryNotifier; polls: LongPolls } {
  const notifier = new InMemoryNotifier()
  return { notifier, polls: new LongPolls(notifier) }
}

describe('LongPolls bookkeeping', () => {
  it('ends a wait on a decision of its approval (not on a vote, not on another approval) and leaves nothing behind', async () => {
    const { notifier, polls } = setup()
    const connection = new Connection()
    const wait = polls.begin('a1', 60_000, connection)
    expect(polls.size).toBe(1)
    expect(notifier.listenerCount()).toBe(1)
    expect(connection.closes()).toBe(1)
    notifier.publish(event('voted', 'a1'))
    notifier.publish(event('approved', 'a2'))
    expect(polls.size).toBe(1)
    notifier.publish(event('approved', 'a1'))
    const end = await wait.ended
    expect(end).toMatchObject({ why: 'changed', event: { type: 'approved', approval: { id: 'a1' } } })
    expect(polls.size).toBe(0)
    expect(notifier.listenerCount()).toBe(0)
    expect(connection.closes()).toBe(0)
  })

  it('drops a wait whose client goes away, and a cancelled one, without touching the others', async () => {
    const { notifier, polls } = setup()
    const [gone, cancelled, staying] = [new Connection(), new Connection(), new Connection()]
    const goneWait = polls.begin('a1', 60_000, gone)
    const cancelledWait = polls.begin('a1', 60_000, cancelled)
    const stayingWait = polls.begin('a1', 60_000, staying)
    gone.emit('close')
    cancelledWait.cancel()
    expect(await goneWait.ended).toEqual({ why: 'gone' })
    expect(await cancelledWait.ended).toEqual({ why: 'gone' })
    expect(polls.size).toBe(1)
    expect(notifier.listenerCount()).toBe(1)
    expect([gone.closes(), cancelled.closes(), staying.closes()]).toEqual([0, 0, 1])
    notifier.publish(event('rejected', 'a1'))
    expect(await stayingWait.ended).toMatchObject({ why: 'changed' })
    expect(polls.size).toBe(0)
  })

  it('times every wait out at its own deadline, when waits of several lengths interleave and the oldest leaves early', async () => {
    const { notifier, polls } = setup()
    const ended: string[] = []
    const begin = (name: string, ms: number) => {
      const wait = polls.begin(name, ms, new Connection())
      void wait.ended.then((end) => ended.push(`${name}:${end.why}`))
      return wait
    }
    const started = performance.now()
    const first = begin('first', 300)
    const long = begin('long', 400)
    const second = begin('second', 300)
    const short = begin('short', 50)
    // The head of the 300 ms queue leaves: the queue's timer still ends the next one at its own deadline.
    first.cancel()
    const results = await Promise.all([long.ended, second.ended, short.ended])
    expect(results.map((end) => end.why)).toEqual(['timeout', 'timeout', 'timeout'])
    // Never before its deadline (a late answer is the loaded machine's; an early one would be a bug).
    expect(performance.now() - started).toBeGreaterThanOrEqual(400)
    expect(ended).toEqual(['first:gone', 'short:timeout', 'second:timeout', 'long:timeout'])
    expect(polls.size).toBe(0)
    expect(notifier.listenerCount()).toBe(0)
    // A queue emptied by its last wait is gone: a new wait of that length gets a fresh timer.
    const again = polls.begin('again', 50, new Connection())
    expect(await again.ended).toEqual({ why: 'timeout' })
  })

  it('ends every wait at shutdown and refuses new ones', async () => {
    const { notifier, polls } = setup()
    const connections = [new Connection(), new Connection(), new Connection()]
    const waits = connections.map((connection, i) => polls.begin(`a${i}`, i === 2 ? 30_000 : 60_000, connection))
    polls.releaseAll()
    expect(await Promise.all(waits.map((wait) => wait.ended))).toEqual([{ why: 'shutdown' }, { why: 'shutdown' }, { why: 'shutdown' }])
    expect(polls.size).toBe(0)
    expect(notifier.listenerCount()).toBe(0)
    expect(connections.map((connection) => connection.closes())).toEqual([0, 0, 0])
    const late = polls.begin('a9', 60_000, new Connection())
    expect(await late.ended).toEqual({ why: 'shutdown' })
    expect(polls.size).toBe(0)
  })
})
