/** withAgent / currentAgent: the agent scope on AsyncLocalStorage, and requests picking it up. */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { setTimeout as delay } from 'node:timers/promises'
import { ApprovalError, currentAgent, requireApproval, resolveApprovalOptions, withAgent } from '../../src/client/index.js'
import { startScriptedServer, type ScriptedServer } from '../helpers/scripted-server.js'
import { gateOptions, longPollHeld } from './gate-fixtures.js'

let server: ScriptedServer
beforeAll(async () => {
  server = await startScriptedServer()
})
afterAll(async () => {
  await server.close()
})

/** The `agent` a resolved request would send (undefined: none). */
const agentSent = (agent?: string): string | undefined => resolveApprovalOptions('deploy', { apiKey: 'k', agent }, {}).agent

describe('withAgent', () => {
  it('is empty outside any scope', () => {
    expect(currentAgent()).toBeUndefined()
    expect(agentSent()).toBeUndefined()
  })

  it('follows the callback across await, timers and promises it starts', async () => {
    const seen = await withAgent('billing-agent', async () => {
      const before = currentAgent()
      await delay(5)
      const afterAwait = currentAgent()
      const inTimer = await new Promise<string | undefined>((resolve) => setTimeout(() => resolve(currentAgent()), 1))
      const inStarted = await Promise.resolve().then(() => agentSent())
      return { before, afterAwait, inTimer, inStarted }
    })
    expect(seen).toEqual({ before: 'billing-agent', afterAwait: 'billing-agent', inTimer: 'billing-agent', inStarted: 'billing-agent' })
    expect(currentAgent()).toBeUndefined()
  })

  it('takes the innermost of nested scopes, and the outer again after the inner ends', async () => {
    await withAgent('outer', async () => {
      await withAgent('inner', async () => {
        await delay(1)
        expect(agentSent()).toBe('inner')
      })
      expect(agentSent()).toBe('outer')
    })
  })

  it('keeps concurrent scopes apart', async () => {
    const names = await Promise.all(
      ['a', 'b', 'c'].map((name, i) =>
        withAgent(name, async () => {
          await delay(10 - i * 3)
          return currentAgent()
        }),
      ),
    )
    expect(names).toEqual(['a', 'b', 'c'])
  })

  it('loses to an explicit agent option', () => {
    withAgent('scoped', () => {
      expect(agentSent('explicit')).toBe('explicit')
      expect(agentSent()).toBe('scoped')
    })
  })

  it('returns what the callback returns, synchronously too', () => {
    expect(withAgent('x', () => 42)).toBe(42)
  })

  it('refuses an empty name with invalid_config', () => {
    expect(() => withAgent('  ', () => 1)).toThrow(ApprovalError)
    expect(() => withAgent('', () => 1)).toThrow(expect.objectContaining({ code: 'invalid_config' }))
  })

  it('still validates a scoped name when a request uses it', () => {
    withAgent('bad\nname', () => {
      expect(() => agentSent()).toThrow(expect.objectContaining({ code: 'invalid_config', message: expect.stringContaining('agent') }))
    })
  })

  it('puts the scoped agent on the card: requireApproval sends it on create', async () => {
    const waiting = withAgent('billing-agent', async () => {
      await delay(1)
      return requireApproval('charge_customer', gateOptions(server))
    })
    await longPollHeld(server)
    const create = server.requestsTo('create').at(-1)!
    expect(create.json).toMatchObject({ action: 'charge_customer', agent: 'billing-agent' })
    const [id] = [...server.approvals.values()].filter((approval) => approval.action === 'charge_customer').map((approval) => approval.id)
    expect(server.approvals.get(id)?.agent).toBe('billing-agent')
    server.decide(id, 'approve')
    await expect(waiting).resolves.toBe(id)
  })
})
