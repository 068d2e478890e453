/** The shared polling helper fails loudly: a condition that never comes true is an error, not a pass. */
import { describe, expect, it } from '@jest/globals'
import { waitUntil } from './wait-until.js'

describe('waitUntil', () => {
  it('throws, naming what it waited for, when the condition never holds', async () => {
    await expect(waitUntil(() => false, { what: 'pigs to fly', timeoutMs: 50 })).rejects.toThrow('timed out after 50 ms waiting for pigs to fly')
  })

  it('says what the last check threw', async () => {
    const failing = (): boolean => {
      throw new Error('connection refused')
    }
    await expect(waitUntil(failing, { what: 'the server', timeoutMs: 50 })).rejects.toThrow('(last check threw: connection refused)')
  })

  it('resolves with the first value that is not false, undefined or null, retrying checks that throw', async () => {
    let calls = 0
    const value = await waitUntil(
      async () => {
        calls++
        if (calls === 1) throw new Error('not yet')
        return calls < 4 ? undefined : { calls }
      },
      { what: 'the fourth call', intervalMs: 1 },
    )
    expect(value).toEqual({ calls: 4 })
  })
})
