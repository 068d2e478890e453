/**
 * `POST /integrations/github/webhook`: GitHub's deliveries to the App. The caller is
 * authenticated by the signature over the raw body (before anything is parsed); only
 * `deployment_protection_rule` `requested` creates anything, through the approval service,
 * in the project an admin mapped the repository to. A delivery id seen before creates
 * nothing again. Unmapped repositories and other events are answered 202 and logged, so
 * GitHub does not retry them.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import { GITHUB_WEBHOOK_PATH } from '../../contract/index.js'
import type { ApprovalService } from '../approvals/contracts.js'
import { ApiError } from '../http/errors.js'
import { approvalUrl } from '../http/wire.js'
import type { Store } from '../store/types.js'
import { approvalInputFor, DeploymentPayloadError, pickMapping, readDeploymentRequest } from './deployment-request.js'
import { verifyWebhookSignature } from './webhook-signature.js'

/** Largest delivery accepted: a deployment request with its repository and pull requests is a few tens of KB. */
export const MAX_WEBHOOK_BYTES = 1024 * 1024

export interface GithubWebhookOptions {
  store: Store
  approvals: ApprovalService
  webhookSecret: string
  publicUrl: string
  /** Told about each new gate, so its callback is sent as soon as the approval settles. */
  onGateCreated: (approvalId: string) => void
}

/** GitHub's delivery GUIDs (and the ids of redeliveries, which keep the original's). */
const DELIVERY_ID_PATTERN = /^[A-Za-z0-9-]{1,100}$/

export async function githubWebhookRoutes(app: FastifyInstance, options: GithubWebhookOptions): Promise<void> {
  // The signature covers the bytes as sent: keep them raw, whatever the content type says.
  app.removeAllContentTypeParsers()
  app.addContentTypeParser('*', { parseAs: 'buffer', bodyLimit: MAX_WEBHOOK_BYTES }, (_request, body, done) => done(null, body))

  app.post(GITHUB_WEBHOOK_PATH, { bodyLimit: MAX_WEBHOOK_BYTES }, async (request, reply) => {
    const body = Buffer.isBuffer(request.body) ? request.body : Buffer.alloc(0)
    if (!verifyWebhookSignature(options.webhookSecret, body, header(request, 'x-hub-signature-256'))) {
      request.log.warn({ delivery: header(request, 'x-github-delivery')?.slice(0, 100) }, 'GitHub webhook refused: bad or missing X-Hub-Signature-256')
      throw new ApiError(401, 'unauthorized', 'X-Hub-Signature-256 is missing or does not match the body under the App\'s webhook secret')
    }
    const event = header(request, 'x-github-event') ?? ''
    const delivery = header(request, 'x-github-delivery') ?? ''
    if (!DELIVERY_ID_PATTERN.test(delivery)) throw new ApiError(400, 'invalid_request', 'X-GitHub-Delivery is missing or not a delivery id')
    if (event === 'ping') return reply.code(200).send({ status: 'pong' })
    if (event !== 'deployment_protection_rule') return reply.code(202).send({ status: 'ignored', message: `the ${JSON.stringify(event.slice(0, 100))} event is not handled` })

    const payload = parseJson(body)
    if ((payload as { action?: unknown }).action !== 'requested') return reply.code(202).send({ status: 'ignored', message: 'only the "requested" action is handled' })
    const seen = await options.store.getGithubGateByDelivery(delivery)
    if (seen) return reply.code(200).send({ status: 'duplicate', approval_id: seen.approval_id })

    let deployment
    try {
      deployment = readDeploymentRequest(payload)
    } catch (error) {
      if (error instanceof DeploymentPayloadError) throw new ApiError(400, 'invalid_request', error.message)
      throw error
    }
    const mapping = pickMapping(await options.store.listGithubMappingsForRepository(deployment.repository), deployment)
    const project = mapping ? await options.store.getProject(mapping.project_id) : null
    if (!project) {
      const message = `no project is mapped to ${deployment.repository} (environment ${JSON.stringify(deployment.environment)}, installation ${deployment.installationId}); map it with "approval-gate github map"`
      request.log.warn({ delivery, repository: deployment.repository, environment: deployment.environment, installation: deployment.installationId }, 'GitHub deployment request for an unmapped repository: nothing created')
      return reply.code(202).send({ status: 'unmapped', message })
    }

    const { approval } = await options.approvals.create(project, approvalInputFor(deployment, delivery))
    await options.store.createGithubGate({
      approval_id: approval.id,
      project_id: project.id,
      delivery_id: delivery,
      installation_id: deployment.installationId,
      repository: deployment.repository,
      environment: deployment.environment,
      run_id: deployment.runId,
    })
    options.onGateCreated(approval.id)
    return reply.code(201).send({ status: 'created', approval_id: approval.id, url: approvalUrl(options.publicUrl, approval.id) })
  })
}

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return typeof value === 'string' ? value : undefined
}

function parseJson(body: Buffer): unknown {
  try {
    const parsed = JSON.parse(body.toString('utf8')) as unknown
    if (typeof parsed === 'object' && parsed !== null) return parsed
  } catch {
    // answered below
  }
  throw new ApiError(400, 'invalid_json', 'the delivery body is not a JSON object')
}
