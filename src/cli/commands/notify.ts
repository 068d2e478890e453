/** `approval-gate notify add|list|remove|test|deliveries|redeliver`: a project's notification channels (webhooks, email, Slack). */
import { ChannelService, type ChannelSettings } from '../../server/admin/channel-service.js'
import type { EmailSender } from '../../server/notifications/email-sender.js'
import type { Channel } from '../../server/notifications/types.js'
import { addSlackChannel, interactivityUrl } from '../../server/slack/slack-channels.js'
import type { SlackSecret } from '../../server/slack/slack-secret.js'
import type { ChannelHealth } from '../../server/store/types.js'
import { formatDuration, InvalidDurationError, parseDuration } from '../../shared/duration.js'
import { CliError, EXIT, flagOrEnv, line, parseCommand, printJson, UsageError, type Command } from '../cli-kit.js'
import { adminRefusal } from '../admin-refusal.js'
import { PROJECT_FLAGS, PROJECT_HELP, projectTargetOf, STORE_HELP, withProject } from '../store-location.js'

const PRIVATE_HELP = `  --allow-private-webhooks
                      allow a webhook on a loopback/private address or plain http (the server
                      must also run with --allow-private-webhooks to deliver to it)`

export const notifyAddCommand: Command = {
  name: 'notify add',
  summary: 'add a notification channel: webhook URL, email, or Slack channel',
  help: `
Usage: approval-gate notify add --project NAME webhook URL [options]
       approval-gate notify add --project NAME email [--to ADDR,ADDR] [options]
       SLACK_BOT_TOKEN=xoxb-… SLACK_SIGNING_SECRET=… \
       approval-gate notify add --project NAME slack '#CHANNEL' [options]

Sends the project's approval events to a webhook (JSON, signed with a secret that is printed
once), by email (to --to, or to the members who may decide each request), or to a Slack
channel with Approve / Reject buttons (the Slack app's bot token and signing secret come from
the environment, never from flags; the Interactivity Request URL to give Slack is printed).
Events: created, voted, decided, expired, cancelled, reminder, escalated (default: all). See
docs/notifications.md.

Options:
${PROJECT_HELP}
  --name NAME         the channel's name (default: from the URL's host, or "email")
  --events LIST       comma-separated events to send, e.g. created,decided
  --to ADDR,ADDR      email recipients (default: the members who may decide each request)
  --remind-after DUR  re-notify every DUR while a request waits, e.g. 30m
  --escalate-after DUR --escalate-to CHANNEL
                      after DUR still pending, notify the channel CHANNEL (name or id) once
${PRIVATE_HELP}
${STORE_HELP}
  --json              print the channel (and the webhook secret) as JSON
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(
      notifyAddCommand,
      args,
      io,
      {
        ...PROJECT_FLAGS,
        name: { type: 'string' },
        events: { type: 'string' },
        to: { type: 'string' },
        'remind-after': { type: 'string' },
        'escalate-after': { type: 'string' },
        'escalate-to': { type: 'string' },
        'allow-private-webhooks': { type: 'boolean' },
        json: { type: 'boolean' },
      },
      { min: 1, max: 2 },
    )
    if (!parsed) return EXIT.ok
    const { values, positionals } = parsed
    const target = projectTargetOf(notifyAddCommand, values, io.env)
    const [kind, url] = positionals
    if (kind !== 'webhook' && kind !== 'email' && kind !== 'slack') throw new UsageError(`the channel kind is webhook, email or slack, got ${JSON.stringify(kind)}`, notifyAddCommand.name)
    if (kind === 'slack' && !url) throw new UsageError("give the Slack channel: notify add --project NAME slack '#deploys'", notifyAddCommand.name)
    const slackSecret = kind === 'slack' ? slackSecretFromEnv(io.env) : null
    if (kind === 'webhook' && !url) throw new UsageError('give the webhook URL: notify add --project NAME webhook https://…', notifyAddCommand.name)
    if (kind === 'email' && url !== undefined) throw new UsageError(`unexpected argument ${JSON.stringify(url)}: email recipients go in --to`, notifyAddCommand.name)
    if (kind !== 'email' && values.to !== undefined) throw new UsageError('--to is for email channels', notifyAddCommand.name)
    const settings: ChannelSettings = {
      name: values.name,
      events: values.events === undefined ? undefined : parseEvents(values.events),
      remindAfterMs: durationFlag('--remind-after', values['remind-after']),
      escalateAfterMs: durationFlag('--escalate-after', values['escalate-after']),
      escalateTo: values['escalate-to'] ?? null,
    }
    const created = await withProject(target, (store, project) => {
      const service = new ChannelService(store, { allowPrivateWebhooks: values['allow-private-webhooks'] ?? false })
      if (slackSecret) return addSlackChannel(service, project, 'cli', { channel: url, ...slackSecret }, settings).then((channel) => ({ channel, secret: null }))
      return kind === 'webhook' ? service.addWebhook(project, 'cli', url, settings) : service.addEmail(project, 'cli', (values.to ?? '').split(','), settings)
    }).catch(adminRefusal)
    if (values.json) {
      printJson(io, created.secret ? { ...created.channel, secret: created.secret } : created.channel)
      return EXIT.ok
    }
    line(io.stdout, `Added ${created.channel.kind} channel ${created.channel.id} "${created.channel.name}" to project ${target.projectName}: ${describeChannel(created.channel)}.`)
    if (created.channel.kind === 'slack') {
      const publicUrl = flagOrEnv(undefined, io.env, 'APPROVAL_GATE_PUBLIC_URL') ?? 'PUBLIC_URL'
      line(io.stdout, `In the Slack app, set Interactivity → Request URL to: ${interactivityUrl(publicUrl, created.channel)}`)
      line(io.stdout, `and invite the app's bot to ${created.channel.config.channel}.`)
    }
    if (created.secret) {
      line(io.stdout, `Signing secret, shown once: ${created.secret}`)
      line(io.stdout, 'Verify X-Approval-Gate-Signature-256 with it (see docs/notifications.md).')
    }
    return EXIT.ok
  },
}

export const notifyListCommand: Command = {
  name: 'notify list',
  summary: "list a project's notification channels and how their deliveries are doing",
  help: `
Usage: approval-gate notify list --project NAME [--data DIR | --database-url URL] [--json]

Never shows a channel's secret.

Options:
${PROJECT_HELP}
${STORE_HELP}
  --json              print the channels (with delivery counts) as a JSON array
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(notifyListCommand, args, io, { ...PROJECT_FLAGS, json: { type: 'boolean' } }, { min: 0, max: 0 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(notifyListCommand, parsed.values, io.env)
    const channels = await withProject(target, (store, project) => new ChannelService(store).list(project))
    if (parsed.values.json) {
      printJson(io, channels.map(({ channel, health }) => ({ ...channel, health })))
      return EXIT.ok
    }
    if (channels.length === 0) line(io.stdout, `Project ${target.projectName} has no notification channels.`)
    for (const { channel, health } of channels) line(io.stdout, `${channel.id}  ${channel.kind}  "${channel.name}"  ${describeChannel(channel)}  ${describeHealth(health)}`)
    return EXIT.ok
  },
}

export const notifyRemoveCommand: Command = {
  name: 'notify remove',
  summary: 'remove a notification channel (its pending deliveries are dropped)',
  help: `
Usage: approval-gate notify remove --project NAME CHANNEL [--data DIR | --database-url URL]

CHANNEL is the channel's name or chn_… id (see "notify list").

Options:
${PROJECT_HELP}
${STORE_HELP}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(notifyRemoveCommand, args, io, PROJECT_FLAGS, { min: 1, max: 1 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(notifyRemoveCommand, parsed.values, io.env)
    const removed = await withProject(target, (store, project) => new ChannelService(store).remove(project, 'cli', parsed.positionals[0]).catch(adminRefusal))
    line(io.stdout, `Removed ${removed.kind} channel ${removed.id} "${removed.name}".`)
    return EXIT.ok
  },
}

export const notifyTestCommand: Command = {
  name: 'notify test',
  summary: 'send a test notification to a channel now',
  help: `
Usage: approval-gate notify test --project NAME CHANNEL [--smtp-url URL --mail-from ADDR] [options]

Sends one "approval.created" event about a made-up approval (action "approval-gate test
notification", context {"test": true}) straight to the channel, and says what the receiver
answered. Nothing is queued or retried.

Options:
${PROJECT_HELP}
  --public-url URL    base URL for the made-up approval's link (env APPROVAL_GATE_PUBLIC_URL)
  --smtp-url URL      SMTP server for email channels (env APPROVAL_GATE_SMTP_URL)
  --mail-from ADDR    the From address of mails (env APPROVAL_GATE_MAIL_FROM)
  --slack-api-url URL Slack's Web API base URL for Slack channels (env APPROVAL_GATE_SLACK_API_URL,
                      default https://slack.com/api/)
${PRIVATE_HELP}
${STORE_HELP}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(
      notifyTestCommand,
      args,
      io,
      {
        ...PROJECT_FLAGS,
        'public-url': { type: 'string' },
        'smtp-url': { type: 'string' },
        'mail-from': { type: 'string' },
        'slack-api-url': { type: 'string' },
        'allow-private-webhooks': { type: 'boolean' },
      },
      { min: 1, max: 1 },
    )
    if (!parsed) return EXIT.ok
    const { values } = parsed
    const target = projectTargetOf(notifyTestCommand, values, io.env)
    const publicUrl = flagOrEnv(values['public-url'], io.env, 'APPROVAL_GATE_PUBLIC_URL', 'http://127.0.0.1:8080')!
    const smtpUrl = flagOrEnv(values['smtp-url'], io.env, 'APPROVAL_GATE_SMTP_URL')
    const mailFrom = flagOrEnv(values['mail-from'], io.env, 'APPROVAL_GATE_MAIL_FROM')
    const slackApiUrl = flagOrEnv(values['slack-api-url'], io.env, 'APPROVAL_GATE_SLACK_API_URL')
    // Loaded here: the senders (and nodemailer) are not needed by any other command.
    const [{ OutboundHttp }, { SenderRegistry }, { WebhookSender }, { EmailSender }, { sendTestNotification }] = await Promise.all([
      import('../../server/notifications/outbound-http.js'),
      import('../../server/notifications/sender-registry.js'),
      import('../../server/notifications/webhook-sender.js'),
      import('../../server/notifications/email-sender.js'),
      import('../../server/notifications/test-notification.js'),
    ])
    const http = new OutboundHttp({ allowPrivate: values['allow-private-webhooks'] ?? false })
    try {
      const { channel, result } = await withProject(target, async (store, project) => {
        const channel = await new ChannelService(store).findChannel(project, parsed.positionals[0]).catch(adminRefusal)
        const senders = new SenderRegistry([new WebhookSender(http)])
        let email: EmailSender | null = null
        if (channel.kind === 'email') {
          if (!smtpUrl || !mailFrom) throw new UsageError('an email channel needs --smtp-url and --mail-from (or APPROVAL_GATE_SMTP_URL and APPROVAL_GATE_MAIL_FROM)', notifyTestCommand.name)
          email = new EmailSender(store, { smtpUrl, from: mailFrom })
          senders.register(email)
        }
        if (channel.kind === 'slack') senders.register((await import('../../server/slack/slack-sender.js')).createSlackSender({ apiUrl: slackApiUrl }))
        try {
          return { channel, result: await sendTestNotification(store, senders, project, channel, publicUrl) }
        } finally {
          email?.close()
        }
      })
      if (!result.ok) throw new CliError(`the test notification to "${channel.name}" failed: ${result.error ?? 'unknown error'}`)
      line(io.stdout, `Sent a test notification to ${channel.kind} channel "${channel.name}"${result.status_code ? ` (HTTP ${result.status_code})` : ''}.`)
      return EXIT.ok
    } finally {
      await http.close()
    }
  },
}

export const notifyDeliveriesCommand: Command = {
  name: 'notify deliveries',
  summary: "show a channel's delivery log",
  help: `
Usage: approval-gate notify deliveries --project NAME CHANNEL [--limit N] [--data DIR | --database-url URL] [--json]

Newest first: each event sent to the channel, its status (pending, sending, delivered,
failed), attempts, last error and the receiver's answer code.

Options:
${PROJECT_HELP}
  --limit N           how many (1–200, default 50)
${STORE_HELP}
  --json              print the deliveries as a JSON array
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(notifyDeliveriesCommand, args, io, { ...PROJECT_FLAGS, limit: { type: 'string' }, json: { type: 'boolean' } }, { min: 1, max: 1 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(notifyDeliveriesCommand, parsed.values, io.env)
    const limit = parsed.values.limit === undefined ? 50 : Number(parsed.values.limit)
    if (!Number.isInteger(limit) || limit < 1 || limit > 200) throw new UsageError('--limit must be a whole number from 1 to 200', notifyDeliveriesCommand.name)
    const deliveries = await withProject(target, (store, project) => new ChannelService(store).deliveries(project, parsed.positionals[0], limit).catch(adminRefusal))
    if (parsed.values.json) {
      printJson(io, deliveries)
      return EXIT.ok
    }
    if (deliveries.length === 0) line(io.stdout, 'No deliveries yet.')
    for (const d of deliveries) {
      const answer = d.response_code === null ? '' : `  answer ${d.response_code}`
      const error = d.last_error ? `  last error: ${d.last_error}` : ''
      line(io.stdout, `${d.id}  ${d.event_type}  ${d.approval_id}  ${d.status}  attempts ${d.attempts}${answer}${error}`)
    }
    return EXIT.ok
  },
}

export const notifyRedeliverCommand: Command = {
  name: 'notify redeliver',
  summary: 'send a delivery again (recorded in the audit trail)',
  help: `
Usage: approval-gate notify redeliver --project NAME DELIVERY [--data DIR | --database-url URL]

DELIVERY is a dlv_… id from "notify deliveries". The delivery is queued again at once; a
running server sends it within seconds, with the same id (receivers de-duplicate on it). The
resend is recorded in the project's audit trail as delivery_resent, by "cli".

Options:
${PROJECT_HELP}
${STORE_HELP}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(notifyRedeliverCommand, args, io, PROJECT_FLAGS, { min: 1, max: 1 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(notifyRedeliverCommand, parsed.values, io.env)
    const delivery = await withProject(target, (store, project) => new ChannelService(store).redeliver(project, 'cli', parsed.positionals[0]).catch(adminRefusal))
    line(io.stdout, `Queued delivery ${delivery.id} (${delivery.event_type} of ${delivery.approval_id}) to be sent again.`)
    return EXIT.ok
  },
}

/** `created,decided` or `approval.created,approval.decided`. */
function parseEvents(text: string): string[] {
  return text
    .split(',')
    .map((event) => event.trim())
    .filter(Boolean)
    .map((event) => (event.includes('.') ? event : `approval.${event}`))
}

function durationFlag(flag: string, text: string | undefined): number | null {
  if (text === undefined) return null
  try {
    return parseDuration(text)
  } catch (error) {
    if (error instanceof InvalidDurationError) throw new UsageError(`${flag}: ${error.message}`, notifyAddCommand.name)
    throw error
  }
}

/** What a channel sends where, without its secret. */
/** The Slack app's bot token and signing secret, from the environment (flags would show in the process list). */
function slackSecretFromEnv(env: NodeJS.ProcessEnv): SlackSecret {
  const botToken = env.SLACK_BOT_TOKEN?.trim()
  const signingSecret = env.SLACK_SIGNING_SECRET?.trim()
  if (!botToken || !signingSecret) throw new UsageError("set SLACK_BOT_TOKEN (the app's Bot User OAuth Token, xoxb-…) and SLACK_SIGNING_SECRET (Basic Information → Signing Secret) in the environment", notifyAddCommand.name)
  return { botToken, signingSecret }
}

export function describeChannel(channel: Channel): string {
  const where = channel.kind === 'webhook' ? `to ${channel.config.url}` : channel.kind === 'email' ? `to ${channel.config.to ?? 'the members who may decide each request'}` : `to ${channel.config.channel ?? '?'}`
  const extras = [channel.remind_after_ms ? `remind every ${formatDuration(channel.remind_after_ms)}` : '', channel.escalate_after_ms ? `escalate after ${formatDuration(channel.escalate_after_ms)}` : ''].filter(Boolean)
  return `${where}, events ${channel.events.map((e) => e.replace(/^approval\./, '')).join(',')}${extras.length ? `, ${extras.join(', ')}` : ''}`
}

function describeHealth(health: ChannelHealth): string {
  const parts = [`${health.delivered} delivered`]
  if (health.retrying) parts.push(`${health.retrying} retrying`)
  if (health.failed) parts.push(`${health.failed} failed`)
  if (health.last_error) parts.push(`last error ${health.last_error_at}: ${health.last_error}`)
  return `[${parts.join(', ')}]`
}
