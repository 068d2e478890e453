import { afterAll, describe, expect, it } from '@jest/globals'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { contextFrom } from '../../__fixtures__/github-context.js'
import { defaultAgent, deriveIdempotencyKey, gateIdentity, pullRequestOf, readRunContext as readRunContextOf } from '../../src/action/github-context.js'

/** The run context as the action reads it on a runner with this environment. */
function readRunContext(env: Record<string, string>) {
  return readRunContextOf(contextFrom(env), env)
}

const eventDir = mkdtempSync(join(tmpdir(), 'approval-gate-event-'))
afterAll(() => rmSync(eventDir, { recursive: true, force: true }))
let events = 0
/** A `GITHUB_EVENT_PATH` file holding `payload`. */
function eventFile(payload: unknown): string {
  const path = join(eventDir, `event-${++events}.json`)
  writeFileSync(path, JSON.stringify(payload))
  return path
}

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

describe('pullRequestOf', () => {
  it('finds the pull request of pull_request and pull_request_target events', () => {
    for (const event of ['pull_request', 'pull_request_target', 'pull_request_review']) {
      const context = contextFrom({ ...ENV, GITHUB_EVENT_NAME: event, GITHUB_EVENT_PATH: eventFile({ action: 'opened', pull_request: { number: 17 } }) })
      expect(pullRequestOf(context)).toEqual({ owner: 'octo', repo: 'shop', number: 17 })
    }
  })

  it('finds the pull request of a comment on one, but not of a comment on an issue', () => {
    const onPull = contextFrom({ ...ENV, GITHUB_EVENT_NAME: 'issue_comment', GITHUB_EVENT_PATH: eventFile({ issue: { number: 5, pull_request: { url: 'x' } } }) })
    expect(pullRequestOf(onPull)).toEqual({ owner: 'octo', repo: 'shop', number: 5 })
    const onIssue = contextFrom({ ...ENV, GITHUB_EVENT_NAME: 'issue_comment', GITHUB_EVENT_PATH: eventFile({ issue: { number: 6 } }) })
    expect(pullRequestOf(onIssue)).toBeUndefined()
  })

  it('is undefined for other events, odd payloads and outside a runner', () => {
    expect(pullRequestOf(contextFrom({ ...ENV, GITHUB_EVENT_PATH: eventFile({ ref: 'refs/heads/main' }) }))).toBeUndefined()
    expect(pullRequestOf(contextFrom({ ...ENV, GITHUB_EVENT_PATH: eventFile({ pull_request: { number: '17' } }) }))).toBeUndefined()
    expect(pullRequestOf(contextFrom({ ...ENV, GITHUB_EVENT_PATH: eventFile({ pull_request: { number: -1 } }) }))).toBeUndefined()
    expect(pullRequestOf(contextFrom({}))).toBeUndefined()
  })

  it('takes the repository from the payload when GITHUB_REPOSITORY is missing', () => {
    const context = contextFrom({ GITHUB_EVENT_PATH: eventFile({ pull_request: { number: 3 }, repository: { name: 'shop', owner: { login: 'octo' } } }) })
    expect(pullRequestOf(context)).toEqual({ owner: 'octo', repo: 'shop', number: 3 })
  })
})

describe('gateIdentity', () => {
  it('is the same for every run and attempt of a gate, and differs between gates', () => {
    const id = gateIdentity(readRunContext(ENV), '__self', 'deploy', '{}')
    expect(gateIdentity(readRunContext({ ...ENV, GITHUB_RUN_ID: '43', GITHUB_RUN_ATTEMPT: '1' }), '__self', 'deploy', '{}')).toBe(id)
    expect(gateIdentity(readRunContext(ENV), '__self', 'deploy', '{"leg":1}')).not.toBe(id)
    expect(gateIdentity(readRunContext(ENV), '__self', 'deploy-2', '{}')).not.toBe(id)
    expect(gateIdentity(readRunContext({ ...ENV, GITHUB_JOB: 'other' }), '__self', 'deploy', '{}')).not.toBe(id)
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
