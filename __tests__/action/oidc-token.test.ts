import { beforeEach, describe, expect, it, jest } from '@jest/globals'
import * as core from '../../__fixtures__/core.js'

jest.unstable_mockModule('@actions/core', () => core)
const { oidcBearer } = await import('../../src/action/oidc-token.js')

const token = (expInSeconds: number, n: number) =>
  `${Buffer.from('{"alg":"RS256"}').toString('base64url')}.${Buffer.from(JSON.stringify({ exp: Math.floor(Date.now() / 1000) + expInSeconds, n })).toString('base64url')}.sig${n}`

describe('oidcBearer', () => {
  beforeEach(() => core.resetCore())

  it('masks each token, reuses it while fresh and asks again shortly before it expires', async () => {
    let n = 0
    const asked: string[] = []
    const fresh = oidcBearer('https://gate.example.com', async (audience) => {
      asked.push(audience)
      return token(3600, ++n)
    })
    const first = await fresh.next()
    expect(await fresh.next()).toBe(first)
    expect(asked).toEqual(['https://gate.example.com'])
    expect(core.setSecret).toHaveBeenCalledWith(first)

    const expiring = oidcBearer('a', async () => token(30, ++n))
    const one = await expiring.next()
    const two = await expiring.next()
    expect(two).not.toBe(one)
    expect(core.setSecret).toHaveBeenCalledWith(two)
  })

  it('says how to grant the permission when the runner gives no token', async () => {
    const failing = oidcBearer('a', async () => {
      throw new Error('Unable to get ACTIONS_ID_TOKEN_REQUEST_URL env variable')
    })
    await expect(failing.next()).rejects.toThrow(/permissions: id-token: write/)
  })
})
