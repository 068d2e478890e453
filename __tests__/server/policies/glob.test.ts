import { describe, expect, it } from '@jest/globals'
import { globMatches } from '../../../src/server/policies/glob.js'

describe('globMatches', () => {
  it.each([
    ['deploy-prod*', 'deploy-prod', true],
    ['deploy-prod*', 'deploy-prod-eu', true],
    ['deploy-prod*', 'deploy-staging', false],
    ['deploy-prod*', 'x-deploy-prod', false],
    ['*-prod', 'deploy-prod', true],
    ['*', '', true],
    ['', '', true],
    ['', 'a', false],
    ['deploy-??', 'deploy-eu', true],
    ['deploy-??', 'deploy-e', false],
    ['a*b*c', 'aXXbYYc', true],
    ['a*b*c', 'aXXcYYb', false],
    ['acme/*', 'acme/app', true],
    ['Deploy', 'deploy', false],
    ['release.v[1]', 'release.v[1]', true],
    ['release.v[1]', 'releaseXv1', false],
    ['a*a*a*a*a*a*b', 'a'.repeat(5_000), false],
    ['**x', 'yyx', true],
  ])('%p against %p → %p', (pattern, text, expected) => {
    expect(globMatches(pattern, text)).toBe(expected)
  })
})
