/**
 * Starts the approvals server: store, notifier, approval service, expiry timer, notification
 * delivery worker, HTTP app. `close()` shuts down in order: stop accepting, answer waiting
 * long-polls, stop the expiry timer and the delivery worker, close the store.
 */
import { mkdir, stat, writeFile } from 'node:fs/promises'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { join } from 'node:path'
import type { FastifyInstance } from 'fastify'
import { buildApp, type AppDeps } from './app.js'
import { createApprovalService } from './approvals/approval-service.js'
import type { Notifier } from './approvals/contracts.js'
import { ExpiryTimer } from './approvals/expiry-timer.js'
import { InMemoryNotifier } from './approvals/notifier.js'
import type { AuditKey } from './store/audit-key.js'
import { GithubCallbackWorker, type GithubCallbackWorkerOptions } from './github/callback-worker.js'
import type { GithubAppConfig } from './github/config.js'
// For `serve`, which loads the server module only on Node 24.
export { GithubAppConfigError, loadGithubAppConfig } from './github/config.js'
import { GithubAppClient, type DeploymentReviewer } from './github/github-api.js'
import { approvalUrl } from './http/wire.js'
import { ChannelService } from './admin/channel-service.js'
import { DeliveryWorker, wakingNotifier, type DeliveryWorkerOptions } from './notifications/delivery-worker.js'
import { OutboundHttp, type OutboundHttpOptions } from './notifications/outbound-http.js'
import { SenderRegistry } from './notifications/sender-registry.js'
import { createSlackSender } from './slack/slack-sender.js'
import type { ChannelSender } from './notifications/types.js'
import { WebhookSender } from './notifications/webhook-sender.js'
import type { EmailSenderOptions } from './notifications/email-sender.js'
import { openStore } from './store/index.js'
import type { Store } from './store/types.js'

/** File name of the embedded database inside the data directory. */
export const DATABASE_FILE = 'approval-gate.db'

/** How long `close()` lets in-flight requests finish before cutting their connections. */
const CLOSE_GRACE_MS = 10_000

/** A shared database for several replicas (instead of the embedded SQLite file). */
export interface DatabaseOptions {
  kind: 'postgres'
  /** `postgres://user:password@host:5432/dbname` */
  url: string
}

export interface StartServerOptions {
  /** Directory of the embedded database (created when missing). Not used when `store` or `database` is given. */
  dataDir: string
  /**
   * Run on PostgreSQL so several replicas share one database: the store (unless `store` is
   * given) and a LISTEN/NOTIFY notifier that wakes waiters on every replica.
   */
  database?: DatabaseOptions
  /** The clock policy windows are judged by (default the system clock); tests inject one. */
  clock?: () => Date
  /** Default `127.0.0.1`: only this machine. Use `0.0.0.0` to listen on every interface. */
  host?: string
  /** Default 8080; `0` picks a free port. */
  port?: number
  /** Base URL people reach the server at (links, cookie flags); default `http://<host>:<port>`. */
  publicUrl?: string
  /** Logs (pino): `true` for JSON at `info` on stdout, or Fastify's logger options (level, stream, redact). Default false. */
  logger?: AppDeps['logger']
  /** Trust `X-Forwarded-*` headers (see `AppDeps.trustProxy`). Default false. */
  trustProxy?: AppDeps['trustProxy']
  /** The dashboard's sign-in and live-stream limits (see `AppDeps.dashboard`). */
  dashboard?: AppDeps['dashboard']
  /** Creates per API key (see `AppDeps.createRateLimit`); default 600 a minute, `null` for none. */
  createRateLimit?: AppDeps['createRateLimit']
  /** Workflow identities: timeouts and caching of OIDC issuers' keys (see `AppDeps.oidc`). */
  oidc?: AppDeps['oidc']
  /** "Sign in with <provider>" on the dashboard (see `AppDeps.sso`). */
  sso?: AppDeps['sso']
  /** Password sign-in on the dashboard (default true; false needs `sso`). */
  passwordLogin?: AppDeps['passwordLogin']
  /** Use this store instead of opening `<dataDir>/approval-gate.db`; `close()` closes it too. */
  store?: Store
  /**
   * The audit chain's key (required with `database`). Default for the embedded database:
   * `<dataDir>/audit.key`, created 0600 on first start.
   */
  auditKey?: AuditKey
  /** Told when the default key file's permissions are wider than 0600. */
  onKeyWarning?: (message: string) => void
  /** Act as a GitHub App (deployment protection rule): its webhook route and the callback worker. */
  github?: GithubServerOptions
  /** Notification channels: who may be reached, extra senders, and the delivery worker's tuning. */
  notifications?: NotificationOptions
}

export interface GithubServerOptions {
  config: GithubAppConfig
  /** Retry timing of the callbacks (defaults unless given). */
  worker?: GithubCallbackWorkerOptions
  /** Who answers GitHub (default: the App client for `config`). */
  reviewer?: DeploymentReviewer
}

export interface NotificationOptions {
  /** Allow webhooks to loopback/private/link-local addresses and plain http (`--allow-private-webhooks`). Default false. */
  allowPrivateWebhooks?: boolean
  /** SMTP for email channels (`serve --smtp-url --mail-from`); without it email deliveries wait, retrying. */
  email?: EmailSenderOptions
  /** Senders of more channel kinds, beside the built-in webhook, Slack and email senders. */
  senders?: ChannelSender[]
  /** Slack's Web API base URL (`serve --slack-api-url`; default `https://slack.com/api/`): tests point it at a local stand-in. */
  slackApiUrl?: string
  /** Timeouts and answer cap of outbound HTTP (webhooks). */
  outbound?: Omit<OutboundHttpOptions, 'allowPrivate'>
  worker?: Pick<DeliveryWorkerOptions, 'concurrency' | 'attemptTimeoutMs' | 'retry' | 'pollMs' | 'reminderCheckMs'>
}

/** The notification parts of a running server. */
export interface RunningNotifications {
  worker: DeliveryWorker
  senders: SenderRegistry
  /** The channel admin service (the dashboard's and tests' way to add channels). */
  channels: ChannelService
  /** The outbound HTTP agent webhooks use (with the server's private-address rule). */
  http: OutboundHttp
  /** Stops the worker (attempts in flight are recorded for a retry) and closes the senders' connections. */
  close(): Promise<void>
}

export interface RunningServer {
  /** Where the server listens, e.g. `http://127.0.0.1:43123`. */
  url: string
  /** The public base URL used in links (`publicUrl` option, or `url`). */
  publicUrl: string
  app: FastifyInstance
  store: Store
  /** Wakes long-polls and live pages; with `database`, across replicas. */
  notifier: Notifier
  notifications: RunningNotifications
  /** Graceful shutdown; safe to call more than once. */
  close(): Promise<void>
}

/** Opens the store (unless given), starts listening and arms expiry. */
export async function startServer(options: StartServerOptions): Promise<RunningServer> {
  const host = options.host ?? '127.0.0.1'
  const store = options.store ?? (await openServerStore(options))
  // Notifier problems (a dropped LISTEN connection) go to the app's log once it exists.
  let logNotifierError = (error: unknown, what: string): void => void process.stderr.write(`approval-gate: ${what}: ${(error as Error)?.message ?? String(error)}\n`)
  let baseNotifier: Notifier
  try {
    baseNotifier = options.database ? await openPostgresNotifier(options.database, store, (error, what) => logNotifierError(error, what)) : new InMemoryNotifier()
  } catch (error) {
    await store.close().catch(() => {})
    throw error
  }
  const notificationOptions = options.notifications ?? {}
  const http = new OutboundHttp({ ...notificationOptions.outbound, allowPrivate: notificationOptions.allowPrivateWebhooks ?? false })
  // nodemailer is loaded only when email is configured: a server without it does not carry it.
  const email = notificationOptions.email ? new (await import('./notifications/email-sender.js')).EmailSender(store, notificationOptions.email) : null
  const senders = new SenderRegistry([new WebhookSender(http), createSlackSender({ apiUrl: notificationOptions.slackApiUrl }), ...(email ? [email] : []), ...(notificationOptions.senders ?? [])])
  let worker: DeliveryWorker | null = null
  const channels = new ChannelService(store, { allowPrivateWebhooks: notificationOptions.allowPrivateWebhooks })
  // Every event this process publishes also wakes the delivery worker: a new request goes out at once.
  const notifier = wakingNotifier(baseNotifier, () => worker?.wake())
  // Listen first so that with port 0 the real port is known before links are built.
  const { server, serve } = startingServer()

  let expiry: ExpiryTimer | null = null
  let callbacks: GithubCallbackWorker | null = null
  let app: FastifyInstance | null = null
  try {
    await listen(server, options.port ?? 8080, host)
    const url = `http://${urlHost(host)}:${(server.address() as AddressInfo).port}`
    const publicUrl = (options.publicUrl ?? url).replace(/\/+$/, '')
    const approvals = createApprovalService(store, notifier, { onCreated: (approval) => expiry?.consider(approval.expires_at), now: options.clock })
    app = await buildApp({
      store,
      notifier,
      approvals,
      publicUrl,
      logger: options.logger ?? false,
      trustProxy: options.trustProxy,
      dashboard: options.dashboard,
      createRateLimit: options.createRateLimit,
      oidc: options.oidc,
      github: options.github ? { webhookSecret: options.github.config.webhookSecret, onGateCreated: (approvalId) => callbacks?.watch(approvalId) } : undefined,
      sso: options.sso,
      passwordLogin: options.passwordLogin,
      slackApiUrl: notificationOptions.slackApiUrl,
      notifications: { channels, wake: () => worker?.wake() },
      serverFactory: (handler) => serve(handler),
    })
    await app.ready()
    const started = app
    logNotifierError = (error, what) => started.log.warn({ err: error }, what)
    worker = new DeliveryWorker(store, {
      ...notificationOptions.worker,
      senders,
      publicUrl,
      onError: (error, what) => started.log.warn({ err: { message: (error as Error)?.message ?? String(error) } }, what),
    })
    worker.start()
    const notifications: RunningNotifications = {
      worker,
      senders,
      http,
      channels,
      close: async () => {
        await worker?.stop()
        email?.close()
        await http.close().catch(() => {})
      },
    }
    expiry = new ExpiryTimer(approvals, {
      onError: (error) => started.log.error({ err: error }, 'expiry sweep failed'),
      alsoPrune: () => store.deleteExpiredSessions(new Date().toISOString()),
    })
    await expiry.start()
    if (options.github) {
      callbacks = githubCallbackWorker(options.github, store, notifier, publicUrl, started)
      await callbacks.start()
    }
    app.log.info({ url, publicUrl }, 'approval-gate server listening')

    let closing: Promise<void> | null = null
    const close = () => (closing ??= shutdown(server, started, expiry!, notifications, notifier, store, callbacks))
    // The notifier as opened (the PostgreSQL one with its reconnect state); the app publishes through the waking wrapper.
    return { url, publicUrl, app, store, notifier: baseNotifier, notifications, close }
  } catch (error) {
    await callbacks?.stop()
    await worker?.stop()
    email?.close()
    await http.close().catch(() => {})
    await expiry?.stop()
    await app?.close().catch(() => {})
    server.close()
    server.closeAllConnections()
    await notifier.close().catch(() => {})
    await store.close().catch(() => {})
    throw error
  }
}

/**
 * The node HTTP server, before the app exists: it answers 503 "starting" until `serve` hands
 * it the app's handler (so the port can be bound, and its number known, first).
 */
function startingServer(): { server: Server; serve: (handler: (request: IncomingMessage, response: ServerResponse) => void) => Server } {
  let handle: ((request: IncomingMessage, response: ServerResponse) => void) | null = null
  const server = createServer((request, response) => {
    if (handle) return handle(request, response)
    response.writeHead(503, { 'content-type': 'application/json', 'retry-after': '1' })
    response.end(JSON.stringify({ error: { code: 'service_unavailable', message: 'the server is starting' } }))
  })
  // Long-polls hold requests up to 60 s: idle keep-alive sockets must outlive them.
  server.keepAliveTimeout = 65_000
  server.headersTimeout = 66_000
  return {
    server,
    serve: (handler) => {
      handle = handler
      return server
    },
  }
}

/** The worker that answers GitHub for settled GitHub-originated approvals, logging to the app's log. */
function githubCallbackWorker(github: GithubServerOptions, store: Store, notifier: Notifier, publicUrl: string, app: FastifyInstance): GithubCallbackWorker {
  return new GithubCallbackWorker(store, notifier, github.reviewer ?? new GithubAppClient(github.config), (id) => approvalUrl(publicUrl, id), {
    ...github.worker,
    log: (level, message, fields) => app.log[level](fields, message),
  })
}

/** Stop accepting → answer waiters (app preClose) → let responses finish → stop timers, deliveries and GitHub answers → close the store. */
async function shutdown(server: Server, app: FastifyInstance, expiry: ExpiryTimer, notifications: RunningNotifications, notifier: Notifier, store: Store, callbacks: GithubCallbackWorker | null): Promise<void> {
  const stopped = new Promise<void>((resolve) => server.close(() => resolve()))
  await app.close()
  server.closeIdleConnections()
  const grace = setTimeout(() => server.closeAllConnections(), CLOSE_GRACE_MS)
  await stopped
  clearTimeout(grace)
  await callbacks?.stop()
  await expiry.stop()
  // Attempts in flight are abandoned and recorded for a retry; undelivered rows wait in the store.
  await notifications.close()
  await notifier.close()
  await store.close()
}

/** The cross-replica notifier, loaded on demand like the pg driver. */
async function openPostgresNotifier(database: DatabaseOptions, store: Store, onError: (error: unknown, what: string) => void): Promise<Notifier> {
  const { createPostgresNotifier } = await import('./approvals/postgres-notifier.js')
  return createPostgresNotifier({ connection: database.url, store, onError })
}

/** The store `startServer` opens when given none: PostgreSQL with `database`, else `<dataDir>/approval-gate.db`. */
export async function openServerStore(options: Pick<StartServerOptions, 'dataDir' | 'database' | 'auditKey' | 'onKeyWarning'>): Promise<Store> {
  return options.database
    ? openStore({ kind: 'postgres', connection: options.database.url, auditKey: options.auditKey })
    : openDataDir(options.dataDir, { auditKey: options.auditKey, onKeyWarning: options.onKeyWarning })
}

/**
 * Opens `<dataDir>/approval-gate.db` (audit key: `auditKey`, else `<dataDir>/audit.key`). The
 * directory is created 0700 and the database 0600 (SQLite gives its -wal and -shm files the
 * database's mode): they hold password hashes and every request's context. Existing ones with
 * wider permissions are used, with a warning.
 */
export async function openDataDir(dataDir: string, options: { auditKey?: AuditKey; onKeyWarning?: (message: string) => void } = {}): Promise<Store> {
  const warn = options.onKeyWarning ?? ((message: string) => void process.stderr.write(`approval-gate: warning: ${message}\n`))
  await mkdir(dataDir, { recursive: true, mode: 0o700 })
  const path = join(dataDir, DATABASE_FILE)
  // Create the file ourselves so it never exists with the umask's 0644, even for a moment.
  await writeFile(path, '', { flag: 'a', mode: 0o600 })
  await warnAboutWidePermissions(dataDir, warn)
  return openStore({ kind: 'sqlite', path, auditKey: options.auditKey, onKeyWarning: warn })
}

/** Warns about the data directory or a database file that others than the owner may read. */
async function warnAboutWidePermissions(dataDir: string, warn: (message: string) => void): Promise<void> {
  if (process.platform === 'win32') return
  const checks: Array<[string, number]> = [[dataDir, 0o700], ...['', '-wal', '-shm'].map((suffix): [string, number] => [join(dataDir, `${DATABASE_FILE}${suffix}`), 0o600])]
  for (const [path, wanted] of checks) {
    const mode = await stat(path).then((info) => info.mode & 0o777, () => null)
    if (mode !== null && (mode & 0o077) !== 0) {
      warn(`${path} is readable by others (mode ${mode.toString(8).padStart(4, '0')}); it holds password hashes and request contexts: chmod ${wanted.toString(8)} ${path}`)
    }
  }
}

function listen(server: Server, port: number, host: string): Promise<void> {
  return new Promise((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => {
      server.off('error', reject)
      resolve()
    })
  })
}

/** IPv6 literals need brackets in URLs. */
function urlHost(host: string): string {
  return host.includes(':') && !host.startsWith('[') ? `[${host}]` : host
}
