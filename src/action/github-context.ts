/**
 * The workflow run a gate belongs to, read through `@actions/github`'s `context` (the runner's
 * `GITHUB_*` variables and the event payload). Approvers see it on the card, the server's
 * self-approval rule reads `context.github.actor`, the agent name and idempotency key are derived
 * from it, and the pull request (when the run belongs to one) is where the gate comments.
 * Outside a runner every field is simply missing: nothing here throws.
 */
import { createHash } from 'node:crypto'
import * as github from '@actions/github'

/** The part of `@actions/github`'s `context` the gate reads (tests build one from an environment). */
export type WorkflowContext = Pick<typeof github.context, 'payload' | 'eventName' | 'sha' | 'ref' | 'workflow' | 'job' | 'actor' | 'runId' | 'runAttempt' | 'serverUrl' | 'repo'>

/** What approvers see about the run. Fields the run does not provide are omitted. */
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

/** The pull request a run belongs to, from the event payload. */
export interface PullRequestTarget {
  owner: string
  repo: string
  number: number
}

type Env = Record<string, string | undefined>

/**
 * Reads the run context from `workflow` (default `@actions/github`'s `context`), leaving out
 * empty values. `triggering_actor` (who started a re-run) is not in that context, so it comes
 * from `env`.
 */
export function readRunContext(workflow: WorkflowContext = github.context, env: Env = process.env): RunContext {
  const repository = repositoryOf(workflow)
  const runId = positiveNumber(workflow.runId)
  const serverUrl = (text(workflow.serverUrl) ?? 'https://github.com').replace(/\/+$/, '')
  const context: RunContext = {
    repository,
    workflow: text(workflow.workflow),
    job: text(workflow.job),
    run_id: runId,
    run_attempt: positiveNumber(workflow.runAttempt),
    run_url: repository && runId ? `${serverUrl}/${repository}/actions/runs/${runId}` : undefined,
    sha: text(workflow.sha),
    ref: text(workflow.ref),
    actor: text(workflow.actor),
    triggering_actor: text(env.GITHUB_TRIGGERING_ACTOR),
    event: text(workflow.eventName),
  }
  // Drop missing fields so the card and the summary show only what is known.
  return Object.fromEntries(Object.entries(context).filter(([, value]) => value !== undefined)) as RunContext
}

/**
 * The pull request this run belongs to: `pull_request`, `pull_request_target` and review events
 * carry `pull_request`; a comment on a pull request carries an `issue` marked as one.
 * `undefined` for every other run (push, schedule, dispatch) and outside a runner.
 */
export function pullRequestOf(workflow: WorkflowContext = github.context): PullRequestTarget | undefined {
  const payload = workflow.payload ?? {}
  const number: unknown = payload.pull_request?.number ?? (payload.issue?.pull_request ? payload.issue.number : undefined)
  const repository = repositoryOf(workflow)
  if (typeof number !== 'number' || !Number.isSafeInteger(number) || number <= 0 || repository === undefined) return undefined
  const [owner, repo] = repository.split('/')
  return owner && repo ? { owner, repo, number } : undefined
}

/** `owner/repo` from `GITHUB_REPOSITORY` or the payload; `undefined` when neither says. */
function repositoryOf(workflow: WorkflowContext): string | undefined {
  try {
    const { owner, repo } = workflow.repo
    return owner && repo ? `${owner}/${repo}` : undefined
  } catch {
    return undefined // context.repo throws outside a runner
  }
}

function text(value: string | undefined): string | undefined {
  const trimmed = value?.trim()
  return trimmed ? trimmed : undefined
}

/** `context` parses the run's numbers with parseInt: NaN when the variable is missing. */
function positiveNumber(value: number): string | undefined {
  return Number.isSafeInteger(value) && value > 0 ? String(value) : undefined
}

/** `github-actions:<owner/repo>/<workflow>#<job>`, or as much of it as the run provides. */
export function defaultAgent(run: RunContext): string {
  if (!run.repository) return 'github-actions'
  const workflow = run.workflow ? `/${run.workflow}` : ''
  const job = run.job ? `#${run.job}` : ''
  return `github-actions:${run.repository}${workflow}${job}`
}

/**
 * Which gate this is, across runs and attempts: the repository, workflow, job, step, action and
 * `discriminator` (matrix legs of one job differ by their context). The PR comment's marker.
 */
export function gateIdentity(run: RunContext, step: string | undefined, action: string, discriminator: string): string {
  return digest([run.repository ?? '', run.workflow ?? '', run.job ?? '', step ?? '', action, discriminator])
}

/**
 * A create key that is the same every time this step asks for this action in this run attempt,
 * so a retried create (or a re-executed step) finds the existing card instead of adding one.
 * `discriminator` separates gates that share a job, e.g. matrix legs with different context.
 * Outside a runner there is no stable run identity: returns `undefined` and the core makes one.
 */
export function deriveIdempotencyKey(run: RunContext, step: string | undefined, action: string, discriminator: string): string | undefined {
  if (!run.repository || !run.run_id) return undefined
  return `gha-${digest([run.repository, run.run_id, run.run_attempt ?? '1', run.job ?? '', step ?? '', action, discriminator])}`
}

function digest(parts: string[]): string {
  return createHash('sha256').update(JSON.stringify(parts)).digest('hex').slice(0, 40)
}
