/**
 * `/v1/approvals`: create, get (with `?wait=` long-poll), list, decision and cancel — the
 * JamJet-compatible wire contract (README "Wire contract", `src/contract/`). Each route: schema, scopes, one service or
 * store call, reply.
 */
import type { FastifyInstance } from 'fastify'
import type { ApprovalService } from '../approvals/contracts.js'
import { callerOf } from './auth.js'
import { ApiError } from './errors.js'
import {
  MAX_ACTION_CHARS,
  MAX_AGENT_CHARS,
  MAX_CONTEXT_BYTES,
  MAX_CONTEXT_DEPTH,
  MAX_ID_CHARS,
  MAX_IDEMPOTENCY_KEY_CHARS,
  MAX_TIMEOUT_MS,
  MAX_WAIT_SECONDS,
  MIN_TIMEOUT_MS,
  jsonBytes,
  nestsDeeperThan,
  optionalLine,
  printableLine,
  reasonSchema,
} from './input-rules.js'
import { errorResponseSchema, provenWire, wireApprovalSchema } from './wire.js'
import type { LongPolls } from '../approvals/long-poll.js'
import type { Approval, ApprovalFilter, ApprovalStatus, Decision, Store } from '../store/types.js'

export interface ApprovalRoutesOptions {
  store: Store
  approvals: ApprovalService
  longPolls: LongPolls
  publicUrl: string
}

const idParams = {
  type: 'object',
  required: ['id'],
  properties: { id: { type: 'string', minLength: 1, maxLength: MAX_ID_CHARS } },
} as const

const STATUSES: ApprovalStatus[] = ['pending', 'approved', 'rejected', 'expired', 'cancelled']

const errors = { '4xx': errorResponseSchema }
const nullableReason = { ...reasonSchema, type: ['string', 'null'] } as const

interface CreateBody {
  action: string
  context?: Record<string, unknown>
  agent?: string | null
  timeout_ms?: number
}

/** The list query (checked by the route's schema) is handed to the store as its filter. */
type ListQuery = ApprovalFilter

export async function approvalRoutes(app: FastifyInstance, options: ApprovalRoutesOptions): Promise<void> {
  const { store, approvals, longPolls, publicUrl } = options
  // The one place records become answers: a settled status is sent only when its audit event proves it.
  const wire = (approval: Approval) => provenWire(store, approval, publicUrl)

  app.post<{ Body: CreateBody; Headers: { 'idempotency-key'?: string } }>(
    '/approvals',
    {
      config: { scopes: ['request'] },
      schema: {
        headers: {
          type: 'object',
          properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_CHARS, pattern: '^[\\x20-\\x7E]+$' } },
        },
        body: {
          type: 'object',
          required: ['action'],
          properties: {
            action: printableLine(MAX_ACTION_CHARS),
            context: { type: 'object' },
            agent: { ...optionalLine(MAX_AGENT_CHARS), type: ['string', 'null'] },
            timeout_ms: { type: 'integer', minimum: MIN_TIMEOUT_MS, maximum: MAX_TIMEOUT_MS },
          },
        },
        response: { 200: wireApprovalSchema, 201: wireApprovalSchema, ...errors },
      },
    },
    async (request, reply) => {
      const caller = callerOf(request)
      const { action, context = {}, agent, timeout_ms } = request.body
      // Checked before anything serialises the context (JSON.stringify recurses).
      if (nestsDeeperThan(context, MAX_CONTEXT_DEPTH)) {
        throw new ApiError(400, 'invalid_request', `body.context is nested more than ${MAX_CONTEXT_DEPTH} levels deep`)
      }
      if (jsonBytes(context) > MAX_CONTEXT_BYTES) {
        throw new ApiError(413, 'payload_too_large', `body.context is larger than ${MAX_CONTEXT_BYTES / 1024} KB of JSON`)
      }
      const { approval, created } = await approvals.create(caller.project, {
        action,
        context,
        agent: agent ? agent : null,
        timeout_ms,
        idempotency_key: request.headers['idempotency-key'] ?? null,
        requested_by: caller.actor.label,
      })
      return reply.code(created ? 201 : 200).send(await wire(approval))
    },
  )

  app.get<{ Params: { id: string }; Querystring: { wait?: number } }>(
    '/approvals/:id',
    {
      config: { scopes: ['request', 'decide'] },
      schema: {
        params: idParams,
        querystring: {
          type: 'object',
          properties: { wait: { type: 'number', exclusiveMinimum: 0, maximum: MAX_WAIT_SECONDS } },
        },
        response: { 200: wireApprovalSchema, ...errors },
      },
    },
    async (request, reply) => {
      const { project } = callerOf(request)
      const { id } = request.params
      const waitSeconds = request.query.wait
      if (waitSeconds === undefined) return wire(await found(store.getApproval(project.id, id)))
      // The schema's coercion lets "Infinity" through; a timer cannot hold it.
      if (!Number.isFinite(waitSeconds)) throw new ApiError(400, 'invalid_request', `query.wait must be a number of seconds, > 0 and <= ${MAX_WAIT_SECONDS}`)

      // Subscribe first, then read: a change between the two still wakes this request.
      const wait = longPolls.begin(id, Math.round(waitSeconds * 1000), reply.raw)
      let current: Approval | null
      try {
        current = await store.getApproval(project.id, id)
      } catch (error) {
        wait.cancel()
        throw error
      }
      if (!current || current.status !== 'pending') {
        wait.cancel()
        return wire(await found(Promise.resolve(current)))
      }
      const end = await wait.ended
      // The event carries the new record; its id is the one asked for and was found in this project.
      if (end.why === 'changed') return wire(end.event.approval)
      return wire(await found(store.getApproval(project.id, id)))
    },
  )

  app.get<{ Querystring: ListQuery }>(
    '/approvals',
    {
      config: { scopes: ['request', 'decide'] },
      schema: {
        querystring: {
          type: 'object',
          properties: {
            status: { type: 'string', enum: STATUSES },
            action: { type: 'string', maxLength: MAX_ACTION_CHARS },
            agent: { type: 'string', maxLength: MAX_AGENT_CHARS },
            decided_by: { type: 'string', maxLength: 320 },
            cursor: { type: 'string', maxLength: 200 },
            limit: { type: 'integer', minimum: 1, maximum: 200 },
          },
        },
        response: {
          200: {
            type: 'object',
            properties: { items: { type: 'array', items: wireApprovalSchema }, next_cursor: { type: ['string', 'null'] } },
          },
          ...errors,
        },
      },
    },
    async (request) => {
      const { project } = callerOf(request)
      const page = await store.listApprovals(project.id, request.query)
      return { items: await Promise.all(page.items.map(wire)), next_cursor: page.next_cursor }
    },
  )

  app.post<{ Params: { id: string }; Body: { decision: Decision; reason?: string | null } }>(
    '/approvals/:id/decision',
    {
      config: { scopes: ['decide'] },
      schema: {
        params: idParams,
        body: {
          type: 'object',
          required: ['decision'],
          properties: { decision: { type: 'string', enum: ['approve', 'reject'] }, reason: nullableReason },
        },
        response: { 200: wireApprovalSchema, ...errors },
      },
    },
    async (request) => {
      const caller = callerOf(request)
      const outcome = await approvals.decide(caller.project, request.params.id, {
        decision: request.body.decision,
        reason: request.body.reason ? request.body.reason : null,
        actor: caller.actor,
      })
      if (!outcome) throw notFound()
      if (outcome.changed) return wire(outcome.approval)
      if ('refused' in outcome) {
        throw new ApiError(403, 'self_approval', 'this project does not let the person who triggered the run decide it', { approval: await wire(outcome.approval) })
      }
      throw await conflict(outcome.approval, wire)
    },
  )

  app.post<{ Params: { id: string }; Body: { reason?: string | null; timed_out?: boolean } | undefined }>(
    '/approvals/:id/cancel',
    {
      config: { scopes: ['request'] },
      // Clients often POST no body at all to withdraw; treat that as `{}`.
      preValidation: async (request) => {
        if (request.body === undefined || request.body === null) request.body = {}
      },
      schema: {
        params: idParams,
        // `timed_out`: the requester withdraws because its own deadline passed (recorded as expired).
        body: { type: 'object', properties: { reason: nullableReason, timed_out: { type: 'boolean' } } },
        response: { 200: wireApprovalSchema, ...errors },
      },
    },
    async (request) => {
      const caller = callerOf(request)
      const result = await approvals.cancel(caller.project, request.params.id, {
        reason: request.body?.reason ? request.body.reason : null,
        actor: caller.actor,
        timedOut: request.body?.timed_out === true,
      })
      if (!result) throw notFound()
      if (result.changed) return wire(result.approval)
      throw await conflict(result.approval, wire)
    },
  )
}

async function found(lookup: Promise<Approval | null>): Promise<Approval> {
  const approval = await lookup
  if (!approval) throw notFound()
  return approval
}

function notFound(): ApiError {
  return new ApiError(404, 'not_found', 'no approval with this id in this project')
}

async function conflict(approval: Approval, wire: (approval: Approval) => Promise<unknown>): Promise<ApiError> {
  return new ApiError(409, 'conflict', `this approval is already ${approval.status}`, { approval: await wire(approval) })
}
