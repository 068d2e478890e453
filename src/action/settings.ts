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
  /** `api-key`, else `APPROVAL_GATE_API_KEY`, else `JAMJET_API_KEY` (masked in logs). */
  apiKey: string
  agent: string
  /** Stable per run, step and action; `undefined` outside a runner (the core generates one). */
  idempotencyKey?: string
  failOnReject: boolean
  failOnTimeout: boolean
  jobSummary: boolean
}

/** The subset the post step needs to reach the API again (it never stores the key in state). */
export interface ApiCredentials {
  apiUrl?: string
  apiKey: string
}
