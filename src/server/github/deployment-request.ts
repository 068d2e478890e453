/**
 * A `deployment_protection_rule` delivery read into what the approval needs: who asks
 * (repository, environment, ref, sha, sender, deployment, workflow run — verified, since the
 * delivery is signed by GitHub), the action (`deploy:<environment>`) and the pull requests.
 * Every field is type-checked: a payload that lacks one is refused with its name.
 */
import type { CreateApprovalInput } from '../approvals/contracts.js'
import type { GithubMapping, RequesterClaims } from '../store/types.js'

/** The verified requester's `issuer` for approvals created by the GitHub App. */
export const GITHUB_APP_ISSUER = 'github-app'

/** Pull requests kept in the context (a push can belong to many). */
const MAX_PULL_REQUESTS = 20

export interface PullRequestRef {
  number: number
  url: string | null
  title: string | null
}

export interface DeploymentRequest {
  installationId: string
  /** `owner/repo` */
  repository: string
  environment: string
  /** The workflow run waiting on the environment (from `deployment_callback_url`). */
  runId: string
  ref: string | null
  sha: string | null
  /** What triggered the run (`push`, `workflow_dispatch`…). */
  event: string | null
  sender: string | null
  deploymentId: string | null
  /** The run's page on GitHub (from `repository.html_url`), when the payload has it. */
  runUrl: string | null
  pullRequests: PullRequestRef[]
}

/** A delivery that cannot be a deployment request; `message` names the field. */
export class DeploymentPayloadError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'DeploymentPayloadError'
  }
}

type Fields = Record<string, unknown>

/** Reads a `deployment_protection_rule` payload. @throws DeploymentPayloadError naming the bad field. */
export function readDeploymentRequest(payload: unknown): DeploymentRequest {
  const body = object(payload, 'the payload')
  const installation = object(body.installation, 'installation')
  const repository = object(body.repository, 'repository')
  const callbackUrl = string(body.deployment_callback_url, 'deployment_callback_url')
  // …/actions/runs/{run_id}/deployment_protection_rule: the run we answer for. The URL itself is
  // not called: answers go to the configured API URL only.
  const run = /\/actions\/runs\/(\d{1,20})\/deployment_protection_rule$/.exec(callbackUrl)
  if (!run) throw new DeploymentPayloadError('deployment_callback_url does not name a workflow run (…/actions/runs/ID/deployment_protection_rule)')
  const fullName = string(repository.full_name, 'repository.full_name')
  if (!/^[A-Za-z0-9_.-]{1,100}\/[A-Za-z0-9_.-]{1,100}$/.test(fullName)) throw new DeploymentPayloadError('repository.full_name is not owner/repo')
  const environment = string(body.environment, 'environment')
  if (environment.length > 255) throw new DeploymentPayloadError('environment is longer than 255 characters')
  const deployment = body.deployment === null || body.deployment === undefined ? null : object(body.deployment, 'deployment')
  return {
    installationId: numericId(installation.id, 'installation.id'),
    repository: fullName,
    environment,
    runId: run[1],
    ref: optionalString(body.ref) ?? optionalString(deployment?.ref),
    sha: optionalString(body.sha) ?? optionalString(deployment?.sha),
    event: optionalString(body.event),
    sender: optionalString(isObject(body.sender) ? body.sender.login : undefined),
    deploymentId: deployment && typeof deployment.id === 'number' ? String(deployment.id) : null,
    runUrl: httpsUrl(repository.html_url) ? `${repository.html_url as string}/actions/runs/${run[1]}` : null,
    pullRequests: pullRequests(body.pull_requests),
  }
}

/** The mapping that applies, most specific first (environment, then installation); `null` when none does. */
export function pickMapping(mappings: readonly GithubMapping[], request: DeploymentRequest): GithubMapping | null {
  const environment = request.environment.toLowerCase()
  const matching = mappings.filter(
    (mapping) =>
      mapping.repository.toLowerCase() === request.repository.toLowerCase() &&
      (mapping.environment === null || mapping.environment.toLowerCase() === environment) &&
      (mapping.installation_id === null || mapping.installation_id === request.installationId),
  )
  const score = (mapping: GithubMapping) => (mapping.environment !== null ? 2 : 0) + (mapping.installation_id !== null ? 1 : 0)
  return matching.sort((a, b) => score(b) - score(a))[0] ?? null
}

/** What the approval service is asked to create for a delivery. */
export function approvalInputFor(request: DeploymentRequest, deliveryId: string): CreateApprovalInput {
  const claims: RequesterClaims = {
    issuer: GITHUB_APP_ISSUER,
    repository: request.repository,
    ref: request.ref,
    sha: request.sha,
    workflow_ref: null,
    run_id: request.runId,
    run_attempt: null,
    actor: request.sender,
    triggering_actor: null,
    environment: request.environment,
    event_name: request.event,
  }
  return {
    action: `deploy:${request.environment}`,
    context: {
      github: {
        repository: request.repository,
        environment: request.environment,
        ref: request.ref,
        sha: request.sha,
        actor: request.sender,
        event_name: request.event,
        run_id: request.runId,
        deployment_id: request.deploymentId,
        ...(request.runUrl ? { run_url: request.runUrl } : {}),
      },
      pull_requests: request.pullRequests,
    },
    agent: 'github-app',
    // One delivery, one approval: a retried or concurrent copy gets the same record.
    idempotency_key: `github-delivery:${deliveryId}`,
    requested_by: `github:${request.repository}`,
    requester_claims: claims,
  }
}

function pullRequests(value: unknown): PullRequestRef[] {
  if (!Array.isArray(value)) return []
  return value
    .filter(isObject)
    .filter((pr) => typeof pr.number === 'number' && Number.isSafeInteger(pr.number))
    .slice(0, MAX_PULL_REQUESTS)
    .map((pr) => ({ number: pr.number as number, url: httpsUrl(pr.html_url), title: optionalString(pr.title)?.slice(0, 200) ?? null }))
}

function httpsUrl(value: unknown): string | null {
  return typeof value === 'string' && value.startsWith('https://') && value.length <= 500 ? value : null
}

function isObject(value: unknown): value is Fields {
  return typeof value === 'object' && value !== null && !Array.isArray(value)
}

function object(value: unknown, name: string): Fields {
  if (!isObject(value)) throw new DeploymentPayloadError(`${name} is missing or not an object`)
  return value
}

function string(value: unknown, name: string): string {
  if (typeof value !== 'string' || value.trim() === '') throw new DeploymentPayloadError(`${name} is missing or not a string`)
  return value
}

function optionalString(value: unknown): string | null {
  return typeof value === 'string' && value.trim() !== '' ? value.slice(0, 500) : null
}

function numericId(value: unknown, name: string): string {
  if (typeof value !== 'number' || !Number.isSafeInteger(value) || value <= 0) throw new DeploymentPayloadError(`${name} is missing or not a positive number`)
  return String(value)
}
