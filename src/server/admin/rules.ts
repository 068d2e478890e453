/**
 * The rules of accounts, members, invitations, API keys and trust rules, written once. The admin service
 * applies them for both the CLI and the dashboard, and the forms quote them in their hints,
 * so the two paths cannot drift apart.
 */
import { GITHUB_ACTIONS_ISSUER, issuerUrlProblem, normaliseIssuer } from '../../contract/issuers.js'
import type { KeyScope, Role } from '../store/types.js'

/** A project name: 1–100 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit. */
export const PROJECT_NAME_PATTERN = /^[\p{L}\p{N}][\p{L}\p{N} ._-]{0,99}$/u

/** Shortest password of a dashboard account (characters). */
export const MIN_PASSWORD_CHARS = 12
/** Longest password (UTF-8 bytes): scrypt input stays bounded. */
export const MAX_PASSWORD_BYTES = 1024
/** Longest email address (the local part ≤ 64, the domain ≤ 255). */
export const MAX_EMAIL_CHARS = 320
export const EMAIL_PATTERN = /^[^\s@]{1,64}@[^\s@]{1,255}$/
/** A GitHub login: 1–39 letters, digits or hyphens, not starting with a hyphen. */
export const GITHUB_LOGIN_PATTERN = /^[A-Za-z0-9][A-Za-z0-9-]{0,38}$/
/** An API key name: 1–100 printable ASCII characters, not starting with a space. */
export const KEY_NAME_PATTERN = /^[\x21-\x7E][\x20-\x7E]{0,99}$/
export const MAX_KEY_NAME_CHARS = 100
/** Every API key scope, in the order forms list them. */
export const SCOPES: readonly KeyScope[] = ['request', 'decide', 'admin']
export const ROLES: readonly Role[] = ['member', 'admin']
/** How long an invitation link can be used. */
export const INVITATION_TTL_MS = 7 * 24 * 3_600_000
/** Longest default expiry an admin can set for a project (30 days). */
export const MAX_DEFAULT_EXPIRY_MS = 30 * 24 * 3_600_000

export function isRole(value: unknown): value is Role {
  return value === 'admin' || value === 'member'
}

export function isScope(value: unknown): value is KeyScope {
  return typeof value === 'string' && (SCOPES as readonly string[]).includes(value)
}

/** Why a password is refused, or null when it is acceptable. */
export function passwordProblem(password: string): string | null {
  if (Buffer.byteLength(password, 'utf8') > MAX_PASSWORD_BYTES) return `a password is at most ${MAX_PASSWORD_BYTES} bytes`
  if ([...password].length < MIN_PASSWORD_CHARS) return `a password has at least ${MIN_PASSWORD_CHARS} characters`
  return null
}

/** Why an email is refused, or null. */
export function emailProblem(email: string): string | null {
  return email.length <= MAX_EMAIL_CHARS && EMAIL_PATTERN.test(email) ? null : 'enter a valid email address'
}

/** Why a GitHub login is refused, or null (an empty login means "none" and is fine). */
/** What a GitHub login must look like, as a sentence (CLI errors and dashboard notices). */
export const GITHUB_LOGIN_RULE = 'a GitHub login has 1–39 letters, digits or hyphens and does not start with a hyphen'

export function githubLoginProblem(login: string): string | null {
  return login === '' || GITHUB_LOGIN_PATTERN.test(login) ? null : GITHUB_LOGIN_RULE
}

/** A Slack user id as Slack shows it (profile → ⋮ → Copy member ID): `U` or `W` and upper-case letters or digits. */
export const SLACK_USER_ID_PATTERN = /^[UW][A-Z0-9]{2,31}$/
/** What a Slack user id must look like, as a sentence (CLI errors and dashboard notices). */
export const SLACK_USER_ID_RULE = 'a Slack user id is U or W followed by 2–31 upper-case letters or digits, e.g. U024BE7LH (Slack: your profile → ⋮ → Copy member ID)'

/** Why a Slack user id is refused, or null (an empty id means "none" and is fine). */
export function slackUserIdProblem(id: string): string | null {
  return id === '' || SLACK_USER_ID_PATTERN.test(id) ? null : SLACK_USER_ID_RULE
}

/** Why a key name is refused, or null. */
export function keyNameProblem(name: string): string | null {
  return KEY_NAME_PATTERN.test(name) ? null : `a key name is 1–${MAX_KEY_NAME_CHARS} printable ASCII characters`
}

/**
 * A key that may both ask and decide could approve its own requests; the server refuses
 * that (`403 self_approval`), but such a key is still worth a warning when it is made.
 */
export function canRequestAndDecide(scopes: readonly KeyScope[]): boolean {
  return scopes.includes('admin') || (scopes.includes('request') && scopes.includes('decide'))
}

export const SELF_APPROVAL_KEY_WARNING =
  'This key can both ask for approvals and decide them. The server refuses a decision by the key that made the request (403 self_approval), but keep such a key out of CI jobs whose requests it should not be able to decide: give CI a request-only key.'

/** What an admin types for a new trust rule (CLI flags or the dashboard form); blank optional fields mean "any". */
export interface TrustRuleInput {
  /** Default: GitHub Actions' issuer. */
  issuer?: string
  audience: string
  repository: string
  ref?: string
  environment?: string
  workflowRef?: string
}

/**
 * A trust rule's fields, trimmed and checked: `{ problem }` names the first bad field (by the
 * name the CLI flag and the form share), else the fields to store.
 */
export function trustRuleFields(input: TrustRuleInput): { problem: string } | { issuer: string; audience: string; repository: string; ref: string | null; environment: string | null; workflow_ref: string | null } {
  const issuer = normaliseIssuer((input.issuer ?? '').trim() || GITHUB_ACTIONS_ISSUER)
  const issuerProblem = issuerUrlProblem(issuer)
  if (issuerProblem) return { problem: `issuer ${issuerProblem}` }
  const audience = input.audience.trim()
  if (!audience) return { problem: "audience is required: the URL your workflows request tokens for (the action's oidc-audience, by default your API URL's origin)" }
  const repository = input.repository.trim()
  if (!/^[^/\s]+\/[^/\s]+$/.test(repository)) return { problem: 'repository is required, as owner/repo' }
  return { issuer, audience, repository, ref: input.ref?.trim() || null, environment: input.environment?.trim() || null, workflow_ref: input.workflowRef?.trim() || null }
}

/** One line saying what a trust rule lets in: `repository acme/web, ref refs/heads/main (issuer …, audience …)`. */
export function describeTrustRule(rule: { issuer: string; audience: string; repository: string; ref: string | null; environment: string | null; workflow_ref: string | null }): string {
  const parts = [`repository ${rule.repository}`]
  if (rule.ref) parts.push(`ref ${rule.ref}`)
  if (rule.environment) parts.push(`environment ${rule.environment}`)
  if (rule.workflow_ref) parts.push(`workflow ${rule.workflow_ref}`)
  return `${parts.join(', ')} (issuer ${rule.issuer}, audience ${rule.audience})`
}
