/**
 * The dashboard: server-rendered pages for approvers and admins, with a small script for
 * live updates. Everything is registered in its own encapsulated scope, so the form parser,
 * the security headers and the error pages never touch the JSON API under /v1.
 */
import type { FastifyError, FastifyInstance } from 'fastify'
import type { ApprovalService, Notifier } from '../approvals/contracts.js'
import { isStoreError } from '../store/errors.js'
import type { Store } from '../store/types.js'
import { loadAssets } from './assets.js'
import { AuditVerificationCache, type AuditVerificationCacheOptions } from './audit-verification-cache.js'
import { html } from './html.js'
import { AdminService } from '../admin/admin-service.js'
import { ChannelService } from '../admin/channel-service.js'
import { DEFAULT_SIGN_IN_LIMITS, HashGate, LoginLimiter, type SignInLimits } from './rate-limit.js'
import { registerAccountRoutes } from './routes/account-pages.js'
import { registerApprovalRoutes } from './routes/approval-pages.js'
import { registerAuditRoutes } from './routes/audit-pages.js'
import { registerAuthRoutes } from './routes/sign-in-pages.js'
import { refuseForbidden, sendHtml, wantsJson, type DashboardDeps } from './routes/common.js'
import { registerEventRoutes, type LiveStreamOptions } from './routes/event-stream.js'
import { registerSettingsRoutes } from './routes/settings-pages.js'
import { registerNotificationRoutes } from './routes/notification-pages.js'
import { registerFormParser, registerSecurityHooks } from './security.js'
import { Sessions } from './session.js'
import { page } from './views/layout.js'

export interface DashboardOptions {
  store: Store
  approvals: ApprovalService
  notifier: Notifier
  /** Absolute base URL the server is reached at, e.g. `http://127.0.0.1:8080`. */
  publicUrl: string
  /** Set the `Secure` cookie flag (the server is behind https). */
  secureCookies: boolean
  /** How long the audit page reuses a chain verification (default 60 s); tests inject a clock. */
  auditVerification?: AuditVerificationCacheOptions
  /** Sign-in and live-stream limits (defaults suit a real server; tests tighten them). */
  tuning?: DashboardTuning
  /** The channel service (with the server's private-webhook rule); default: one that refuses private webhooks. */
  channels?: ChannelService
  /** Wakes the delivery worker (after a redelivery). */
  wakeDeliveries?: () => void
}

export interface DashboardTuning {
  signInLimits?: Partial<SignInLimits>
  /** The bound on concurrent password hashes (tests hold its slots). */
  hashGate?: HashGate
  liveStreams?: Partial<LiveStreamOptions>
  /** How long a decided card stays on the live home page before it leaves (default 6 s, the page script's); tests shorten it. */
  resolvedCardLingerMs?: number
}

/** Registers the dashboard's routes (`/`, `/login`, `/approvals/:id`, `/audit`, `/settings…`, `/events`, `/assets/…`). */
export async function dashboardPlugin(app: FastifyInstance, options: DashboardOptions): Promise<void> {
  await app.register(async (scope) => {
    const limits = { ...DEFAULT_SIGN_IN_LIMITS, ...options.tuning?.signInLimits }
    const deps: DashboardDeps = {
      store: options.store,
      approvals: options.approvals,
      notifier: options.notifier,
      publicUrl: options.publicUrl,
      sessions: new Sessions(options.store, options.secureCookies),
      admin: new AdminService(options.store),
      channels: options.channels ?? new ChannelService(options.store),
      wakeDeliveries: options.wakeDeliveries,
      loginLimiter: new LoginLimiter({ maxFailures: limits.accountMaxFailures, windowMs: limits.accountWindowMs, maxKeys: 10_000 }),
      ipLimiter: new LoginLimiter({ maxFailures: limits.ipMaxFailures, windowMs: limits.ipWindowMs, maxKeys: 10_000 }),
      hashGate: options.tuning?.hashGate ?? new HashGate(limits.maxConcurrentHashes),
      auditVerifications: new AuditVerificationCache(options.store, options.auditVerification),
      resolvedCardLingerMs: options.tuning?.resolvedCardLingerMs,
    }
    registerFormParser(scope)
    registerSecurityHooks(scope, options.publicUrl, refuseForbidden)
    registerAssetRoutes(scope)
    registerAuthRoutes(scope, deps)
    registerApprovalRoutes(scope, deps)
    registerEventRoutes(scope, deps, options.tuning?.liveStreams)
    registerAccountRoutes(scope, deps)
    registerAuditRoutes(scope, deps)
    registerSettingsRoutes(scope, deps)
    registerNotificationRoutes(scope, deps)

    scope.setErrorHandler((error: FastifyError, request, reply) => {
      const status = isStoreError(error) ? STORE_ERROR_STATUS[error.code] : error.statusCode && error.statusCode >= 400 && error.statusCode < 500 ? error.statusCode : 500
      if (status === 500) request.log.error({ err: error }, 'dashboard error')
      const integrity = error.code === 'integrity_error'
      const message = integrity ? error.message : status === 500 ? 'Something went wrong on the server. Try again; if it keeps happening, check the server log.' : error.message
      if (wantsJson(request)) return reply.code(status).send({ error: { code: integrity ? 'integrity_error' : status === 500 ? 'internal' : 'bad_request', message } })
      return sendHtml(reply, status, page({ title: 'Error', viewer: null, section: 'none', main: html`<h1>Error ${String(status)}</h1><p>${message}</p><p><a href="/">Back to the dashboard</a></p>` }))
    })
  })
}

/** A store refusal caused by the request (a tampered cursor, say) is the visitor's error, not the server's. */
const STORE_ERROR_STATUS = { invalid: 400, not_found: 404, conflict: 409 } as const

function registerAssetRoutes(app: FastifyInstance): void {
  const assets = loadAssets()
  if (!assets.has('live.js')) app.log.warn('dashboard: lib/server/dashboard/client/live.js not found (run `npm run build`); live updates are off')
  app.get<{ Params: { name: string } }>('/assets/:name', async (request, reply) => {
    const asset = assets.get(request.params.name)
    if (!asset) return reply.code(404).type('text/plain; charset=utf-8').send('No such asset.')
    reply.header('cache-control', 'no-cache').header('etag', asset.etag).type(asset.contentType)
    if (request.headers['if-none-match'] === asset.etag) return reply.code(304).send()
    return reply.send(asset.body)
  })
}
