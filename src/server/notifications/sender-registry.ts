/**
 * Which sender delivers each kind of channel. The server registers one per kind it can send
 * (webhook always; email when SMTP is configured; Slack when its branch adds it); the worker
 * looks the kind up per delivery, so a channel whose kind has no sender waits (retrying) instead
 * of being lost.
 */
import type { ChannelKind, ChannelSender } from './types.js'

export class SenderRegistry {
  private readonly senders = new Map<ChannelKind, ChannelSender>()

  constructor(senders: readonly ChannelSender[] = []) {
    for (const sender of senders) this.register(sender)
  }

  /** Adds the sender of its kind; a second sender for one kind is a wiring mistake. */
  register(sender: ChannelSender): this {
    if (this.senders.has(sender.kind)) throw new Error(`a sender for ${sender.kind} channels is already registered`)
    this.senders.set(sender.kind, sender)
    return this
  }

  get(kind: ChannelKind): ChannelSender | null {
    return this.senders.get(kind) ?? null
  }

  kinds(): ChannelKind[] {
    return [...this.senders.keys()]
  }
}
