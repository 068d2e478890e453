/**
 * Resolves and validates the core's options once, before any request: env fallbacks,
 * defaults, and a clear `invalid_config` error naming the option that is wrong.
 * Messages never contain the API key.
 */
import { currentAgent } from './agent-scope.js'
import { ApprovalError } from './errors.js'
import type { ApprovalProgress, RequireApprovalOptions, WithdrawalResult, SettingNames } from './types.js'

import { DEFAULT_API_URL, DEFAULT_POLL_INTERVAL_MS, DEFAULT_TIMEOUT_MS, MAX_ACTION_CHARS, MAX_CONTEXT_BYTES, VISIBLE_CHARACTER } from '../contract/index.js'

export { DEFAULT_API_URL, DEFAULT_POLL_INTERVAL_MS, DEFAULT_TIMEOUT_MS, MAX_CONTEXT_BYTES }
/** The longest action name (the library's historical name for `MAX_ACTION_CHARS`). */
export const MAX_ACTION_LENGTH = MAX_ACTION_CHARS
/** Longest delay a single Node timer can hold. */
export const MAX_TIMER_MS = 2 ** 31 - 1

export type { SettingNames }

/** The library's own names (the options of `requireApproval` and `ApprovalsClient`). */
export const LIBRARY_SETTING_NAMES: SettingNames = { apiUrl: 'apiUrl (or APPROVAL_GATE_API_URL)', apiKey: 'apiKey (or APPROVAL_GATE_API_KEY)' }

/** Keys our server issues start with this; JamJet Cloud's never do. */
export const SELF_HOSTED_KEY_PREFIX = 'agk_'
/** Default budget for reaching the API at all (see `connectTimeoutMs`). */
export const DEFAULT_CONNECT_TIMEOUT_MS = 30_000

/** Where and how to reach an approvals API. */
export interface ApiConnection {
  /** Normalised base URL: http(s), no trailing slash, no query or fragment. */
  apiUrl: string
  apiKey: string
}

/** Everything `requestApproval` needs, validated. */
export interface ResolvedApprovalOptions extends ApiConnection {
  action: string
  context: Record<string, unknown>
  timeoutMs: number
  pollIntervalMs: number
  connectTimeoutMs: number
  names: SettingNames
  agent?: string
  idempotencyKey?: string
  bearer?: () => Promise<string>
  signal?: AbortSignal
  onProgress?: (event: ApprovalProgress) => void
  onWithdraw?: (withdrawal: Promise<WithdrawalResult>) => void
}

type Env = Record<string, string | undefined>

function invalid(message: string): ApprovalError {
  return new ApprovalError('invalid_config', message)
}

/** First non-empty value among the arguments. */
function firstSet(...values: Array<string | undefined>): string | undefined {
  return values.find((value) => value !== undefined && value.trim() !== '')
}

// Header values may not carry control characters; undici would throw an opaque error.
const HEADER_SAFE = /^[\x20-\x7e]+$/
const PRINTABLE = /^[^\p{Cc}]+$/u
// A name that shows nothing (U+3164, U+2800, marks alone) would make a card that looks blank.
const HAS_VISIBLE = new RegExp(VISIBLE_CHARACTER, 'u')
const VISIBLE_LINE = new RegExp(`^(?=[\\s\\S]*${VISIBLE_CHARACTER})[^\\p{Cc}]+$`, 'u')

/** Validates and normalises an API base URL (http or https only; a trailing slash is harmless). */
export function normaliseApiUrl(raw: string, source = 'apiUrl'): string {
  const text = raw.trim()
  // `127.0.0.1:8080` or `approvals.example.com` parse as a URL with a made-up scheme (or not at all).
  if (!/^[a-z][a-z0-9+.-]*:\/\//i.test(text) && /^[\w.-]+(:\d+)?(\/.*)?$/.test(text)) {
    const host = text.replace(/\/.*$/, '')
    const scheme = /^(localhost|127\.|\[::1\])/i.test(host) ? 'http' : 'https'
    throw invalid(`${source} needs a scheme: use ${scheme}://${excerptUrl(text)}`)
  }
  let url: URL
  try {
    url = new URL(text)
  } catch {
    // Echo it without any `user:password@` part: it is often a secret.
    throw invalid(`${source} is not a valid URL: "${excerptUrl(raw)}". Use something like https://approvals.example.com`)
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') {
    throw invalid(`${source} must use http or https, not "${url.protocol.replace(/:$/, '')}"`)
  }
  if (url.username || url.password) {
    throw invalid(`${source} must not contain credentials; pass the API key separately`)
  }
  if (url.search || url.hash) {
    throw invalid(`${source} must not contain a query string or fragment`)
  }
  return `${url.origin}${url.pathname.replace(/\/+$/, '')}`
}

/** The URL without anything after 200 characters and without a `user:password@` part. */
function excerptUrl(raw: string): string {
  return raw.slice(0, 200).replace(/\/\/[^/?#]*@/, '//…@')
}

/** Completes partial setting names with the library's. */
export function settingNames(names: Partial<SettingNames> | undefined): SettingNames {
  return { ...LIBRARY_SETTING_NAMES, ...names }
}

/**
 * The API URL and key: explicit options, then `APPROVAL_GATE_API_URL`/`_KEY`, then
 * `JAMJET_API_URL`/`_KEY`; the URL defaults to JamJet Cloud, except for a self-hosted key
 * (`agk_…`), which is never sent there. Throws `invalid_config` naming the setting (`names`).
 */
export function resolveConnection(
  options: { apiUrl?: string; apiKey?: string; settingNames?: Partial<SettingNames> },
  env: Env = process.env,
): ApiConnection {
  const names = settingNames(options.settingNames)
  if (options.apiUrl !== undefined && typeof options.apiUrl !== 'string') throw invalid('apiUrl must be a string')
  if (options.apiKey !== undefined && typeof options.apiKey !== 'string') throw invalid('apiKey must be a string')
  const urlSource =
    firstSet(options.apiUrl) !== undefined ? names.apiUrl : firstSet(env.APPROVAL_GATE_API_URL) !== undefined ? 'APPROVAL_GATE_API_URL' : 'JAMJET_API_URL'
  const configuredUrl = firstSet(options.apiUrl, env.APPROVAL_GATE_API_URL, env.JAMJET_API_URL)
  const apiUrl = normaliseApiUrl(configuredUrl ?? DEFAULT_API_URL, urlSource)
  const apiKey = firstSet(options.apiKey, env.APPROVAL_GATE_API_KEY, env.JAMJET_API_KEY)?.trim()
  if (apiKey === undefined) {
    throw invalid(`No API key: set ${names.apiKey} (or JAMJET_API_KEY)`)
  }
  if (configuredUrl === undefined && apiKey.startsWith(SELF_HOSTED_KEY_PREFIX)) {
    throw invalid(
      `No API URL for a self-hosted key (${SELF_HOSTED_KEY_PREFIX}…): set ${names.apiUrl} to your approval-gate server, e.g. https://approvals.example.com. ` +
        `The key is not sent to JamJet Cloud (${DEFAULT_API_URL}), the default without an URL`,
    )
  }
  if (!HEADER_SAFE.test(apiKey)) {
    throw invalid('The API key contains characters that cannot be sent in an HTTP header (spaces inside are fine, line breaks and non-ASCII are not)')
  }
  return { apiUrl, apiKey }
}

function positiveDuration(value: unknown, name: string, fallback: number, max = Number.MAX_SAFE_INTEGER): number {
  if (value === undefined) return fallback
  if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
    throw invalid(`${name} must be a positive, finite number of milliseconds (got ${typeof value === 'number' ? value : typeof value})`)
  }
  if (value > max) throw invalid(`${name} must be at most ${max} ms (got ${value})`)
  return value
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (typeof value !== 'object' || value === null || Array.isArray(value)) return false
  const proto: unknown = Object.getPrototypeOf(value)
  return proto === Object.prototype || proto === null
}

function validateContext(context: unknown): Record<string, unknown> {
  if (context === undefined) return {}
  if (!isPlainObject(context)) throw invalid('context must be a plain JSON object, e.g. { service: "api", version: "1.2.3" }')
  let json: string | undefined
  try {
    json = JSON.stringify(context)
  } catch (error) {
    throw invalid(`context cannot be serialised to JSON: ${error instanceof Error ? error.message : String(error)}`)
  }
  // A `toJSON` may turn the object into anything (even nothing); what is sent must be an object.
  if (json === undefined || !json.startsWith('{')) throw invalid('context must serialise to a JSON object (its toJSON gives something else)')
  const bytes = Buffer.byteLength(json)
  if (bytes > MAX_CONTEXT_BYTES) throw invalid(`context is ${bytes} bytes as JSON; the limit is ${MAX_CONTEXT_BYTES} (64 KB)`)
  // Send exactly what was validated: a copy, so later mutation by the caller changes nothing.
  return JSON.parse(json) as Record<string, unknown>
}

function optionalText(value: unknown, name: string, pattern: RegExp, what: string): string | undefined {
  if (value === undefined) return undefined
  if (typeof value !== 'string' || value.length === 0 || value.length > MAX_ACTION_LENGTH || !pattern.test(value)) {
    throw invalid(`${name} must be a non-empty string of at most ${MAX_ACTION_LENGTH} ${what}`)
  }
  return value
}

/** Validates everything `requestApproval` was given. Throws `ApprovalError('invalid_config')`. */
export function resolveApprovalOptions(action: unknown, options: RequireApprovalOptions = {}, env: Env = process.env): ResolvedApprovalOptions {
  if (typeof options !== 'object' || options === null) throw invalid('options must be an object')
  if (typeof action !== 'string' || action.trim() === '') throw invalid('action must be a non-empty string, e.g. "production_deploy"')
  if (action.length > MAX_ACTION_LENGTH) throw invalid(`action is ${action.length} characters long; the limit is ${MAX_ACTION_LENGTH}`)
  if (!PRINTABLE.test(action)) throw invalid('action must not contain control characters (line breaks, tabs, ...)')
  if (!HAS_VISIBLE.test(action)) throw invalid('action must contain at least one visible letter, digit, punctuation mark or symbol (it looks blank)')
  if (options.signal !== undefined && !(options.signal instanceof AbortSignal)) throw invalid('signal must be an AbortSignal')
  for (const name of ['onProgress', 'onWithdraw', 'bearer'] as const) {
    if (options[name] !== undefined && typeof options[name] !== 'function') throw invalid(`${name} must be a function`)
  }
  return {
    ...resolveConnection(options, env),
    names: settingNames(options.settingNames),
    action,
    context: validateContext(options.context),
    timeoutMs: positiveDuration(options.timeoutMs, 'timeoutMs', DEFAULT_TIMEOUT_MS),
    pollIntervalMs: positiveDuration(options.pollIntervalMs, 'pollIntervalMs', DEFAULT_POLL_INTERVAL_MS, MAX_TIMER_MS),
    connectTimeoutMs: positiveDuration(options.connectTimeoutMs, 'connectTimeoutMs', DEFAULT_CONNECT_TIMEOUT_MS, MAX_TIMER_MS),
    // An explicit agent wins; otherwise the innermost withAgent() scope around the call.
    agent: optionalText(options.agent ?? currentAgent(), 'agent', VISIBLE_LINE, 'characters without control characters, with something visible'),
    idempotencyKey: optionalText(options.idempotencyKey, 'idempotencyKey', HEADER_SAFE, 'printable ASCII characters'),
    bearer: options.bearer,
    signal: options.signal,
    onProgress: options.onProgress,
    onWithdraw: options.onWithdraw,
  }
}
