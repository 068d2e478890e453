import type { PullRequestTarget } from './github-context.js'

/** Everything the gate needs, read and validated once from the action's inputs (see `inputs.ts`). */
export interface GateSettings {
  /** What is being approved, shown as the card's title (`action` input). */
  action: string
  /** The context sent to the server: the `context` input, plus `github` (the run) when attached. */
  context: Record<string, unknown>
  timeoutMs: number
  pollIntervalMs: number
  /** How long to try to reach the API at all before failing (`connect-timeout`). */
  connectTimeoutMs: number
  /** `api-url`; `undefined` lets the core choose (`APPROVAL_GATE_API_URL`, `JAMJET_API_URL`, JamJet Cloud). */
  apiUrl?: string
  /** `api-key`, else `APPROVAL_GATE_API_KEY`, else `JAMJET_API_KEY` (masked in logs); empty with OIDC. */
  apiKey: string
  /** How the gate proves who it is: an API key, or the workflow's OIDC token (`auth` input). */
  auth: 'api-key' | 'oidc'
  /** With OIDC: the audience the token is asked for (`oidc-audience`, default the API URL's origin). */
  oidcAudience?: string
  /** With OIDC: a fresh token before each request (set by the main step, not by the inputs). */
  bearer?: () => Promise<string>
  agent: string
  /** Stable per run, step and action; `undefined` outside a runner (the core generates one). */
  idempotencyKey?: string
  failOnReject: boolean
  failOnTimeout: boolean
  jobSummary: boolean
  /** Set when the run belongs to a pull request and `github-token` is not empty. */
  pullRequestComment?: PullRequestCommentSettings
}

/** The one comment a gate keeps on the run's pull request (see `pull-request-comment.ts`). */
export interface PullRequestCommentSettings {
  /** `github-token` (masked). */
  token: string
  pullRequest: PullRequestTarget
  /** The same for every run and attempt of this gate, so they all update one comment. */
  gateId: string
  /** The workflow run, linked from the comment. */
  runUrl?: string
}

/** The subset the post step needs to reach the API again (it never stores the key in state). */
export interface ApiCredentials {
  apiUrl?: string
  /** Empty with OIDC. */
  apiKey: string
  auth: 'api-key' | 'oidc'
  oidcAudience?: string
}
