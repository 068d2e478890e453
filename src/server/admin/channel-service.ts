/**
 * The one writer of a project's notification channels, for the CLI (`approval-gate notify`)
 * and the dashboard's notifications page alike: the rules of each kind (a webhook's URL is
 * public unless the operator allows private ones; an email channel's recipients), the secret
 * generated and shown once, and an audit event for every channel added or removed and every
 * delivery sent again.
 */
import { lookup } from 'node:dns/promises'
import { isIP } from 'node:net'
import { randomToken } from '../auth/secrets.js'
import { NOTIFICATION_EVENT_TYPES, type Channel, type ChannelKind, type NotificationEventType } from '../notifications/types.js'
import { isStoreError } from '../store/errors.js'
import type { AdminChange, AdminEventType, ChannelHealth, Delivery, Project, Store } from '../store/types.js'
import { isNonPublicAddress } from '../../shared/network-address.js'
import { AdminError, adminChange, type AdminActor } from './admin-service.js'
import { EMAIL_PATTERN, MAX_EMAIL_CHARS } from './rules.js'

/** A channel name: 1–64 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit. */
export const CHANNEL_NAME_PATTERN = /^[A-Za-z0-9][A-Za-z0-9 ._-]{0,63}$/
/** Longest webhook URL. */
export const MAX_WEBHOOK_URL_CHARS = 2_000
/** Most recipients of one email channel. */
export const MAX_EMAIL_RECIPIENTS = 50
/** The events a channel receives when none are named. */
export const DEFAULT_CHANNEL_EVENTS: readonly NotificationEventType[] = NOTIFICATION_EVENT_TYPES

/** Resolves a host name to its addresses (tests and the server may replace DNS). */
export type HostResolver = (host: string) => Promise<string[]>

const dnsResolver: HostResolver = async (host) => (await lookup(host, { all: true, verbatim: true })).map((entry) => entry.address)

export interface ChannelServiceOptions {
  /** Allow webhook URLs on loopback/private/link-local addresses and plain http (`--allow-private-webhooks`). */
  allowPrivateWebhooks?: boolean
  resolveHost?: HostResolver
  now?: () => number
}

/** What every kind of channel may set besides its own configuration. */
export interface ChannelSettings {
  name?: string
  /** Event names; default all. */
  events?: readonly string[]
  remindAfterMs?: number | null
  escalateAfterMs?: number | null
  /** The channel escalations go to: its id or name in the same project. */
  escalateTo?: string | null
}

export interface CreatedChannel {
  channel: Channel
  /** The channel's secret (a webhook's signing secret), shown once; null for kinds without one. */
  secret: string | null
}

export interface ChannelWithHealth {
  channel: Channel
  health: ChannelHealth
}

export class ChannelService {
  private readonly allowPrivate: boolean
  private readonly resolveHost: HostResolver
  private readonly now: () => number

  constructor(
    private readonly store: Store,
    options: ChannelServiceOptions = {},
  ) {
    this.allowPrivate = options.allowPrivateWebhooks ?? false
    this.resolveHost = options.resolveHost ?? dnsResolver
    this.now = options.now ?? Date.now
  }

  /** A webhook channel; its signing secret is generated here and returned once. */
  async addWebhook(project: Project, actor: AdminActor, url: string, settings: ChannelSettings = {}): Promise<CreatedChannel> {
    const checked = await this.checkWebhookUrl(url)
    const secret = `whsec_${randomToken(32)}`
    const channel = await this.addChannel(project, actor, { kind: 'webhook', config: { url: checked.href }, secret, defaultName: `webhook ${checked.hostname}`, describe: `webhook to ${checked.origin}` }, settings)
    return { channel, secret }
  }

  /** An email channel to `to`, or (empty) to the project's members who may decide. */
  async addEmail(project: Project, actor: AdminActor, to: readonly string[], settings: ChannelSettings = {}): Promise<CreatedChannel> {
    const recipients = [...new Set(to.map((address) => address.trim()).filter((address) => address !== ''))]
    if (recipients.length > MAX_EMAIL_RECIPIENTS) throw new AdminError('invalid', `an email channel has at most ${MAX_EMAIL_RECIPIENTS} recipients`)
    for (const address of recipients) {
      if (address.length > MAX_EMAIL_CHARS || !EMAIL_PATTERN.test(address) || /[,;<>"]/.test(address)) throw new AdminError('invalid', `${JSON.stringify(address)} is not an email address`)
    }
    const config: Record<string, string> = recipients.length > 0 ? { to: recipients.join(',') } : {}
    const describe = recipients.length > 0 ? `email to ${recipients.join(', ')}` : 'email to the members who may decide'
    const channel = await this.addChannel(project, actor, { kind: 'email', config, secret: null, defaultName: 'email', describe }, settings)
    return { channel, secret: null }
  }

  /**
   * Adds a channel of any kind once its own configuration is checked (the Slack channel calls
   * this too): checks the name, events and reminder settings, stores it and records it.
   */
  async addChannel(
    project: Project,
    actor: AdminActor,
    input: { kind: ChannelKind; config: Record<string, string>; secret: string | null; defaultName: string; describe: string },
    settings: ChannelSettings,
  ): Promise<Channel> {
    // A default name is made to fit (an IPv6 host has colons); a given one must.
    const name = (settings.name ?? input.defaultName.replace(/[^A-Za-z0-9 ._-]+/g, '-')).trim().slice(0, 64).trim()
    if (!CHANNEL_NAME_PATTERN.test(name)) throw new AdminError('invalid', 'a channel name is 1–64 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit')
    const events = checkEvents(settings.events)
    const remindAfterMs = checkDuration('remind-after', settings.remindAfterMs ?? null)
    const escalateAfterMs = checkDuration('escalate-after', settings.escalateAfterMs ?? null)
    const escalateTarget = settings.escalateTo ? await this.findChannel(project, settings.escalateTo) : null
    if ((escalateAfterMs === null) !== (escalateTarget === null)) throw new AdminError('invalid', 'escalate-after and escalate-to go together: name the channel to escalate to and after how long')
    const extras = [remindAfterMs ? `remind after ${remindAfterMs} ms` : '', escalateTarget ? `escalate after ${escalateAfterMs} ms to ${escalateTarget.name}` : ''].filter(Boolean)
    try {
      return await this.store.createChannel(
        {
          project_id: project.id,
          kind: input.kind,
          name,
          config: input.config,
          events,
          remind_after_ms: remindAfterMs,
          escalate_after_ms: escalateAfterMs,
          escalate_to: escalateTarget?.id ?? null,
          secret: input.secret,
        },
        (channel) => this.change('channel_added', actor, `channel:${name}`, [`${channel.id} ${input.describe}`, `events ${events.join(',')}`, ...extras].join('; ')),
      )
    } catch (error) {
      if (isStoreError(error, 'conflict')) throw new AdminError('conflict', `this project already has a channel named ${JSON.stringify(name)}: choose another name`)
      throw error
    }
  }

  /** The project's channels with how their deliveries are doing, oldest first. */
  async list(project: Project): Promise<ChannelWithHealth[]> {
    const [channels, health] = await Promise.all([this.store.listChannels(project.id), this.store.channelHealth(project.id)])
    const byChannel = new Map(health.map((h) => [h.channel_id, h]))
    return channels.map((channel) => ({
      channel,
      health: byChannel.get(channel.id) ?? { channel_id: channel.id, retrying: 0, failed: 0, delivered: 0, last_error: null, last_error_at: null },
    }))
  }

  /** A channel of the project by id or name. */
  async findChannel(project: Project, idOrName: string): Promise<Channel> {
    const wanted = idOrName.trim()
    const channel = (await this.store.listChannels(project.id)).find((candidate) => candidate.id === wanted || candidate.name === wanted)
    if (!channel) throw new AdminError('not_found', `project ${project.name} has no channel ${JSON.stringify(wanted)}`)
    return channel
  }

  async remove(project: Project, actor: AdminActor, idOrName: string): Promise<Channel> {
    const channel = await this.findChannel(project, idOrName)
    if (!(await this.store.removeChannel(project.id, channel.id, () => this.change('channel_removed', actor, `channel:${channel.name}`, channel.id)))) {
      throw new AdminError('not_found', `project ${project.name} has no channel ${JSON.stringify(idOrName)}`)
    }
    return channel
  }

  /** A channel's delivery log, newest first. */
  async deliveries(project: Project, idOrName: string, limit = 100): Promise<Delivery[]> {
    const channel = await this.findChannel(project, idOrName)
    return this.store.listDeliveries(project.id, channel.id, limit)
  }

  /**
   * Queues a delivery of the project again, now, and records who did it (`delivery_resent`,
   * naming the channel and the delivery): a resend reaches a receiver, so it is an admin change
   * like any other. Another project's delivery id (or, given `channelId`, another channel's) is not
   * found and nothing is recorded.
   */
  async redeliver(project: Project, actor: AdminActor, deliveryId: string, channelId?: string): Promise<Delivery> {
    const wanted = deliveryId.trim()
    // Read before the change only to name the channel in the event (the event is written with the change).
    const names = new Map((await this.store.listChannels(project.id)).map((channel) => [channel.id, channel.name]))
    const delivery = await this.store.redeliver(project.id, wanted, new Date(this.now()).toISOString(), channelId, (resent) => {
      const detail = `${resent.channel_id}; ${resent.event_type} of ${resent.approval_id}; ${resent.attempts} attempt${resent.attempts === 1 ? '' : 's'} before`
      return this.change('delivery_resent', actor, `channel:${names.get(resent.channel_id) ?? resent.channel_id}/${resent.id}`, detail)
    })
    const where = channelId === undefined ? `project ${project.name}` : `this channel of project ${project.name}`
    if (!delivery) throw new AdminError('not_found', `${where} has no delivery ${JSON.stringify(wanted)}, or it is being sent right now`)
    return delivery
  }

  /**
   * A webhook URL that may be stored: http(s), no user:password part, and (unless private
   * webhooks are allowed) https to a host whose every address is public.
   */
  async checkWebhookUrl(text: string): Promise<URL> {
    const trimmed = text.trim()
    if (trimmed.length > MAX_WEBHOOK_URL_CHARS) throw new AdminError('invalid', `a webhook URL is at most ${MAX_WEBHOOK_URL_CHARS} characters`)
    let url: URL
    try {
      url = new URL(trimmed)
    } catch {
      throw new AdminError('invalid', 'the webhook URL is not a URL: give an absolute https:// URL')
    }
    if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new AdminError('invalid', 'a webhook URL must start with https://')
    if (url.username !== '' || url.password !== '') throw new AdminError('invalid', 'a webhook URL may not contain a user name or password')
    if (url.hash !== '') throw new AdminError('invalid', 'a webhook URL may not contain a #fragment')
    if (this.allowPrivate) return url
    if (url.protocol !== 'https:') throw new AdminError('invalid', 'a webhook URL must use https:// (plain http is allowed only with serve --allow-private-webhooks)')
    const host = url.hostname.replace(/^\[|\]$/g, '')
    let addresses: string[]
    try {
      // An address written in the URL is judged as written, not looked up.
      addresses = isIP(host) ? [host] : await this.resolveHost(host)
    } catch {
      throw new AdminError('invalid', `the webhook host ${url.hostname} does not resolve`)
    }
    if (addresses.length === 0 || addresses.some(isNonPublicAddress)) {
      throw new AdminError('invalid', `the webhook host ${url.hostname} resolves to a loopback, private or link-local address; such webhooks are refused unless the server runs with --allow-private-webhooks`)
    }
    return url
  }

  private change(type: AdminEventType, actor: AdminActor, subject: string, detail: string | null): AdminChange {
    return adminChange(type, actor, subject, detail, this.now())
  }
}

function checkEvents(events: readonly string[] | undefined): NotificationEventType[] {
  if (events === undefined || events.length === 0) return [...DEFAULT_CHANNEL_EVENTS]
  const known = NOTIFICATION_EVENT_TYPES as readonly string[]
  for (const event of events) {
    if (!known.includes(event)) throw new AdminError('invalid', `unknown event ${JSON.stringify(event)}: use ${known.join(', ')}`)
  }
  return [...new Set(events)] as NotificationEventType[]
}

/** Reminder and escalation delays: at least a minute, at most 30 days. */
function checkDuration(name: string, ms: number | null): number | null {
  if (ms === null) return null
  if (!Number.isSafeInteger(ms) || ms < 60_000 || ms > 30 * 24 * 3_600_000) throw new AdminError('invalid', `${name} must be between 1m and 30 days (720h)`)
  return ms
}
