import { describe, expect, it } from '@jest/globals'
import { maxTimeoutMs, parsePolicy, resolvePolicy, type Policy, type PolicyRequest } from '../../../src/server/policies/index.js'
import type { RequesterClaims } from '../../../src/server/store/types.js'

function policyOf(source: string): Policy {
  const parsed = parsePolicy(source)
  if (!parsed.ok) throw new Error(JSON.stringify(parsed.errors))
  return parsed.policy
}

function claims(overrides: Partial<RequesterClaims>): RequesterClaims {
  return {
    issuer: 'https://token.actions.githubusercontent.com',
    repository: 'acme/app',
    ref: 'refs/heads/main',
    sha: null,
    workflow_ref: null,
    run_id: null,
    run_attempt: null,
    actor: 'octocat',
    triggering_actor: null,
    environment: 'production',
    event_name: 'push',
    ...overrides,
  }
}

function request(action: string, context: Record<string, unknown> = {}, requester: RequesterClaims | null = null): PolicyRequest {
  return { action, context, requester_claims: requester }
}

const DEFAULTS = { block_self_approval: true }

const POLICY = policyOf(`groups:
  sre: [alice@example.com, bob@example.com]
  security: [carol@example.com, bob@example.com]
rules:
  - name: main-branch prod
    match:
      action: deploy-prod*
      requester: { repository: "acme/*", ref: refs/heads/main }
    approvers: { required: 2, groups: [sre] }
    max_timeout: 30m
  - name: eu prod
    match: { action: ["deploy-prod-eu", "deploy-prod-??"], context: { region: [eu-west-1, eu-central-1], replicas: [3] } }
    approvers: { all_of: [{ group: sre, required: 1 }, { group: security, required: 1 }] }
    block_self_approval: false
    require_reason: both
    reject: quorum
    windows: [{ days: [mon], from: "09:00", to: "10:00", time_zone: UTC }]
  - name: any deploy
    match: { action: "deploy-*" }
    approvers: { required: 1, members: [Dave@Example.com], groups: [security] }
default:
  approvers: { required: 1 }
  block_self_approval: false
  max_timeout: 4h
`)

describe('resolvePolicy', () => {
  it('without a policy applies the seed rule: any one member, the project setting for self-approval', () => {
    expect(resolvePolicy(null, null, request('anything'), { block_self_approval: false })).toEqual({
      version: null,
      rule: 'default',
      requirements: [{ name: 'approvers', members: null, required: 1 }],
      block_self_approval: false,
      require_reason: 'none',
      reject: 'any',
      windows: [],
    })
    expect(resolvePolicy(null, 7, request('anything'), DEFAULTS)).toMatchObject({ version: null, block_self_approval: true })
  })

  it('applies the first rule that matches, in document order', () => {
    const prodMain = request('deploy-prod-eu', { region: 'eu-west-1', replicas: 3 }, claims({}))
    expect(resolvePolicy(POLICY, 4, prodMain, DEFAULTS)).toMatchObject({ version: 4, rule: 'main-branch prod' })
    // Same action and context from another branch: the first rule does not match, the second does.
    const prodBranch = request('deploy-prod-eu', { region: 'eu-west-1', replicas: 3 }, claims({ ref: 'refs/heads/feature' }))
    expect(resolvePolicy(POLICY, 4, prodBranch, DEFAULTS).rule).toBe('eu prod')
    expect(resolvePolicy(POLICY, 4, request('deploy-staging'), DEFAULTS).rule).toBe('any deploy')
    expect(resolvePolicy(POLICY, 4, request('rotate-keys'), DEFAULTS).rule).toBe('default')
  })

  it('matches requester conditions only against verified claims: a request without them never matches', () => {
    expect(resolvePolicy(POLICY, 1, request('deploy-prod-us'), DEFAULTS).rule).toBe('any deploy')
    expect(resolvePolicy(POLICY, 1, request('deploy-prod-us', { repository: 'acme/app', ref: 'refs/heads/main' }), DEFAULTS).rule).toBe('any deploy')
    expect(resolvePolicy(POLICY, 1, request('deploy-prod-us', {}, claims({ repository: 'evil/app' })), DEFAULTS).rule).toBe('any deploy')
    expect(resolvePolicy(POLICY, 1, request('deploy-prod-us', {}, claims({ ref: null })), DEFAULTS).rule).toBe('any deploy')
  })

  it('matches context values as text, and only top-level scalars', () => {
    const at = (context: Record<string, unknown>): string => resolvePolicy(POLICY, 1, request('deploy-prod-de', context), DEFAULTS).rule
    expect(at({ region: 'eu-central-1', replicas: '3' })).toBe('eu prod')
    expect(at({ region: 'eu-central-1', replicas: 3 })).toBe('eu prod')
    expect(at({ region: 'us-east-1', replicas: 3 })).toBe('any deploy')
    expect(at({ region: 'eu-central-1' })).toBe('any deploy')
    expect(at({ region: ['eu-central-1'], replicas: 3 })).toBe('any deploy')
    expect(at({ region: { name: 'eu-central-1' }, replicas: 3 })).toBe('any deploy')
  })

  it('resolves groups to their members once, and carries the rule body', () => {
    const euProd = resolvePolicy(POLICY, 2, request('deploy-prod-eu', { region: 'eu-west-1', replicas: 3 }), DEFAULTS)
    expect(euProd).toEqual({
      version: 2,
      rule: 'eu prod',
      requirements: [
        { name: 'sre', members: ['alice@example.com', 'bob@example.com'], required: 1 },
        { name: 'security', members: ['carol@example.com', 'bob@example.com'], required: 1 },
      ],
      block_self_approval: false,
      require_reason: 'both',
      reject: 'quorum',
      windows: [{ days: ['mon'], from: '09:00', to: '10:00', time_zone: 'UTC' }],
    })
    const anyDeploy = resolvePolicy(POLICY, 2, request('deploy-x'), DEFAULTS)
    expect(anyDeploy.requirements).toEqual([{ name: 'approvers', members: ['dave@example.com', 'carol@example.com', 'bob@example.com'], required: 1 }])
    // The rule does not say: the project's setting applies.
    expect(anyDeploy.block_self_approval).toBe(true)
    expect(resolvePolicy(POLICY, 2, request('deploy-x'), { block_self_approval: false }).block_self_approval).toBe(false)
    // The document's default says false: it wins over the project's setting.
    expect(resolvePolicy(POLICY, 2, request('other'), DEFAULTS).block_self_approval).toBe(false)
  })

  it('gives the applying rule\'s max_timeout, or null', () => {
    expect(maxTimeoutMs(POLICY, request('deploy-prod-x', {}, claims({})))).toBe(1_800_000)
    expect(maxTimeoutMs(POLICY, request('deploy-x'))).toBeNull()
    expect(maxTimeoutMs(POLICY, request('other'))).toBe(14_400_000)
    expect(maxTimeoutMs(null, request('other'))).toBeNull()
  })
})
