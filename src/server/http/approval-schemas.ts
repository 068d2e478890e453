/**
 * The JSON schemas of `/v1/approvals`, registered once per scope with `app.addSchema` and
 * referenced by `$id` from each route: the wire record, the error body, and each route's
 * params, query, headers and body. Every limit and pattern comes from `src/contract/`.
 */
import type { FastifyInstance } from 'fastify'
import { APPROVAL_STATUSES, DECISION_VERBS, NAME_PATTERN, OPTIONAL_NAME_PATTERN } from '../../contract/index.js'
import {
  MAX_ACTION_CHARS,
  MAX_AGENT_CHARS,
  MAX_ID_CHARS,
  MAX_IDEMPOTENCY_KEY_CHARS,
  MAX_TIMEOUT_MS,
  MAX_WAIT_SECONDS,
  MIN_TIMEOUT_MS,
  reasonSchema,
} from './input-rules.js'
import { wireApprovalSchema } from './wire.js'

/** `{ $ref }` to a schema registered by `addApprovalSchemas`. */
export const ref = (id: keyof typeof SCHEMAS) => ({ $ref: `${id}#` }) as const

const nullableReason = { ...reasonSchema, type: ['string', 'null'] } as const

const SCHEMAS = {
  approval: wireApprovalSchema,
  apiError: {
    type: 'object',
    properties: {
      error: { type: 'object', properties: { code: { type: 'string' }, message: { type: 'string' } } },
      approval: { $ref: 'approval#' },
      /** `outside_window`: the next opening of the rule's windows. */
      opens_at: { type: ['string', 'null'] },
    },
  },
  approvalPage: {
    type: 'object',
    properties: { items: { type: 'array', items: { $ref: 'approval#' } }, next_cursor: { type: ['string', 'null'] } },
  },
  approvalIdParams: {
    type: 'object',
    required: ['id'],
    properties: { id: { type: 'string', minLength: 1, maxLength: MAX_ID_CHARS } },
  },
  createHeaders: {
    type: 'object',
    properties: { 'idempotency-key': { type: 'string', minLength: 1, maxLength: MAX_IDEMPOTENCY_KEY_CHARS, pattern: '^[\\x20-\\x7E]+$' } },
  },
  createBody: {
    type: 'object',
    required: ['action'],
    properties: {
      action: { type: 'string', minLength: 1, maxLength: MAX_ACTION_CHARS, pattern: NAME_PATTERN },
      context: { type: 'object' },
      agent: { type: ['string', 'null'], maxLength: MAX_AGENT_CHARS, pattern: OPTIONAL_NAME_PATTERN },
      timeout_ms: { type: 'integer', minimum: MIN_TIMEOUT_MS, maximum: MAX_TIMEOUT_MS },
    },
  },
  waitQuery: {
    type: 'object',
    properties: { wait: { type: 'number', exclusiveMinimum: 0, maximum: MAX_WAIT_SECONDS } },
  },
  listQuery: {
    type: 'object',
    properties: {
      status: { type: 'string', enum: [...APPROVAL_STATUSES] },
      action: { type: 'string', maxLength: MAX_ACTION_CHARS },
      agent: { type: 'string', maxLength: MAX_AGENT_CHARS },
      decided_by: { type: 'string', maxLength: 320 },
      cursor: { type: 'string', maxLength: 200 },
      limit: { type: 'integer', minimum: 1, maximum: 200 },
    },
  },
  decisionBody: {
    type: 'object',
    required: ['decision'],
    properties: { decision: { type: 'string', enum: [...DECISION_VERBS] }, reason: nullableReason },
  },
  // `timed_out`: the requester withdraws because its own deadline passed (recorded as expired).
  cancelBody: { type: 'object', properties: { reason: nullableReason, timed_out: { type: 'boolean' } } },
} as const

/** Registers every schema above in `app`'s scope. */
export function addApprovalSchemas(app: FastifyInstance): void {
  for (const [id, schema] of Object.entries(SCHEMAS)) app.addSchema({ $id: id, ...schema })
}

/** The response map of a route answering one record: `200` (and `201`), or an error body. */
export const recordResponses = { 200: ref('approval'), '4xx': ref('apiError') } as const
