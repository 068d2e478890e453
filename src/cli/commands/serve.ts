/** `approval-gate serve`: runs the approvals server until SIGTERM/SIGINT. */
import { adminWithoutPassword, completeFirstRun, FIRST_ADMIN_EMAIL, FIRST_PROJECT_NAME, seedFirstRun, type FirstRun } from '../../server/admin/bootstrap.js'
import { parseRateLimit, type RateLimit } from '../../server/http/create-rate-limit.js'
import { isStoreError } from '../../server/store/errors.js'
import { logFormatOf, logLevelOf, serverLoggerOptions } from '../logging.js'
import { loadServer } from '../node-version.js'
import { SSO_FLAGS, SSO_HELP, ssoSettingsOf } from './serve-sso.js'
import { CliError, EXIT, flagOrEnv, line, parseCommand, UsageError, type CliIo, type Command } from '../cli-kit.js'
import type { Store } from '../../server/store/types.js'
import type { NotificationOptions } from '../../server/server.js'
import { AUDIT_KEY_HELP, describeStoreLocation, openStoreAt, STORE_FLAGS, storeLocationOf, type StoreLocation } from '../store-location.js'

export const serveCommand: Command = {
  name: 'serve',
  summary: 'run the approvals server (API + dashboard)',
  help: `
Usage: approval-gate serve [--port N] [--host ADDR] [--data DIR | --database-url URL] [--audit-key-file F] [--public-url URL]
                          [--oidc-issuer URL --oidc-client-id ID --oidc-client-secret-file F] [--password-login false]

Runs the approvals API and dashboard. On an empty data directory it creates the project
"default", an admin (admin@localhost) with a random password and an API key, and prints
them once. SIGTERM or SIGINT shut it down gracefully.

Options:
  --port N            port to listen on; 0 picks a free one (env APPROVAL_GATE_PORT, default 8080)
  --host ADDR         address to listen on (env APPROVAL_GATE_HOST, default 127.0.0.1: this machine only)
  --data DIR          data directory (env APPROVAL_GATE_DATA, default ./data)
  --database-url URL  use PostgreSQL instead of the embedded SQLite file, so several replicas
                      can share one database: postgres://USER:PASSWORD@HOST:5432/DB
                      (env APPROVAL_GATE_DATABASE_URL; --data is then not used)
  --public-url URL    base URL people reach the server at, for links and Secure cookies
                      (env APPROVAL_GATE_PUBLIC_URL, default http://HOST:PORT)
${AUDIT_KEY_HELP}.
                      Store and back it up apart from the database
  --trust-proxy VAL   trust X-Forwarded-* from a reverse proxy: "true", or its addresses/CIDRs
                      comma-separated (env APPROVAL_GATE_TRUST_PROXY, default off)
  --create-rate-limit RATE
                      approvals one API key may create: N/s, N/min or N/h, or off
                      (env APPROVAL_GATE_CREATE_RATE_LIMIT, default 600/min); over it the
                      API answers 429 with Retry-After
  --github-app-id ID  act as a GitHub App (deployment protection rule; see docs/github-app.md):
                      the App's id (env APPROVAL_GATE_GITHUB_APP_ID). Needs the two files below
  --github-app-key-file F
                      the App's private key, PEM (env APPROVAL_GATE_GITHUB_APP_KEY_FILE)
  --github-webhook-secret-file F
                      the App's webhook secret, at least 16 characters
                      (env APPROVAL_GATE_GITHUB_WEBHOOK_SECRET_FILE)
  --github-api-url URL
                      GitHub's REST API (env APPROVAL_GATE_GITHUB_API_URL, default
                      https://api.github.com; GitHub Enterprise Server: https://HOST/api/v3)
  --allow-private-webhooks
                      deliver webhooks to loopback/private/link-local addresses and plain
                      http (default: refused, so a project admin cannot reach internal
                      services through a webhook)
  --smtp-url URL      SMTP server for email channels: smtp://USER:PASS@HOST:587 or smtps://…
                      (env APPROVAL_GATE_SMTP_URL; without it email channels wait)
  --mail-from ADDR    the From address of notification mails (env APPROVAL_GATE_MAIL_FROM;
                      required with --smtp-url)
  --slack-api-url URL Slack's Web API base URL for Slack channels (env APPROVAL_GATE_SLACK_API_URL,
                      default https://slack.com/api/); tests point it at a local stand-in
${SSO_HELP}
  --log-level LEVEL   what the server logs on stdout: silent, error, warn, info (one line per
                      request), debug (also /healthz) or trace (env APPROVAL_GATE_LOG_LEVEL,
                      default warn: warnings and errors only)
  --log-format FMT    auto (readable lines on a terminal, JSON lines otherwise), json or text
                      (env APPROVAL_GATE_LOG_FORMAT, default auto)
  --quiet             no logs at all (same as --log-level silent)
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(
      this,
      args,
      io,
      {
        port: { type: 'string', short: 'p' },
        host: { type: 'string' },
        ...STORE_FLAGS,
        'public-url': { type: 'string' },
        'trust-proxy': { type: 'string' },
        'create-rate-limit': { type: 'string' },
        ...GITHUB_FLAGS,
        'allow-private-webhooks': { type: 'boolean' },
        'smtp-url': { type: 'string' },
        'mail-from': { type: 'string' },
        'slack-api-url': { type: 'string' },
        quiet: { type: 'boolean', short: 'q' },
        'log-level': { type: 'string' },
        'log-format': { type: 'string' },
        ...SSO_FLAGS,
      },
      { min: 0, max: 0 },
    )
    if (!parsed) return EXIT.ok
    const { values } = parsed
    const port = parsePort(flagOrEnv(values.port, io.env, 'APPROVAL_GATE_PORT', '8080')!)
    const host = flagOrEnv(values.host, io.env, 'APPROVAL_GATE_HOST', '127.0.0.1')!
    const publicUrl = parsePublicUrl(flagOrEnv(values['public-url'], io.env, 'APPROVAL_GATE_PUBLIC_URL'))
    const trustProxy = parseTrustProxy(flagOrEnv(values['trust-proxy'], io.env, 'APPROVAL_GATE_TRUST_PROXY'))
    const createRateLimit = parseCreateRateLimit(flagOrEnv(values['create-rate-limit'], io.env, 'APPROVAL_GATE_CREATE_RATE_LIMIT'))
    const slackApiUrl = parseSlackApiUrl(flagOrEnv(values['slack-api-url'], io.env, 'APPROVAL_GATE_SLACK_API_URL'))
    const notifications = notificationOptionsOf(values, io.env)
    const location = storeLocationOf(values, io.env, 'serve')
    const { sso, passwordLogin } = await ssoSettingsOf(values, io.env)
    const logger = serverLoggerOptions(logLevelOf(values['log-level'], io.env, values.quiet), logFormatOf(values['log-format'], io.env), io.stdout)
    const { startServer, loadGithubAppConfig, GithubAppConfigError } = await loadServer('serve')
    const githubFiles = githubAppFilesOf(values, io.env)
    let github
    try {
      github = githubFiles ? { config: await loadGithubAppConfig(githubFiles) } : undefined
    } catch (error) {
      throw error instanceof GithubAppConfigError ? new CliError(error.message) : error
    }

    const store = await openStoreAt(location, (message) => line(io.stderr, `approval-gate: warning: ${message}`))
    // Bind first: a port that is taken must fail before anything is created, so no
    // credentials are made that the banner never shows.
    let server
    try {
      server = await startServer({ ...location, host, port, publicUrl, store, logger, trustProxy, createRateLimit, github, sso, passwordLogin, notifications: { ...notifications, slackApiUrl } })
    } catch (error) {
      const code = (error as NodeJS.ErrnoException).code
      if (code === 'EADDRINUSE') throw new CliError(`port ${port} on ${host} is already in use; pick another with --port`)
      if (code === 'EACCES') throw new CliError(`not allowed to listen on ${host}:${port}; use a port above 1023`)
      throw error
    }
    let firstRun: FirstRun | null
    try {
      firstRun = await seedOnce(store, location)
    } catch (error) {
      await server.close()
      throw error
    }
    if (firstRun) {
      // The password becomes usable right before the banner shows it (nothing in between can fail but the write).
      await completeFirstRun(store, firstRun)
      printFirstRun(io, server.publicUrl, server.url, firstRun)
    } else {
      line(io.stderr, `approval-gate listening on ${server.url} (dashboard: ${server.publicUrl}/, data: ${describeStoreLocation(location)})`)
      if (await adminWithoutPassword(store)) line(io.stderr, NO_ADMIN_PASSWORD_HINT(location))
    }

    await waitForSignal(io)
    line(io.stderr, 'approval-gate: shutting down (answering waiting requests)…')
    await server.close()
    line(io.stderr, 'approval-gate: stopped')
    return EXIT.ok
  },
}

/** Seeds an empty store; replicas starting together on an empty database: one seeds it, the others find its project. */
async function seedOnce(store: Store, location: StoreLocation): Promise<FirstRun | null> {
  try {
    return await seedFirstRun(store)
  } catch (error) {
    if (location.database && isStoreError(error, 'conflict') && (await store.listProjects().catch(() => [])).length > 0) return null
    throw error
  }
}

/** What to do when the first start's banner was never printed (the process died first). */
function NO_ADMIN_PASSWORD_HINT(location: StoreLocation): string {
  const where = location.database ? '--database-url "$APPROVAL_GATE_DATABASE_URL"' : `--data ${JSON.stringify(location.dataDir)}`
  return `approval-gate: the admin ${FIRST_ADMIN_EMAIL} has no password yet (the first start's banner was never shown). Set one with:
  printf '%s' "$NEW_PASSWORD" | approval-gate user add ${FIRST_ADMIN_EMAIL} --project ${FIRST_PROJECT_NAME} --admin --password-stdin ${where}
and create an API key with: approval-gate keys create --project ${FIRST_PROJECT_NAME} --scope request ${where}`
}

const GITHUB_FLAGS = {
  'github-app-id': { type: 'string' },
  'github-app-key-file': { type: 'string' },
  'github-webhook-secret-file': { type: 'string' },
  'github-api-url': { type: 'string' },
} as const

/** The GitHub App's settings when any is given (then the id and both files are required); `undefined` when none is. */
function githubAppFilesOf(values: Partial<Record<keyof typeof GITHUB_FLAGS, string>>, env: NodeJS.ProcessEnv): { appId: string; keyFile: string; webhookSecretFile: string; apiUrl?: string } | undefined {
  const appId = flagOrEnv(values['github-app-id'], env, 'APPROVAL_GATE_GITHUB_APP_ID')
  const keyFile = flagOrEnv(values['github-app-key-file'], env, 'APPROVAL_GATE_GITHUB_APP_KEY_FILE')
  const webhookSecretFile = flagOrEnv(values['github-webhook-secret-file'], env, 'APPROVAL_GATE_GITHUB_WEBHOOK_SECRET_FILE')
  const apiUrl = flagOrEnv(values['github-api-url'], env, 'APPROVAL_GATE_GITHUB_API_URL')
  if (appId === undefined && keyFile === undefined && webhookSecretFile === undefined) {
    if (apiUrl !== undefined) throw new UsageError('--github-api-url needs --github-app-id, --github-app-key-file and --github-webhook-secret-file', 'serve')
    return undefined
  }
  const missing = [
    ['--github-app-id', appId],
    ['--github-app-key-file', keyFile],
    ['--github-webhook-secret-file', webhookSecretFile],
  ].filter(([, value]) => !value).map(([flag]) => flag)
  if (missing.length > 0) throw new UsageError(`the GitHub App also needs ${missing.join(' and ')} (or their APPROVAL_GATE_GITHUB_… variables)`, 'serve')
  return { appId: appId!, keyFile: keyFile!, webhookSecretFile: webhookSecretFile!, apiUrl }
}

function parsePort(text: string): number {
  const port = Number(text)
  if (!/^\d+$/.test(text) || port > 65_535) throw new UsageError(`--port must be a number from 0 to 65535, got ${JSON.stringify(text)}`, 'serve')
  return port
}

function parsePublicUrl(text: string | undefined): string | undefined {
  if (text === undefined) return undefined
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new UsageError(`--public-url must be an absolute http(s) URL, got ${JSON.stringify(text)}`, 'serve')
  }
  if (url.protocol !== 'http:' && url.protocol !== 'https:') throw new UsageError(`--public-url must start with http:// or https://`, 'serve')
  return text.replace(/\/+$/, '')
}

/** An absolute http(s) URL without a user:password part (the bot token goes there); `undefined`: Slack's own. */
function parseSlackApiUrl(text: string | undefined): string | undefined {
  if (text === undefined) return undefined
  let url: URL | null = null
  try {
    url = new URL(text)
  } catch {
    // Reported below.
  }
  if (!url || (url.protocol !== 'http:' && url.protocol !== 'https:') || url.username !== '' || url.password !== '') {
    throw new UsageError(`--slack-api-url must be an absolute http(s) URL such as https://slack.com/api/, got ${JSON.stringify(text)}`, 'serve')
  }
  return url.href
}

/** `undefined`: the server's default. */
function parseCreateRateLimit(text: string | undefined): RateLimit | null | undefined {
  if (text === undefined) return undefined
  try {
    return parseRateLimit(text)
  } catch (error) {
    throw new UsageError(`--create-rate-limit: ${(error as Error).message}`, 'serve')
  }
}

/** The notification flags: private webhooks, and SMTP for email channels (both or neither). */
function notificationOptionsOf(values: { 'allow-private-webhooks'?: boolean; 'smtp-url'?: string; 'mail-from'?: string }, env: NodeJS.ProcessEnv): NotificationOptions {
  const smtpUrl = flagOrEnv(values['smtp-url'], env, 'APPROVAL_GATE_SMTP_URL')
  const from = flagOrEnv(values['mail-from'], env, 'APPROVAL_GATE_MAIL_FROM')
  if (smtpUrl !== undefined && !/^smtps?:\/\/[^\s]+$/.test(smtpUrl)) throw new UsageError('--smtp-url must be smtp://HOST:PORT or smtps://HOST:PORT (user and password before the host)', 'serve')
  if ((smtpUrl === undefined) !== (from === undefined)) throw new UsageError('--smtp-url and --mail-from go together: email needs a server and a From address', 'serve')
  return { allowPrivateWebhooks: values['allow-private-webhooks'] ?? false, ...(smtpUrl && from ? { email: { smtpUrl, from } } : {}) }
}

function parseTrustProxy(text: string | undefined): boolean | string | undefined {
  if (text === undefined || text === 'false') return undefined
  if (text === 'true') return true
  return text
}

/** The one-time banner: how to sign in, the API key, and a first request to try. */
function printFirstRun(io: CliIo, publicUrl: string, url: string, first: FirstRun): void {
  const rule = '─'.repeat(72)
  const text = `
${rule}
 approval-gate is running — first start, so a project was created.
 These credentials are shown ONCE. Save them now.

 Dashboard      ${publicUrl}/
 Email          ${first.email}
 Password       ${first.password}
 Project        ${first.project.name}
 API key        ${first.apiKey}   (scope: request)

 Ask for a first approval:

   curl -s -X POST ${url}/v1/approvals \\
     -H 'Authorization: Bearer ${first.apiKey}' \\
     -H 'Content-Type: application/json' \\
     -d '{"action":"hello","context":{"note":"my first approval"}}'

 or gate a shell step (exit 0 approved, 1 rejected, 2 timed out):

   APPROVAL_GATE_API_URL=${url} APPROVAL_GATE_API_KEY=${first.apiKey} \\
     npx approval-gate request hello --context '{"note":"my first approval"}' --timeout 10m
${rule}
`
  io.stdout.write(text)
}

/** Resolves on the first SIGTERM or SIGINT; a second one exits at once. */
function waitForSignal(io: CliIo): Promise<NodeJS.Signals> {
  return new Promise((resolve) => {
    const onSignal = (signal: NodeJS.Signals) => {
      process.off('SIGTERM', onSignal)
      process.off('SIGINT', onSignal)
      process.once('SIGTERM', () => forceExit(io))
      process.once('SIGINT', () => forceExit(io))
      resolve(signal)
    }
    process.on('SIGTERM', onSignal)
    process.on('SIGINT', onSignal)
  })
}

function forceExit(io: CliIo): never {
  line(io.stderr, 'approval-gate: second signal, exiting without waiting')
  process.exit(EXIT.error)
}
