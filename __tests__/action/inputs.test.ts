import { afterAll, beforeEach, describe, expect, it, jest } from '@jest/globals'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import * as core from '../../__fixtures__/core.js'

jest.unstable_mockModule('@actions/core', () => core)
const { getCredentials, getSettings: getSettingsFor, InvalidInputsError } = await import('../../src/action/inputs.js')
const { contextFrom } = await import('../../__fixtures__/github-context.js')

/** The settings on a runner with this environment (the run context read from it through @actions/github). */
function getSettings(env: Record<string, string | undefined>) {
  return getSettingsFor(env, contextFrom(env))
}
const { MAX_CONTEXT_BYTES } = await import('../../src/client/index.js')

const RUN_ENV = {
  GITHUB_REPOSITORY: 'octo/shop',
  GITHUB_WORKFLOW: 'Deploy',
  GITHUB_JOB: 'release',
  GITHUB_RUN_ID: '1234',
  GITHUB_RUN_ATTEMPT: '2',
  GITHUB_ACTOR: 'mona',
  GITHUB_ACTION: '__self',
}
const VALID = { action: 'deploy-production', 'api-key': 'ag_secret_key' }

/** The single problem `getSettings` reports for the given inputs. */
function problemsFor(inputs: Record<string, string>, env: Record<string, string> = RUN_ENV): string[] {
  core.setInputs(inputs)
  try {
    getSettings(env)
  } catch (error) {
    expect(error).toBeInstanceOf(InvalidInputsError)
    return (error as InstanceType<typeof InvalidInputsError>).problems
  }
  throw new Error('expected invalid inputs')
}

describe('getSettings', () => {
  beforeEach(() => core.resetCore())

  it('applies the documented defaults', () => {
    core.setInputs(VALID)
    const settings = getSettings(RUN_ENV)
    expect(settings).toMatchObject({
      action: 'deploy-production',
      timeoutMs: 3_600_000,
      pollIntervalMs: 5_000,
      connectTimeoutMs: 30_000,
      apiUrl: undefined,
      apiKey: 'ag_secret_key',
      agent: 'github-actions:octo/shop/Deploy#release',
      failOnReject: true,
      failOnTimeout: true,
      jobSummary: true,
    })
    expect(settings.context).toEqual({ github: expect.objectContaining({ repository: 'octo/shop', actor: 'mona', run_id: '1234', run_attempt: '2' }) })
    expect(settings.idempotencyKey).toMatch(/^gha-[0-9a-f]{40}$/)
  })

  it('reads every input', () => {
    core.setInputs({
      ...VALID,
      context: '{"environment":"production","version":"1.2.3"}',
      timeout: '1h30m',
      'poll-interval': '10',
      'connect-timeout': '2m',
      'api-url': 'https://approvals.example.com/',
      agent: 'release-bot',
      'idempotency-key': 'release-1.2.3',
      'attach-github-context': 'false',
      'fail-on-reject': 'False',
      'fail-on-timeout': 'FALSE',
      'job-summary': 'false',
    })
    expect(getSettings(RUN_ENV)).toEqual({
      action: 'deploy-production',
      context: { environment: 'production', version: '1.2.3' },
      timeoutMs: 5_400_000,
      pollIntervalMs: 10_000,
      connectTimeoutMs: 120_000,
      apiUrl: 'https://approvals.example.com/',
      apiKey: 'ag_secret_key',
      auth: 'api-key',
      agent: 'release-bot',
      idempotencyKey: 'release-1.2.3',
      failOnReject: false,
      failOnTimeout: false,
      jobSummary: false,
    })
  })

  it('masks the key, from the input or from the environment', () => {
    core.setInputs(VALID)
    getSettings(RUN_ENV)
    expect(core.setSecret).toHaveBeenCalledWith('ag_secret_key')

    core.resetCore()
    core.setInputs({ action: 'deploy' })
    expect(getSettings({ ...RUN_ENV, JAMJET_API_KEY: 'jj_from_env' }).apiKey).toBe('jj_from_env')
    expect(core.setSecret).toHaveBeenCalledWith('jj_from_env')
    expect(getSettings({ ...RUN_ENV, APPROVAL_GATE_API_KEY: 'ag_first', JAMJET_API_KEY: 'jj_second' }).apiKey).toBe('ag_first')
  })

  it('lets the run context win over a user-supplied "github" key, with a warning', () => {
    core.setInputs({ ...VALID, context: '{"github":{"actor":"someone-else"},"x":1}' })
    const settings = getSettings(RUN_ENV)
    expect(settings.context).toEqual({ x: 1, github: expect.objectContaining({ actor: 'mona' }) })
    expect(core.warning).toHaveBeenCalledWith(expect.stringContaining('"github" key'))
  })

  it('derives a stable idempotency key that changes with the attempt, the action and the context', () => {
    const keyFor = (inputs: Record<string, string>, env: Record<string, string> = RUN_ENV): string | undefined => {
      core.setInputs(inputs)
      return getSettings(env).idempotencyKey
    }
    const first = keyFor(VALID)
    expect(keyFor(VALID)).toBe(first)
    expect(keyFor(VALID, { ...RUN_ENV, GITHUB_RUN_ATTEMPT: '3' })).not.toBe(first)
    expect(keyFor({ ...VALID, action: 'deploy-staging' })).not.toBe(first)
    expect(keyFor({ ...VALID, context: '{"leg":"eu"}' })).not.toBe(keyFor({ ...VALID, context: '{"leg":"us"}' }))
    // Outside a runner there is no stable identity: the core generates one per call.
    expect(keyFor(VALID, {})).toBeUndefined()
  })

  it('works outside a runner', () => {
    core.setInputs(VALID)
    const settings = getSettings({})
    expect(settings.agent).toBe('github-actions')
    expect(settings.context).toEqual({ github: {} })
  })

  it.each([
    ['action', { 'api-key': 'k' }, /Input "action" is required/],
    ['action', { ...VALID, action: 'a'.repeat(201) }, /Input "action" is 201 characters long; the limit is 200/],
    ['action', { ...VALID, action: 'deploy\u0007now' }, /Input "action" contains control characters/],
    ['context', { ...VALID, context: '{not json' }, /Input "context" is not valid JSON .*for example/],
    ['context', { ...VALID, context: '[1,2]' }, /Input "context" must be a JSON object .*not an array/],
    ['context', { ...VALID, context: 'null' }, /not null/],
    ['context', { ...VALID, context: '"text"' }, /not a string/],
    ['context', { ...VALID, context: '42' }, /not a number/],
    ['context', { ...VALID, context: JSON.stringify({ blob: 'x'.repeat(MAX_CONTEXT_BYTES) }) }, /Input "context" is \d+ bytes; the limit is 65536 bytes/],
    ['timeout', { ...VALID, timeout: 'soon' }, /Input "timeout" is invalid: "soon" is not a duration/],
    ['timeout', { ...VALID, timeout: '0' }, /Input "timeout" is invalid: "0" is zero/],
    ['timeout', { ...VALID, timeout: '-5m' }, /Input "timeout" is invalid: .*negative/],
    ['timeout', { ...VALID, timeout: '9999h' }, /Input "timeout" is invalid: .*too long/],
    ['poll-interval', { ...VALID, 'poll-interval': '5 parsecs' }, /Input "poll-interval" is invalid/],
    ['poll-interval', { ...VALID, 'poll-interval': '100ms' }, /Input "poll-interval" is 100ms; the minimum is 1000ms/],
    ['api-url', { ...VALID, 'api-url': 'not a url' }, /Input "api-url" is not a valid URL/],
    ['api-url', { ...VALID, 'api-url': 'ftp://example.com' }, /Input "api-url" must use http or https/],
    ['api-url', { ...VALID, 'api-url': 'https://user:pw@example.com' }, /Input "api-url" must not contain credentials/],
    ['api-url', { ...VALID, 'api-url': 'https://example.com/?x=1' }, /Input "api-url" must not contain a query string/],
    ['api-key', { action: 'deploy' }, /Input "api-key" is required: .*APPROVAL_GATE_API_KEY or JAMJET_API_KEY/],
    ['api-key', { action: 'deploy', 'api-key': 'two words' }, /Input "api-key" contains spaces/],
    ['agent', { ...VALID, agent: 'x'.repeat(201) }, /Input "agent" is 201 characters/],
    ['idempotency-key', { ...VALID, 'idempotency-key': 'has space' }, /Input "idempotency-key" must be 1-200 visible ASCII/],
    ['attach-github-context', { ...VALID, 'attach-github-context': 'yes' }, /Input "attach-github-context" must be true or false, got "yes"/],
    ['fail-on-reject', { ...VALID, 'fail-on-reject': '1' }, /Input "fail-on-reject" must be true or false/],
    ['fail-on-timeout', { ...VALID, 'fail-on-timeout': 'nope' }, /Input "fail-on-timeout" must be true or false/],
    ['job-summary', { ...VALID, 'job-summary': 'off' }, /Input "job-summary" must be true or false/],
  ])('rejects a bad %s', (_input, inputs, message) => {
    const problems = problemsFor(inputs)
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(message)
  })

  it('never echoes the key in a problem', () => {
    const problems = problemsFor({ action: 'deploy', 'api-key': 'hunter2\nsecond-line' })
    expect(problems.join('\n')).not.toMatch(/hunter2|second-line/)
    expect(core.setSecret).toHaveBeenCalledWith('hunter2')
    expect(core.setSecret).toHaveBeenCalledWith('second-line')
  })

  it('reports every invalid input at once', () => {
    const problems = problemsFor({ context: '[]', timeout: 'x', 'fail-on-reject': 'maybe' })
    expect(problems.map((problem) => problem.match(/^Input "([^"]+)"/)?.[1])).toEqual(['api-key', 'action', 'context', 'timeout', 'fail-on-reject'])
    core.setInputs({ context: '[]', timeout: 'x', 'fail-on-reject': 'maybe' })
    expect(() => getSettings(RUN_ENV)).toThrow(/^5 inputs are invalid:\n- Input "api-key"/)
  })

  it('checks the size of the context as sent, with the run context attached', () => {
    const nearlyFull = JSON.stringify({ blob: 'x'.repeat(MAX_CONTEXT_BYTES - 20) })
    expect(problemsFor({ ...VALID, context: nearlyFull })[0]).toMatch(/as sent, with the run context attached/)
    core.setInputs({ ...VALID, context: nearlyFull, 'attach-github-context': 'false' })
    expect(getSettings(RUN_ENV).context).toEqual(JSON.parse(nearlyFull))
  })

  it('warns about plain http to a non-loopback host but accepts it', () => {
    core.setInputs({ ...VALID, 'api-url': 'http://approvals.internal:8080' })
    expect(getSettings(RUN_ENV).apiUrl).toBe('http://approvals.internal:8080')
    expect(core.warning).toHaveBeenCalledWith(expect.stringContaining('plain http'))
    core.resetCore()
    core.setInputs({ ...VALID, 'api-url': 'http://127.0.0.1:8080' })
    getSettings(RUN_ENV)
    expect(core.warning).not.toHaveBeenCalled()
  })
})

describe('github-token: the pull request comment', () => {
  beforeEach(() => core.resetCore())
  const eventDir = mkdtempSync(join(tmpdir(), 'approval-gate-inputs-event-'))
  afterAll(() => rmSync(eventDir, { recursive: true, force: true }))
  const pullRequestEnv = (payload: unknown): Record<string, string> => {
    const path = join(eventDir, `event-${Math.random().toString(36).slice(2)}.json`)
    writeFileSync(path, JSON.stringify(payload))
    return { ...RUN_ENV, GITHUB_EVENT_NAME: 'pull_request', GITHUB_EVENT_PATH: path }
  }

  it('comments on the run\'s pull request with the token, masked, under an identity shared by re-runs', () => {
    core.setInputs({ ...VALID, 'github-token': 'ghs_token_abc' })
    const settings = getSettings(pullRequestEnv({ pull_request: { number: 12 } }))
    expect(settings.pullRequestComment).toEqual({
      token: 'ghs_token_abc',
      pullRequest: { owner: 'octo', repo: 'shop', number: 12 },
      gateId: expect.stringMatching(/^[0-9a-f]{40}$/),
      runUrl: 'https://github.com/octo/shop/actions/runs/1234',
    })
    expect(core.setSecret).toHaveBeenCalledWith('ghs_token_abc')
    const rerun = getSettings({ ...pullRequestEnv({ pull_request: { number: 12 } }), GITHUB_RUN_ATTEMPT: '3' })
    expect(rerun.pullRequestComment?.gateId).toBe(settings.pullRequestComment?.gateId)
    expect(rerun.idempotencyKey).not.toBe(settings.idempotencyKey)
  })

  it('does not comment without a pull request or without a token', () => {
    core.setInputs({ ...VALID, 'github-token': 'ghs_token_abc' })
    expect(getSettings(RUN_ENV).pullRequestComment).toBeUndefined()
    core.setInputs(VALID)
    expect(getSettings(pullRequestEnv({ pull_request: { number: 12 } })).pullRequestComment).toBeUndefined()
  })

  it('refuses a token with spaces or line breaks, masking every line and echoing none', () => {
    expect(problemsFor({ ...VALID, 'github-token': 'ghs_one\nghs_two' })).toEqual([expect.stringMatching(/^Input "github-token" contains spaces or line breaks/)])
    expect(core.setSecret).toHaveBeenCalledWith('ghs_one')
    expect(core.setSecret).toHaveBeenCalledWith('ghs_two')
    expect(core.setFailed).not.toHaveBeenCalled()
  })
})

describe('getCredentials', () => {
  beforeEach(() => core.resetCore())

  it('reads only the URL and the key (what the post step needs)', () => {
    core.setInputs({ 'api-url': 'https://a.example', 'api-key': 'k1', context: 'broken' })
    expect(getCredentials({})).toEqual({ apiUrl: 'https://a.example', apiKey: 'k1', auth: 'api-key' })
  })
})

describe('auth: api key or the workflow\'s OIDC token', () => {
  beforeEach(() => core.resetCore())
  const runner = { ACTIONS_ID_TOKEN_REQUEST_URL: 'http://127.0.0.1:1/token', ACTIONS_ID_TOKEN_REQUEST_TOKEN: 'runner-token' }

  it('auto uses the key when one is given, even when the runner offers a token', () => {
    core.setInputs({ 'api-url': 'https://gate.example.com', 'api-key': 'k1' })
    expect(getCredentials(runner)).toEqual({ apiUrl: 'https://gate.example.com', apiKey: 'k1', auth: 'api-key' })
  })

  it('auto uses the OIDC token without a key, its audience the API URL\'s origin by default', () => {
    core.setInputs({ 'api-url': 'https://gate.example.com/base/' })
    expect(getCredentials(runner)).toEqual({ apiUrl: 'https://gate.example.com/base/', apiKey: '', auth: 'oidc', oidcAudience: 'https://gate.example.com' })
    core.setInputs({ 'api-url': 'https://gate.example.com', 'oidc-audience': 'approval-gate:main' })
    expect(getCredentials(runner).oidcAudience).toBe('approval-gate:main')
    core.setInputs({})
    expect(getCredentials({ ...runner, APPROVAL_GATE_API_URL: 'https://env.example.com' })).toMatchObject({ auth: 'oidc', oidcAudience: 'https://env.example.com' })
  })

  it('says how to add permissions: id-token: write when neither a key nor a token is available', () => {
    core.setInputs({ 'api-url': 'https://gate.example.com' })
    expect(() => getCredentials({})).toThrow(/Input "api-key" is required.*permissions: id-token: write/)
    core.setInputs({ 'api-url': 'https://gate.example.com', auth: 'oidc' })
    expect(() => getCredentials({})).toThrow(/Input "auth" is oidc, but the runner offers no OIDC token: add `permissions: id-token: write`/)
  })

  it('needs an API URL for OIDC, refuses unknown modes, and api-key mode never uses the token', () => {
    core.setInputs({})
    expect(() => getCredentials(runner)).toThrow(/Input "api-url" is required with OIDC/)
    core.setInputs({ 'api-url': 'https://gate.example.com', auth: 'keyless' })
    expect(() => getCredentials(runner)).toThrow(/Input "auth" must be auto, oidc or api-key/)
    core.setInputs({ 'api-url': 'https://gate.example.com', auth: 'api-key' })
    expect(() => getCredentials(runner)).toThrow(/Input "api-key" is required/)
  })
})

describe('a self-hosted key without api-url', () => {
  beforeEach(() => core.resetCore())

  it('is an input problem naming api-url, before any request', () => {
    const problems = problemsFor({ action: 'deploy', 'api-key': 'agk_self_hosted_1' })
    expect(problems).toHaveLength(1)
    expect(problems[0]).toMatch(/^Input "api-url" is required with a self-hosted key \(agk_…\)/)
    expect(problems[0]).not.toContain('agk_self_hosted_1')
  })

  it('names a typo’d spelling of the input (api_url:) that the runner passed through', () => {
    const problems = problemsFor({ action: 'deploy', 'api-key': 'agk_self_hosted_1' }, { ...RUN_ENV, INPUT_API_URL: 'https://approvals.example.com' })
    expect(problems[0]).toContain('The workflow sets "api_url": the input is spelled api-url.')
  })

  it('is fine with APPROVAL_GATE_API_URL set, or with a JamJet key', () => {
    core.setInputs({ action: 'deploy', 'api-key': 'agk_self_hosted_1' })
    expect(getSettings({ ...RUN_ENV, APPROVAL_GATE_API_URL: 'https://approvals.example.com' }).apiUrl).toBeUndefined()
    core.setInputs({ action: 'deploy', 'api-key': 'jj_live_1' })
    expect(getSettings(RUN_ENV).apiUrl).toBeUndefined()
  })

  it('warns about any misspelled input, e.g. fail_on_reject', () => {
    core.setInputs(VALID)
    getSettings({ ...RUN_ENV, 'INPUT_FAIL_ON_REJECT': 'false' })
    expect(core.warning).toHaveBeenCalledWith(expect.stringContaining('"fail_on_reject", which is not an input of this action: did you mean fail-on-reject?'))
  })
})
