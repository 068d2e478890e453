import { describe, expect, it } from '@jest/globals'
import { defaultAgent, deriveIdempotencyKey, readRunContext } from '../../src/action/github-context.js'

const ENV = {
  GITHUB_REPOSITORY: 'octo/shop',
  GITHUB_WORKFLOW: 'Deploy',
  GITHUB_JOB: 'release',
  GITHUB_RUN_ID: '42',
  GITHUB_RUN_ATTEMPT: '3',
  GITHUB_SERVER_URL: 'https://ghe.example.com/',
  GITHUB_SHA: 'abc123',
  GITHUB_REF: 'refs/tags/v1',
  GITHUB_ACTOR: 'mona',
  GITHUB_TRIGGERING_ACTOR: 'hubot',
  GITHUB_EVENT_NAME: 'workflow_dispatch',
}

describe('readRunContext', () => {
  it('reads the run from the runner environment', () => {
    expect(readRunContext(ENV)).toEqual({
      repository: 'octo/shop',
      workflow: 'Deploy',
      job: 'release',
      run_id: '42',
      run_attempt: '3',
      run_url: 'https://ghe.example.com/octo/shop/actions/runs/42',
      sha: 'abc123',
      ref: 'refs/tags/v1',
      actor: 'mona',
      triggering_actor: 'hubot',
      event: 'workflow_dispatch',
    })
  })

  it('defaults the server to github.com and leaves out what is missing or blank', () => {
    expect(readRunContext({ GITHUB_REPOSITORY: 'o/r', GITHUB_RUN_ID: '7', GITHUB_ACTOR: '  ' })).toEqual({
      repository: 'o/r',
      run_id: '7',
      run_url: 'https://github.com/o/r/actions/runs/7',
    })
  })

  it('does not throw outside a runner', () => {
    expect(readRunContext({})).toEqual({})
  })
})

describe('defaultAgent', () => {
  it('names the repository, workflow and job', () => {
    expect(defaultAgent(readRunContext(ENV))).toBe('github-actions:octo/shop/Deploy#release')
    expect(defaultAgent({ repository: 'o/r' })).toBe('github-actions:o/r')
    expect(defaultAgent({})).toBe('github-actions')
  })
})

describe('deriveIdempotencyKey', () => {
  const run = readRunContext(ENV)

  it('is stable for the same run, step, action and context', () => {
    const key = deriveIdempotencyKey(run, '__self', 'deploy', '{}')
    expect(key).toMatch(/^gha-[0-9a-f]{40}$/)
    expect(deriveIdempotencyKey(readRunContext({ ...ENV }), '__self', 'deploy', '{}')).toBe(key)
  })

  it('differs when any part differs', () => {
    const key = deriveIdempotencyKey(run, '__self', 'deploy', '{}')
    expect(deriveIdempotencyKey({ ...run, run_attempt: '4' }, '__self', 'deploy', '{}')).not.toBe(key)
    expect(deriveIdempotencyKey({ ...run, job: 'other' }, '__self', 'deploy', '{}')).not.toBe(key)
    expect(deriveIdempotencyKey(run, '__self_2', 'deploy', '{}')).not.toBe(key)
    expect(deriveIdempotencyKey(run, '__self', 'deploy2', '{}')).not.toBe(key)
    expect(deriveIdempotencyKey(run, '__self', 'deploy', '{"leg":1}')).not.toBe(key)
  })

  it('is undefined without a run identity', () => {
    expect(deriveIdempotencyKey({}, undefined, 'deploy', '{}')).toBeUndefined()
  })
})
