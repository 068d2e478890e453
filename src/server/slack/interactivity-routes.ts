/**
 * `POST /integrations/slack/{channelId}/interactivity`: where Slack sends button clicks and
 * modal submissions of a Slack channel's messages. The caller is authenticated by the
 * channel's signing secret over the raw body (before anything is parsed), within a five-minute
 * window, once; then the decision goes through the approval service (`SlackDecisions`).
 * A click is decided, then answered (Slack wants an answer within 3 seconds), then its outcome
 * is shown by updating the message; a modal's submission is answered with its outcome.
 */
import { createHash, timingSafeEqual } from 'node:crypto'
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ApprovalService } from '../approvals/contracts.js'
import { ApiError } from '../http/errors.js'
import type { Channel } from '../notifications/types.js'
import type { Project, Store } from '../store/types.js'
import { readInteraction, REASON_BLOCK } from './interaction-payload.js'
import { checkSlackSignature, ReplayGuard } from './signature.js'
import { SlackDecisions } from './slack-decisions.js'
import { decodeSlackSecret, type SlackSecret } from './slack-secret.js'

/** Largest interaction body accepted (our messages are small; Slack echoes them back). */
export const MAX_INTERACTION_BYTES = 64 * 1024

const CHANNEL_ID = /^[A-Za-z0-9_-]{1,100}$/

export interface SlackInteractivityOptions {
  store: Store
  approvals: ApprovalService
  publicUrl: string
  slackApiUrl: string
  /** Signatures already accepted (default: one guard per app). */
  replayGuard?: ReplayGuard
}

export async function slackInteractivityRoutes(app: FastifyInstance, options: SlackInteractivityOptions): Promise<void> {
  // The raw bytes are what Slack signed: keep them as a Buffer, in this scope only.
  app.addContentTypeParser('application/x-www-form-urlencoded', { parseAs: 'buffer', bodyLimit: MAX_INTERACTION_BYTES }, (_request, body, done) => done(null, body))
  const guard = options.replayGuard ?? new ReplayGuard()
  const decisions = new SlackDecisions({
    store: options.store,
    approvals: options.approvals,
    publicUrl: options.publicUrl,
    slackApiUrl: options.slackApiUrl,
    warn: (message) => app.log.warn(message),
  })

  app.post<{ Params: { channelId: string } }>('/integrations/slack/:channelId/interactivity', async (request, reply) => {
    const { channel, secret } = await slackChannel(options.store, request.params.channelId)
    const body = verifiedBody(request, secret, guard)
    const interaction = readInteraction(body)
    if (interaction.kind === 'malformed') throw new ApiError(400, 'invalid_request', interaction.problem)
    if (interaction.kind === 'ignored') return reply.code(200).send()
    const project = await projectOf(options.store, channel, secret, interaction.approvalId)
    if (!project) throw new ApiError(404, 'not_found', 'no such Slack channel')
    if (interaction.kind === 'click') {
      // The decision is made before Slack gets its answer (one short transaction); the calls
      // back to Slack (message update, private answer, modal) follow the answer.
      const followUp = await decisions.click(project, secret.botToken, interaction)
      void reply.code(200).send()
      await followUp().catch((error: unknown) => request.log.warn({ err: { message: (error as Error)?.message } }, 'slack: answering a click failed'))
      return reply
    }
    const { error } = await decisions.submitReason(project, secret.botToken, interaction)
    return error === null ? reply.code(200).send() : reply.code(200).send({ response_action: 'errors', errors: { [REASON_BLOCK]: error.slice(0, 2_000) } })
  })
}

/** The Slack channel named in the path with its bot token and signing secret; one 404 for anything else. */
async function slackChannel(store: Store, channelId: string): Promise<{ channel: Channel; secret: SlackSecret }> {
  const channel = CHANNEL_ID.test(channelId) ? await store.getChannelById(channelId) : null
  const secret = channel?.kind === 'slack' ? decodeSlackSecret(await store.getChannelSecret(channel.project_id, channel.id)) : null
  if (!channel || !secret) throw new ApiError(404, 'not_found', 'no such Slack channel')
  return { channel, secret }
}

/**
 * The project a decision is made in: the channel's own, or — when one Slack app serves several
 * projects (it has one Request URL) — the approval's project, if that project has a Slack
 * channel of the same app (the same signing secret). A click can never reach a project that
 * did not set up the app that signed it.
 */
async function projectOf(store: Store, channel: Channel, secret: SlackSecret, approvalId: string): Promise<Project | null> {
  const approval = await store.getApprovalById(approvalId)
  if (approval && approval.project_id !== channel.project_id) {
    for (const candidate of await store.listChannels(approval.project_id)) {
      if (candidate.kind !== 'slack') continue
      const other = decodeSlackSecret(await store.getChannelSecret(candidate.project_id, candidate.id))
      if (other && sameSecret(other.signingSecret, secret.signingSecret)) return store.getProject(approval.project_id)
    }
  }
  return store.getProject(channel.project_id)
}

function sameSecret(a: string, b: string): boolean {
  const left = createHash('sha256').update(a).digest()
  const right = createHash('sha256').update(b).digest()
  return timingSafeEqual(left, right)
}

/** The raw body, when Slack signed it with this channel's signing secret, recently, and it was not seen before. */
function verifiedBody(request: FastifyRequest, secret: SlackSecret, guard: ReplayGuard): Buffer {
  if (!Buffer.isBuffer(request.body)) throw new ApiError(415, 'unsupported_media_type', 'Slack interactions are application/x-www-form-urlencoded')
  const timestamp = header(request, 'x-slack-request-timestamp')
  const signature = header(request, 'x-slack-signature')
  const problem = checkSlackSignature(secret.signingSecret, request.body, { timestamp, signature })
  if (problem) throw new ApiError(401, 'unauthorized', SIGNATURE_PROBLEMS[problem])
  const replay = guard.remember(signature!, Number(timestamp))
  if (replay === 'replayed') throw new ApiError(401, 'unauthorized', SIGNATURE_PROBLEMS.replayed)
  if (replay === 'too_many') throw new ApiError(429, 'rate_limited', SIGNATURE_PROBLEMS.too_many, {}, { 'retry-after': '60' })
  return request.body
}

const SIGNATURE_PROBLEMS = {
  missing_signature: 'X-Slack-Signature (v0=<hex>) and X-Slack-Request-Timestamp are required',
  stale_timestamp: 'X-Slack-Request-Timestamp is more than 5 minutes from the server clock',
  bad_signature: "X-Slack-Signature does not match this channel's signing secret",
  replayed: 'this request was already received',
  too_many: 'too many Slack interactions in the last 5 minutes',
} as const

function header(request: FastifyRequest, name: string): string | undefined {
  const value = request.headers[name]
  return typeof value === 'string' ? value : undefined
}

