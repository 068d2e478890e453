/**
 * `/v1/approvals`: create, get (with `?wait=` long-poll), list, decision and cancel — the
 * JamJet-compatible wire contract (README "Wire contract", `src/contract/`). Each route reads:
 * schema (registered once, `approval-schemas.ts`), scopes, one service call, reply. Reads go
 * to the store; every change goes through the approval service.
 */
import type { FastifyInstance, FastifyRequest } from 'fastify'
import type { ApprovalService, DecideOutcome } from '../approvals/contracts.js'
import type { LongPolls, Wait, WaitEnd, WaitEndListener } from '../approvals/long-poll.js'
import type { Approval, ApprovalFilter, AuditEvent, Decision, Store } from '../store/types.js'
import { addApprovalSchemas, recordResponses, ref } from './approval-schemas.js'
import { callerOf, type Caller } from './auth.js'
import { KeyRateLimiter, type RateLimit } from './create-rate-limit.js'
import { ApiError } from './errors.js'
import { HeldReplies, type HeldReply } from './held-reply.js'
import { MAX_CONTEXT_BYTES, MAX_CONTEXT_DEPTH, MAX_WAIT_SECONDS, jsonBytes, nestsDeeperThan } from './input-rules.js'
import { provenWire, type WireApproval } from './wire.js'

export interface ApprovalRoutesOptions {
  store: Store
  approvals: ApprovalService
  longPolls: LongPolls
  publicUrl: string
  /** Creates per API key; `null` turns the limit off. */
  createRateLimit: RateLimit | null
}

interface Routes extends ApprovalRoutesOptions {
  /** The one place records become answers: a settled status is sent only when its audit event proves it (`provenWire`). */
  wire: (approval: Approval, ownEvent?: AuditEvent) => Promise<WireApproval>
}

interface CreateBody {
  action: string
  context?: Record<string, unknown>
  agent?: string | null
  timeout_ms?: number
}

type Reason = string | null | undefined

export async function approvalRoutes(app: FastifyInstance, options: ApprovalRoutesOptions): Promise<void> {
  addApprovalSchemas(app)
  const routes: Routes = { ...options, wire: (approval, ownEvent) => provenWire(options.store, approval, options.publicUrl, ownEvent) }
  createRoute(app, routes)
  getRoute(app, routes)
  listRoute(app, routes)
  decisionRoute(app, routes)
  cancelRoute(app, routes)
}

function createRoute(app: FastifyInstance, { approvals, wire, createRateLimit }: Routes): void {
  const limiter = createRateLimit ? new KeyRateLimiter(createRateLimit) : null
  app.post<{ Body: CreateBody; Headers: { 'idempotency-key'?: string } }>(
    '/approvals',
    {
      config: { scopes: ['request'] },
      // After the API-key hook, before the body is read: a flooding key costs no parsing.
      onRequest: async (request) => {
        const waitMs = limiter?.take(callerOf(request).limitKey) ?? 0
        if (waitMs > 0) throw rateLimited(waitMs)
      },
      schema: { headers: ref('createHeaders'), body: ref('createBody'), response: { ...recordResponses, 201: ref('approval') } },
    },
    async (request, reply) => {
      const caller = callerOf(request)
      const { action, context = {}, agent, timeout_ms } = request.body
      checkContext(context)
      const { approval, created } = await approvals.create(caller.project, {
        action,
        context,
        agent: agent ? agent : null,
        timeout_ms,
        idempotency_key: request.headers['idempotency-key'] ?? null,
        requested_by: caller.actor.label,
        requested_by_key_id: caller.key?.id ?? null,
        requester_claims: caller.requester,
      })
      return reply.code(created ? 201 : 200).send(await wire(approval))
    },
  )
}

function getRoute(app: FastifyInstance, routes: Routes): void {
  const { store, longPolls, wire } = routes
  const held = new HeldReplies(app.log)
  app.get<{ Params: { id: string }; Querystring: { wait?: number } }>(
    '/approvals/:id',
    { config: { scopes: ['request', 'decide'] }, schema: { params: ref('approvalIdParams'), querystring: ref('waitQuery'), response: recordResponses } },
    async (request, reply) => {
      const projectId = callerOf(request).project.id
      const { id } = request.params
      const waitSeconds = request.query.wait
      if (waitSeconds === undefined) return wire(await found(store.getApproval(projectId, id)))
      // The schema's coercion lets "Infinity" through; a timer cannot hold it.
      if (!Number.isFinite(waitSeconds)) throw new ApiError(400, 'invalid_request', `query.wait must be a number of seconds, > 0 and <= ${MAX_WAIT_SECONDS}`)

      // Subscribe first, then read: a change between the two still wakes this request.
      const wait = longPolls.begin(id, Math.round(waitSeconds * 1000), reply.raw)
      const answerNow = await unlessPending(store, projectId, id, wait, wire)
      if (answerNow) return answerNow
      // Held: only the raw response, ids and the wait live on (memory per waiter), not this
      // request's Fastify objects, this call or the record read above.
      wait.whenEnded(new HeldPoll(held.hold(request, reply), projectId, id, routes))
      return reply
    },
  )
}

/** A held long-poll: answered with the record once its wait ends, unless the client went away. */
class HeldPoll implements WaitEndListener {
  constructor(
    private readonly reply: HeldReply,
    private readonly projectId: string,
    private readonly id: string,
    private readonly routes: Routes,
  ) {}

  waitEnded(end: WaitEnd): void {
    if (end.why !== 'gone') void this.answer(end)
  }

  private async answer(end: WaitEnd): Promise<void> {
    const { store, wire } = this.routes
    try {
      // The event carries the new record (and, when this process wrote it, its audit event); its id is the one asked for and was found in this project.
      const answer = end.why === 'changed' ? await wire(end.event.approval, end.event.ownEvent) : await wire(await found(store.getApproval(this.projectId, this.id)))
      this.reply.send(200, answer)
    } catch (error) {
      this.reply.fail(error instanceof Error ? error : new Error(String(error)))
    }
  }
}

/** The answer when the approval is missing or no longer pending (the wait is then cancelled); `null` to keep waiting. */
async function unlessPending(store: Store, projectId: string, id: string, wait: Wait, wire: Routes['wire']): Promise<WireApproval | null> {
  let current: Approval | null
  try {
    current = await store.getApproval(projectId, id)
  } catch (error) {
    wait.cancel()
    throw error
  }
  if (current && current.status === 'pending') return null
  wait.cancel()
  return wire(await found(Promise.resolve(current)))
}

function listRoute(app: FastifyInstance, { store, wire }: Routes): void {
  app.get<{ Querystring: ApprovalFilter }>(
    '/approvals',
    { config: { scopes: ['request', 'decide'] }, schema: { querystring: ref('listQuery'), response: { 200: ref('approvalPage'), '4xx': ref('apiError') } } },
    async (request) => {
      const { project } = callerOf(request)
      const page = await store.listApprovals(project.id, request.query)
      return { items: await Promise.all(page.items.map((approval) => wire(approval))), next_cursor: page.next_cursor }
    },
  )
}

function decisionRoute(app: FastifyInstance, { approvals, wire }: Routes): void {
  app.post<{ Params: { id: string }; Body: { decision: Decision; reason?: Reason } }>(
    '/approvals/:id/decision',
    { config: { scopes: ['decide'] }, schema: { params: ref('approvalIdParams'), body: ref('decisionBody'), response: recordResponses } },
    async (request) => {
      const caller = callerOf(request)
      const outcome = await approvals.decide(caller.project, request.params.id, { decision: request.body.decision, reason: reasonOf(request.body.reason), actor: caller.actor })
      return answerChange(outcome, wire)
    },
  )
}

function cancelRoute(app: FastifyInstance, { approvals, store, wire }: Routes): void {
  app.post<{ Params: { id: string }; Body: { reason?: Reason; timed_out?: boolean } }>(
    '/approvals/:id/cancel',
    {
      config: { scopes: ['request'] },
      // Clients often POST no body at all to withdraw; treat that as `{}`.
      preValidation: async (request: FastifyRequest) => {
        if (request.body === undefined || request.body === null) request.body = {}
      },
      schema: { params: ref('approvalIdParams'), body: ref('cancelBody'), response: recordResponses },
    },
    async (request) => {
      const caller = callerOf(request)
      if (caller.requester) await checkOwnRun(store, caller, request.params.id)
      const result = await approvals.cancel(caller.project, request.params.id, {
        reason: reasonOf(request.body.reason),
        actor: caller.actor,
        timedOut: request.body.timed_out === true,
      })
      return answerChange(result, wire)
    },
  )
}

/** A workflow identity withdraws only what its own run (same issuer, repository and run id) requested. */
async function checkOwnRun(store: Store, caller: Caller, id: string): Promise<void> {
  const approval = await store.getApproval(caller.project.id, id)
  if (!approval) return // the service answers 404
  const mine = approval.requester_claims
  const me = caller.requester
  if (!mine || !me || mine.issuer !== me.issuer || mine.repository.toLowerCase() !== me.repository.toLowerCase() || mine.run_id !== me.run_id) {
    throw new ApiError(403, 'forbidden', 'a workflow identity may withdraw only the requests of its own run')
  }
}

/** The changed record, or the error that says why nothing changed. */
async function answerChange(outcome: DecideOutcome | null, wire: Routes['wire']): Promise<WireApproval> {
  if (!outcome) throw notFound()
  if (outcome.changed) return wire(outcome.approval, outcome.event)
  if ('refused' in outcome) {
    const approval = await wire(outcome.approval)
    switch (outcome.refused) {
      case 'self_approval': {
        const message =
          outcome.rule === 'requesting_key'
            ? 'the API key that created this request cannot decide it: a different key or a person must'
            : 'this project does not let the person who triggered the run decide it'
        throw new ApiError(403, 'self_approval', message, { approval })
      }
      case 'not_eligible':
        throw new ApiError(403, 'not_eligible', outcome.message, { approval })
      case 'outside_window':
        throw new ApiError(403, 'outside_window', outcome.message, { approval, opens_at: outcome.opens_at })
      case 'already_voted':
        throw new ApiError(409, 'already_voted', outcome.message, { approval })
    }
  }
  throw new ApiError(409, 'conflict', `this approval is already ${outcome.approval.status}`, { approval: await wire(outcome.approval) })
}

/** An empty reason is no reason. */
function reasonOf(reason: Reason): string | null {
  return reason ? reason : null
}

/** Checked before anything serialises the context (JSON.stringify recurses). */
function checkContext(context: Record<string, unknown>): void {
  if (nestsDeeperThan(context, MAX_CONTEXT_DEPTH)) {
    throw new ApiError(400, 'invalid_request', `body.context is nested more than ${MAX_CONTEXT_DEPTH} levels deep`)
  }
  if (jsonBytes(context) > MAX_CONTEXT_BYTES) {
    throw new ApiError(413, 'payload_too_large', `body.context is larger than ${MAX_CONTEXT_BYTES / 1024} KB of JSON`)
  }
}

function rateLimited(waitMs: number): ApiError {
  const seconds = Math.max(1, Math.ceil(waitMs / 1000))
  return new ApiError(429, 'rate_limited', `this API key is creating approvals faster than the server allows; retry in ${seconds} s`, {}, { 'retry-after': String(seconds) })
}

async function found(lookup: Promise<Approval | null>): Promise<Approval> {
  const approval = await lookup
  if (!approval) throw notFound()
  return approval
}

function notFound(): ApiError {
  return new ApiError(404, 'not_found', 'no approval with this id in this project')
}
