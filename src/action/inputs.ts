/**
 * Reads and validates every input of `action.yml` exactly once, into `GateSettings`.
 * Nothing else in the action calls `core.getInput`. Every problem is collected, so a user
 * fixes all of them in one go, and nothing is sent anywhere until all inputs are valid.
 */
import * as core from '@actions/core'
import { ApprovalError, DEFAULT_API_URL, MAX_ACTION_LENGTH, MAX_CONTEXT_BYTES, normaliseApiUrl, type SettingNames } from '../client/index.js'
import { DEFAULT_TIMEOUT_TEXT } from '../contract/index.js'

/** The `connect-timeout` default, as action.yml writes it. */
export const DEFAULT_CONNECT_TIMEOUT_TEXT = '30s'
import { InvalidDurationError, parseDuration } from '../shared/duration.js'
import * as github from '@actions/github'
import { defaultAgent, deriveIdempotencyKey, gateIdentity, pullRequestOf, readRunContext, type RunContext, type WorkflowContext } from './github-context.js'
import type { ApiCredentials, GateSettings, PullRequestCommentSettings } from './settings.js'

/** Longest `action`/`agent`/`idempotency-key` accepted (the core's and the server's limit). */
export const MAX_NAME_LENGTH = MAX_ACTION_LENGTH
/** Shortest `poll-interval`: faster polling only loads the API (our server long-polls anyway). */
export const MIN_POLL_INTERVAL_MS = 1_000
/** Environment variables that may hold the key instead of the `api-key` input, in order. */
export const API_KEY_ENV_VARS = ['APPROVAL_GATE_API_KEY', 'JAMJET_API_KEY'] as const
/** Environment variables the core reads for the URL when the `api-url` input is empty. */
export const API_URL_ENV_VARS = ['APPROVAL_GATE_API_URL', 'JAMJET_API_URL'] as const
/** How the core's hints name the settings in a workflow. */
export const ACTION_SETTING_NAMES: SettingNames = { apiUrl: 'the api-url input', apiKey: 'the api-key input' }
/** Every input of action.yml (a typo'd one such as `api_url:` reaches us as an unknown `INPUT_*` variable). */
export const INPUT_NAMES = [
  'action',
  'context',
  'timeout',
  'connect-timeout',
  'poll-interval',
  'api-url',
  'api-key',
  'agent',
  'attach-github-context',
  'fail-on-reject',
  'fail-on-timeout',
  'job-summary',
  'idempotency-key',
  'auth',
  'oidc-audience',
  'github-token',
] as const

/** Values of the `auth` input. */
export const AUTH_MODES = ['auto', 'oidc', 'api-key'] as const

/** One or more inputs are invalid. `problems` holds one line per input, each naming it and the fix. */
export class InvalidInputsError extends Error {
  readonly problems: string[]

  constructor(problems: string[]) {
    super(problems.length === 1 ? problems[0] : `${problems.length} inputs are invalid:\n- ${problems.join('\n- ')}`)
    this.name = 'InvalidInputsError'
    this.problems = problems
  }
}

// eslint-disable-next-line no-control-regex -- rejecting control characters is the point
const CONTROL_CHARACTERS = /[\u0000-\u001f\u007f-\u009f]/
const VISIBLE_ASCII = /^[\x21-\x7e]+$/

/**
 * Reads all inputs into `GateSettings`; the run comes from `workflow` (`@actions/github`'s context).
 * @throws InvalidInputsError listing every invalid input; no request has been made.
 */
export function getSettings(env: Record<string, string | undefined> = process.env, workflow: WorkflowContext = github.context): GateSettings {
  for (const typo of misspelledInputs(env)) core.warning(`The workflow sets "${typo.given}", which is not an input of this action: did you mean ${typo.input}? It is ignored.`)
  const inputs = readInputs(env)
  const run = readRunContext(workflow, env)
  const { credentials, userContext, agentInput, idempotencyKeyInput, attachGithubContext, githubToken, ...rest } = inputs
  const discriminator = JSON.stringify(userContext)
  const pullRequestComment = commentSettings(githubToken, workflow, run, gateIdentity(run, env.GITHUB_ACTION, rest.action, discriminator))
  return {
    ...rest,
    context: withRunContext(userContext, run, attachGithubContext),
    apiUrl: credentials.apiUrl,
    apiKey: credentials.apiKey,
    auth: credentials.auth,
    ...(credentials.oidcAudience !== undefined ? { oidcAudience: credentials.oidcAudience } : {}),
    agent: agentInput ?? defaultAgent(run),
    idempotencyKey: idempotencyKeyInput ?? deriveIdempotencyKey(run, env.GITHUB_ACTION, rest.action, discriminator),
    ...(pullRequestComment ? { pullRequestComment } : {}),
  }
}

/** Where to comment, when the run belongs to a pull request and there is a token to comment with. */
function commentSettings(token: string | undefined, workflow: WorkflowContext, run: RunContext, gateId: string): PullRequestCommentSettings | undefined {
  if (token === undefined) return undefined
  const pullRequest = pullRequestOf(workflow)
  if (pullRequest === undefined) {
    core.debug('This run does not belong to a pull request: no pull request comment.')
    return undefined
  }
  return { token, pullRequest, gateId, ...(run.run_url ? { runUrl: run.run_url } : {}) }
}

/** Every input, each validated on its own; all problems are collected before throwing. */
function readInputs(env: Record<string, string | undefined>) {
  const problems: string[] = []
  const attempt = <T>(fn: () => T): T => {
    try {
      return fn()
    } catch (error) {
      if (error instanceof InvalidInputsError) problems.push(...error.problems)
      else if (error instanceof InputProblem) problems.push(error.message)
      else throw error
      return undefined as T // never returned: the problems are thrown below
    }
  }
  const inputs = {
    credentials: attempt(() => getCredentials(env)),
    action: attempt(readAction),
    userContext: attempt(readContext),
    timeoutMs: attempt(() => readDuration('timeout', DEFAULT_TIMEOUT_TEXT)),
    pollIntervalMs: attempt(() => readDuration('poll-interval', '5s', MIN_POLL_INTERVAL_MS)),
    connectTimeoutMs: attempt(() => readDuration('connect-timeout', DEFAULT_CONNECT_TIMEOUT_TEXT, MIN_POLL_INTERVAL_MS)),
    agentInput: attempt(() => readName('agent')),
    idempotencyKeyInput: attempt(readIdempotencyKey),
    attachGithubContext: attempt(() => readBoolean('attach-github-context', true)),
    failOnReject: attempt(() => readBoolean('fail-on-reject', true)),
    failOnTimeout: attempt(() => readBoolean('fail-on-timeout', true)),
    jobSummary: attempt(() => readBoolean('job-summary', true)),
    githubToken: attempt(readGithubToken),
  }
  if (problems.length > 0) throw new InvalidInputsError(problems)
  return inputs
}

/** The context as sent: the input, plus the run under `github` when attached; within the size limit. */
function withRunContext(userContext: Record<string, unknown>, run: RunContext, attach: boolean): Record<string, unknown> {
  let context = userContext
  if (attach) {
    // The run's identity must win over a user-supplied `github` key: the server's
    // self-approval rule trusts `context.github.actor`.
    if ('github' in userContext) core.warning('The "github" key of the context input was replaced by the run context (set attach-github-context: false to keep yours).')
    context = { ...userContext, github: run }
  }
  const contextBytes = Buffer.byteLength(JSON.stringify(context), 'utf8')
  if (contextBytes > MAX_CONTEXT_BYTES) {
    throw new InvalidInputsError([
      `Input "context" is ${contextBytes} bytes as sent, with the run context attached; the limit is ${MAX_CONTEXT_BYTES} bytes (64 KB). Attach less, or set attach-github-context: false.`,
    ])
  }
  return context
}

/**
 * Reads `auth`, `api-url`, `api-key` (or the key's environment variables) and
 * `oidc-audience`, and masks the key. `auto` uses the key when there is one, else the
 * workflow's OIDC token when the runner offers one (`ACTIONS_ID_TOKEN_REQUEST_URL`).
 * Used by the main step through `getSettings` and by the post step to withdraw a request.
 * @throws InvalidInputsError when the URL is malformed or no credential is available.
 */
export function getCredentials(env: Record<string, string | undefined> = process.env): ApiCredentials {
  const problems: string[] = []
  const attempt = <T>(fn: () => T): T | undefined => {
    try {
      return fn()
    } catch (error) {
      if (!(error instanceof InputProblem)) throw error
      problems.push(error.message)
      return undefined
    }
  }
  const apiUrl = attempt(readApiUrl)
  const mode = attempt(readAuthMode)
  const givenKey = attempt(() => findApiKey(env))
  if (problems.length > 0) throw new InvalidInputsError(problems)
  const runnerOffersToken = (env.ACTIONS_ID_TOKEN_REQUEST_URL ?? '').trim() !== ''
  // auto: the key when there is one, else the runner's OIDC token, else "api-key is required" (saying how to go keyless).
  const auth = mode === 'api-key' || (mode === 'auto' && (givenKey !== undefined || !runnerOffersToken)) ? 'api-key' : 'oidc'
  if (auth === 'api-key') {
    const apiKey = attempt(() => givenKey ?? missingApiKey(mode === 'auto'))
    if (problems.length === 0) attempt(() => requireUrlForSelfHostedKey(apiUrl, apiKey ?? '', env))
    if (problems.length > 0) throw new InvalidInputsError(problems)
    return { apiUrl, apiKey: apiKey ?? '', auth }
  }
  if (!runnerOffersToken) {
    attempt(() => {
      throw new InputProblem('auth', 'is oidc, but the runner offers no OIDC token: add `permissions: id-token: write` to the job (or the workflow).')
    })
  }
  const url = apiUrl ?? firstEnv(env, ['APPROVAL_GATE_API_URL'])
  if (url === undefined) attempt(() => {
    throw new InputProblem('api-url', 'is required with OIDC: set it to your approval-gate server, for example `api-url: https://approvals.example.com` (the workflow token goes only there).')
  })
  const oidcAudience = attempt(() => readOidcAudience(url))
  if (problems.length > 0) throw new InvalidInputsError(problems)
  return { apiUrl, apiKey: '', auth, oidcAudience }
}

function firstEnv(env: Record<string, string | undefined>, names: readonly string[]): string | undefined {
  for (const name of names) {
    const value = env[name]?.trim()
    if (value) return value
  }
  return undefined
}

function readAuthMode(): (typeof AUTH_MODES)[number] {
  const text = core.getInput('auth') || 'auto'
  if (!(AUTH_MODES as readonly string[]).includes(text)) throw new InputProblem('auth', `must be auto, oidc or api-key, got ${JSON.stringify(text.slice(0, 40))}.`)
  return text as (typeof AUTH_MODES)[number]
}

/** `oidc-audience`, else the API URL's origin (what `trust add --audience` names). */
function readOidcAudience(apiUrl: string | undefined): string | undefined {
  const text = core.getInput('oidc-audience')
  if (text !== '') {
    if (!/^[\x21-\x7e]{1,500}$/.test(text)) throw new InputProblem('oidc-audience', 'must be 1-500 visible ASCII characters without spaces.')
    return text
  }
  if (apiUrl === undefined) return undefined
  try {
    return new URL(normaliseApiUrl(apiUrl, 'APPROVAL_GATE_API_URL')).origin
  } catch (error) {
    if (error instanceof ApprovalError) throw new InputProblem('oidc-audience', `has no default: ${error.message.trim()}`)
    throw error
  }
}

/**
 * A self-hosted key (`agk_…`) with no URL anywhere would go to JamJet Cloud, the core's
 * default: refuse it here, naming the input (and a typo'd spelling of it, when there is one).
 */
function requireUrlForSelfHostedKey(apiUrl: string | undefined, apiKey: string, env: Record<string, string | undefined>): void {
  if (apiUrl !== undefined || !apiKey.startsWith('agk_')) return
  if (API_URL_ENV_VARS.some((name) => (env[name] ?? '').trim() !== '')) return
  const typos = misspelledInputs(env).filter((typo) => typo.input === 'api-url')
  const typo = typos.length > 0 ? ` The workflow sets ${typos.map((t) => `"${t.given}"`).join(', ')}: the input is spelled api-url.` : ''
  throw new InputProblem(
    'api-url',
    `is required with a self-hosted key (agk_…): set it to your approval-gate server, for example \`api-url: https://approvals.example.com\`. The key is never sent to JamJet Cloud (${DEFAULT_API_URL}), the default without an URL.${typo}`,
  )
}

const squash = (name: string): string => name.toLowerCase().replace(/[-_ ]/g, '')

/**
 * `INPUT_*` variables that are not our inputs but spell one differently (`api_url`, `API-URL`,
 * `apiurl`): the runner passes unknown `with:` keys through as such variables (and only warns).
 */
export function misspelledInputs(env: Record<string, string | undefined>): Array<{ given: string; input: string }> {
  const known = new Set<string>(INPUT_NAMES.map((name) => `INPUT_${name.toUpperCase()}`))
  const found: Array<{ given: string; input: string }> = []
  for (const variable of Object.keys(env)) {
    if (!variable.startsWith('INPUT_') || known.has(variable)) continue
    const given = variable.slice('INPUT_'.length)
    const input = INPUT_NAMES.find((name) => squash(name) === squash(given))
    if (input !== undefined) found.push({ given: given.toLowerCase(), input })
  }
  return found
}

/** A single input's problem; collected into `InvalidInputsError`. */
class InputProblem extends Error {
  constructor(input: string, problem: string) {
    super(`Input "${input}" ${problem}`)
  }
}

function readAction(): string {
  const action = core.getInput('action')
  if (action === '') throw new InputProblem('action', 'is required: name what needs approval, for example `action: deploy-production`.')
  return checkName('action', action)
}

function readName(input: string): string | undefined {
  const value = core.getInput(input)
  return value === '' ? undefined : checkName(input, value)
}

function checkName(input: string, value: string): string {
  if (CONTROL_CHARACTERS.test(value)) throw new InputProblem(input, 'contains control characters or line breaks: use a single line of printable text.')
  if (value.length > MAX_NAME_LENGTH) throw new InputProblem(input, `is ${value.length} characters long; the limit is ${MAX_NAME_LENGTH}. Shorten it and put details in the context input.`)
  return value
}

function readContext(): Record<string, unknown> {
  const text = core.getInput('context')
  if (text === '') return {}
  const bytes = Buffer.byteLength(text, 'utf8')
  if (bytes > MAX_CONTEXT_BYTES) {
    throw new InputProblem('context', `is ${bytes} bytes; the limit is ${MAX_CONTEXT_BYTES} bytes (64 KB). Attach less, or link to large data (for example a run artifact) instead.`)
  }
  let parsed: unknown
  try {
    parsed = JSON.parse(text)
  } catch (error) {
    const detail = error instanceof Error ? error.message : String(error)
    throw new InputProblem('context', `is not valid JSON (${detail}). Pass a JSON object, for example \`context: '{"environment": "production"}'\` or \`context: \${{ toJSON(…) }}\`.`)
  }
  if (typeof parsed !== 'object' || parsed === null || Array.isArray(parsed)) {
    const kind = parsed === null ? 'null' : Array.isArray(parsed) ? 'an array' : `a ${typeof parsed}`
    throw new InputProblem('context', `must be a JSON object ({...}), not ${kind}. Wrap the value, for example \`{"items": [...]}\`.`)
  }
  return parsed as Record<string, unknown>
}

function readDuration(input: string, fallback: string, minMs = 1): number {
  const text = core.getInput(input) || fallback
  let ms: number
  try {
    ms = parseDuration(text)
  } catch (error) {
    if (error instanceof InvalidDurationError) throw new InputProblem(input, `is invalid: ${error.message}.`)
    throw error
  }
  if (ms < minMs) throw new InputProblem(input, `is ${ms}ms; the minimum is ${minMs}ms (for example 5s).`)
  return ms
}

function readBoolean(input: string, fallback: boolean): boolean {
  const text = core.getInput(input)
  if (text === '') return fallback
  // The YAML 1.2 core schema spellings, as `core.getBooleanInput` accepts, with a clearer message.
  if (['true', 'True', 'TRUE'].includes(text)) return true
  if (['false', 'False', 'FALSE'].includes(text)) return false
  throw new InputProblem(input, `must be true or false, got ${JSON.stringify(text.slice(0, 40))}.`)
}

/**
 * `github-token` alone (masked), for the post step; `undefined` when empty.
 * @throws InvalidInputsError when it holds spaces or line breaks.
 */
export function getGithubToken(): string | undefined {
  try {
    return readGithubToken()
  } catch (error) {
    if (error instanceof InputProblem) throw new InvalidInputsError([error.message])
    throw error
  }
}

/** `github-token`, masked at once; `undefined` when empty (no pull request comment). */
function readGithubToken(): string | undefined {
  const token = core.getInput('github-token')
  if (token === '') return undefined
  for (const line of token.split(/\r?\n/)) if (line.trim()) core.setSecret(line.trim())
  if (/\s/.test(token)) throw new InputProblem('github-token', 'contains spaces or line breaks: leave it at its default (`${{ github.token }}`) or paste only the token.')
  return token
}

function readIdempotencyKey(): string | undefined {
  const key = core.getInput('idempotency-key')
  if (key === '') return undefined
  if (key.length > MAX_NAME_LENGTH || !VISIBLE_ASCII.test(key)) {
    throw new InputProblem('idempotency-key', `must be 1-${MAX_NAME_LENGTH} visible ASCII characters without spaces (it is sent as an HTTP header).`)
  }
  return key
}

function readApiUrl(): string | undefined {
  const text = core.getInput('api-url')
  if (text === '') return undefined
  try {
    // The core's own rules (http/https, no credentials, no query), so both reject the same URLs.
    normaliseApiUrl(text, '')
  } catch (error) {
    // The core names the source first; with an empty name its message reads on from the input's name.
    if (error instanceof ApprovalError) throw new InputProblem('api-url', `${error.message.trim()} (the server's base URL, for example https://approvals.example.com).`)
    throw error
  }
  const url = new URL(text)
  if (url.protocol === 'http:' && !isLoopback(url.hostname)) {
    core.warning(`api-url uses plain http (${url.host}): the API key travels unencrypted. Prefer https.`)
  }
  return text
}

function isLoopback(hostname: string): boolean {
  return hostname === 'localhost' || hostname === '[::1]' || /^127\./.test(hostname)
}

/** The key from the `api-key` input or its environment variables (masked), or `undefined`. */
function findApiKey(env: Record<string, string | undefined>): string | undefined {
  // getInput trims; mask before any validation message could echo it.
  const key = core.getInput('api-key')
  if (key !== '') {
    for (const line of key.split(/\r?\n/)) if (line.trim()) core.setSecret(line.trim())
    if (/\s/.test(key)) throw new InputProblem('api-key', 'contains spaces or line breaks: paste only the key, for example `api-key: ${{ secrets.APPROVAL_GATE_API_KEY }}`.')
    return key
  }
  for (const name of API_KEY_ENV_VARS) {
    const fromEnv = env[name]?.trim()
    if (fromEnv) {
      core.setSecret(fromEnv)
      return fromEnv
    }
  }
  return undefined
}

function missingApiKey(auto: boolean): never {
  const keyless = auto
    ? ' Or gate without a stored secret: give the job `permissions: id-token: write` (the runner then offers an OIDC token) and add a trust rule on the server (`approval-gate trust add`).'
    : ''
  throw new InputProblem(
    'api-key',
    `is required: set \`api-key: \${{ secrets.APPROVAL_GATE_API_KEY }}\` (create the key in your approvals server or JamJet Cloud and store it as a repository secret), or set the ${API_KEY_ENV_VARS.join(' or ')} environment variable.${keyless}`,
  )
}
