/**
 * The HTTP application: `/v1` API routes (with key auth), `/healthz`, the dashboard, JSON
 * errors everywhere, security headers on API responses, and a shutdown that answers every
 * waiting long-poll with its current record before the listener closes.
 */
import type { Server } from 'node:http'
import Fastify, { type FastifyHttpOptions, type FastifyInstance, type FastifyServerFactory, type FastifyServerOptions } from 'fastify'
import type { ApprovalService, Notifier } from './approvals/contracts.js'
import type { AuditVerificationCacheOptions } from './dashboard/audit-verification-cache.js'
import { dashboardPlugin, type DashboardTuning } from './dashboard/index.js'
import type { SsoOptions } from './dashboard/sso.js'
import { addApiKeyAuth } from './http/auth.js'
import { OidcVerifier, type OidcVerifierOptions } from './http/oidc.js'
import { ApiError, errorBody, handleClientError, handleError, handleFrameworkError } from './http/errors.js'
import { MAX_BODY_BYTES, MAX_ID_CHARS } from './http/input-rules.js'
import { OneLineRequestLog } from './http/request-log.js'
import { commonResponseHeaders } from './http/response-headers.js'
import { buildStrictBodyValidator } from './http/validator.js'
import { LongPolls } from './approvals/long-poll.js'
import { approvalRoutes } from './http/approval-routes.js'
import { DEFAULT_CREATE_RATE_LIMIT, type RateLimit } from './http/create-rate-limit.js'
import { auditRoutes } from './http/audit-routes.js'
import { githubWebhookRoutes } from './github/webhook-route.js'
import type { Store } from './store/types.js'
import { slackInteractivityRoutes } from './slack/interactivity-routes.js'
import { DEFAULT_SLACK_API_URL } from './slack/slack-api.js'
import type { ChannelService } from './admin/channel-service.js'

export interface AppDeps {
  store: Store
  notifier: Notifier
  approvals: ApprovalService
  /** Absolute base URL of the server as people reach it (links in records and the dashboard). */
  publicUrl: string
  /** Fastify's logger option (pino): one line per request at `info`. Default off. */
  logger?: FastifyServerOptions['logger']
  /**
   * Trust `X-Forwarded-*` from a reverse proxy (Fastify's `trustProxy`: `true`,
   * or addresses/CIDRs). Off by default: only enable it behind a proxy you run.
   */
  trustProxy?: boolean | string | string[]
  /** Largest request body in bytes. Default 256 KB. */
  bodyLimit?: number
  /** Serve on this (already listening) node server instead of one Fastify creates. */
  serverFactory?: FastifyServerFactory<Server>
  /** Creates per API key (default 600 a minute); `null` turns the limit off. */
  createRateLimit?: RateLimit | null
  /** Workflow identities (OIDC bearer tokens): fetch timeout, key cooldown and cache of issuers' keys. */
  oidc?: OidcVerifierOptions
  /** The dashboard's audit-verification reuse (default 60 s while the chain head is unchanged). */
  auditVerification?: AuditVerificationCacheOptions
  /** The dashboard's sign-in and live-stream limits (defaults unless given). */
  dashboard?: DashboardTuning
  /** The GitHub App's webhook (`POST /integrations/github/webhook`); off when not given. */
  github?: { webhookSecret: string; onGateCreated: (approvalId: string) => void }
  /** "Sign in with <provider>" on the dashboard (OpenID Connect single sign-on). */
  sso?: SsoOptions
  /** Password sign-in on the dashboard (default true); false needs `sso`. */
  passwordLogin?: boolean
  /** Slack's Web API base URL for the replies to Slack interactions (default `https://slack.com/api/`). */
  slackApiUrl?: string
  /** Notification channels (the dashboard's settings page) and a way to wake the delivery worker. */
  notifications?: { channels: ChannelService; wake: () => void }
}

/** Builds the app without listening; `app.close()` answers waiting long-polls first. */
export async function buildApp(deps: AppDeps): Promise<FastifyInstance> {
  const publicUrl = deps.publicUrl.replace(/\/+$/, '')
  const app = Fastify(fastifyOptions(deps))
  const longPolls = new LongPolls(deps.notifier)
  addLifecycle(app, longPolls)
  app.get('/healthz', async () => ({ status: 'ok', waiting: longPolls.size }))

  await app.register(
    async (api) => {
      addApiKeyAuth(api, deps.store, new OidcVerifier(deps.store, deps.oidc))
      await api.register(approvalRoutes, {
        store: deps.store,
        approvals: deps.approvals,
        longPolls,
        publicUrl,
        createRateLimit: deps.createRateLimit === undefined ? DEFAULT_CREATE_RATE_LIMIT : deps.createRateLimit,
      })
      await api.register(auditRoutes, { store: deps.store })
    },
    { prefix: '/v1' },
  )

  if (deps.github) {
    await app.register(githubWebhookRoutes, { store: deps.store, approvals: deps.approvals, publicUrl, ...deps.github })
  }
  await app.register(slackInteractivityRoutes, {
    store: deps.store,
    approvals: deps.approvals,
    publicUrl,
    slackApiUrl: deps.slackApiUrl ?? DEFAULT_SLACK_API_URL,
  })

  await app.register(dashboardPlugin, {
    store: deps.store,
    approvals: deps.approvals,
    notifier: deps.notifier,
    publicUrl,
    secureCookies: publicUrl.startsWith('https://'),
    auditVerification: deps.auditVerification,
    tuning: deps.dashboard,
    sso: deps.sso,
    passwordLogin: deps.passwordLogin,
    channels: deps.notifications?.channels,
    wakeDeliveries: deps.notifications?.wake,
  })
  return app
}

function fastifyOptions(deps: AppDeps): FastifyHttpOptions<Server> {
  const options: FastifyHttpOptions<Server> = {
    logger: deps.logger ?? false,
    // One line per request instead of Fastify's two, /healthz only at debug.
    logController: new OneLineRequestLog(),
    trustProxy: deps.trustProxy ?? false,
    bodyLimit: deps.bodyLimit ?? MAX_BODY_BYTES,
    // We answer 503 ourselves, in the API's error shape, while shutting down.
    return503OnClosing: false,
    // Long-polls hold requests up to 60 s; the socket must outlive them.
    keepAliveTimeout: 65_000,
    schemaController: { compilersFactory: { buildValidator: buildStrictBodyValidator } },
    // Ids up to the documented length reach the routes (and get 404); the router's default stops at 100.
    routerOptions: { maxParamLength: MAX_ID_CHARS },
    // Malformed URLs and requests that never parse answer in the API's error shape too.
    frameworkErrors: handleFrameworkError,
    clientErrorHandler: handleClientError,
  }
  if (deps.serverFactory) options.serverFactory = deps.serverFactory
  return options
}

/** Errors and 404s in the API's shape, security headers, and a shutdown that releases every long-poll. */
function addLifecycle(app: FastifyInstance, longPolls: LongPolls): void {
  let closing = false
  app.setErrorHandler(handleError)
  app.setNotFoundHandler((request, reply) => {
    void reply
      .code(404)
      .header('cache-control', 'no-store')
      .send(errorBody('not_found', `no route ${request.method} ${request.url.split('?')[0].slice(0, 200)}`))
  })
  app.addHook('onRequest', async () => {
    if (closing) throw new ApiError(503, 'service_unavailable', 'the server is shutting down; retry shortly')
  })
  app.addHook('onSend', async (request, reply) => {
    reply.headers(commonResponseHeaders(request.url))
  })
  // preClose runs before the listener stops: end every wait so each answers with its record.
  app.addHook('preClose', async () => {
    closing = true
    longPolls.releaseAll()
  })
}

