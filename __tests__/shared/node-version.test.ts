/** Which Node.js each part needs, and the one-line messages about it. */
import { describe, expect, it } from '@jest/globals'
import { CLIENT_NODE, nodeAtLeast, nodeVersionProblem, SERVER_NODE, shortVersion } from '../../src/shared/node-version.js'
import { requireServerNode } from '../../src/cli/node-version.js'

describe('node versions', () => {
  it('compares numerically, part by part', () => {
    expect(nodeAtLeast('22.19.0', '22.19.0')).toBe(true)
    expect(nodeAtLeast('22.19.0', '22.23.3')).toBe(true)
    expect(nodeAtLeast('22.19.0', '22.9.0')).toBe(false)
    expect(nodeAtLeast('22.19.0', '22.18.9')).toBe(false)
    expect(nodeAtLeast('22.19.0', '20.20.2')).toBe(false)
    expect(nodeAtLeast('24.0.0', '24.0.0-pre')).toBe(true)
    expect(nodeAtLeast('24.0.0', '100.1.0')).toBe(true)
  })

  it('says what is needed and what was found, or nothing', () => {
    expect([shortVersion(CLIENT_NODE), shortVersion(SERVER_NODE)]).toEqual(['22.19', '24'])
    expect(nodeVersionProblem('approval-gate', CLIENT_NODE, '22.12.0')).toBe('approval-gate needs Node.js >= 22.19, but this is Node.js v22.12.0')
    expect(nodeVersionProblem('approval-gate', CLIENT_NODE, '22.19.1')).toBeNull()
  })

  it('serve and the admin commands refuse Node 22 in one line', () => {
    expect(() => requireServerNode('serve', '22.23.3')).toThrow(
      'serve needs Node.js >= 24, but this is Node.js v22.23.3 (request, decide and the library work on Node.js >= 22.19)',
    )
    expect(() => requireServerNode(undefined, '23.11.0')).toThrow(/^the server and admin commands need Node\.js >= 24, but this is Node\.js v23\.11\.0/)
    expect(() => requireServerNode('serve', '24.0.0')).not.toThrow()
  })
})
