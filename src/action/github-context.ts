/**
 * The workflow run a gate belongs to, read from the runner's `GITHUB_*` environment.
 * Approvers see it on the card, the server's self-approval rule reads `context.github.actor`,
 * and the agent name and idempotency key are derived from it. Outside a runner every field
 * is simply missing: nothing here throws.
 */
import { createHash } from 'node:crypto'

/** What approvers see about the run. Fields the environment does not provide are omitted. */
export interface RunContext {
  repository?: string
  workflow?: string
  job?: string
  run_id?: string
  run_attempt?: string
  run_url?: string
  sha?: string
  ref?: string
  actor?: string
  triggering_actor?: string
  event?: string
}

type Env = Record<string, string | undefined>

/** Reads the run context from `env` (default `process.env`), leaving out empty variables. */
export function readRunContext(env: Env = process.env): RunContext {
  const read = (name: string): string | undefined => {
    const value = env[name]?.trim()
    return value ? value : undefined
  }
  const repository = read('GITHUB_REPOSITORY')
  const runId = read('GITHUB_RUN_ID')
  const serverUrl = (read('GITHUB_SERVER_URL') ?? 'https://github.com').replace(/\/+$/, '')
  const context: RunContext = {
    repository,
    workflow: read('GITHUB_WORKFLOW'),
    job: read('GITHUB_JOB'),
    run_id: runId,
    run_attempt: read('GITHUB_RUN_ATTEMPT'),
    run_url: repository && runId ? `${serverUrl}/${repository}/actions/runs/${runId}` : undefined,
    sha: read('GITHUB_SHA'),
    ref: read('GITHUB_REF'),
    actor: read('GITHUB_ACTOR'),
    triggering_actor: read('GITHUB_TRIGGERING_ACTOR'),
    event: read('GITHUB_EVENT_NAME'),
  }
  // Drop missing fields so the card and the summary show only what is known.
  return Object.fromEntries(Object.entries(context).filter(([, value]) => value !== undefined)) as RunContext
}

/** `github-actions:<owner/repo>/<workflow>#<job>`, or as much of it as the run provides. */
export function defaultAgent(run: RunContext): string {
  if (!run.repository) return 'github-actions'
  const workflow = run.workflow ? `/${run.workflow}` : ''
  const job = run.job ? `#${run.job}` : ''
  return `github-actions:${run.repository}${workflow}${job}`
}

/**
 * A create key that is the same every time this step asks for this action in this run attempt,
 * so a retried create (or a re-executed step) finds the existing card instead of adding one.
 * `discriminator` separates gates that share a job, e.g. matrix legs with different context.
 * Outside a runner there is no stable run identity: returns `undefined` and the core makes one.
 */
export function deriveIdempotencyKey(run: RunContext, step: string | undefined, action: string, discriminator: string): string | undefined {
  if (!run.repository || !run.run_id) return undefined
  const identity = JSON.stringify([run.repository, run.run_id, run.run_attempt ?? '1', run.job ?? '', step ?? '', action, discriminator])
  return `gha-${createHash('sha256').update(identity).digest('hex').slice(0, 40)}`
}
