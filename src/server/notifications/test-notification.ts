/**
 * `approval-gate notify test`: one event sent straight to a channel through its sender (not the
 * outbox, so nothing is queued or retried), about a made-up approval that exists nowhere, so an
 * admin sees at once whether the receiver gets, verifies and shows it.
 */
import { randomBytes } from 'node:crypto'
import type { Project, Store } from '../store/types.js'
import type { SenderRegistry } from './sender-registry.js'
import type { Channel, DeliveryResult, NotificationEvent } from './types.js'

/** The action of the made-up approval a test notification is about. */
export const TEST_ACTION = 'approval-gate test notification'

export function testNotification(project: Project, publicUrl: string, now = new Date()): NotificationEvent {
  const id = `apr_test_${randomBytes(8).toString('base64url')}`
  const at = now.toISOString()
  return {
    delivery_id: `dlv_test_${randomBytes(12).toString('base64url')}`,
    type: 'approval.created',
    occurred_at: at,
    project: { id: project.id, name: project.name },
    approval: {
      id,
      status: 'pending',
      action: TEST_ACTION,
      context: { test: true, note: 'sent by approval-gate notify test; no such approval exists' },
      agent: null,
      reason: null,
      decided_by: null,
      decided_at: null,
      created_at: at,
      expires_at: new Date(now.getTime() + 3_600_000).toISOString(),
      url: `${publicUrl.replace(/\/+$/, '')}/approvals/${id}`,
      requester: null,
    },
  }
}

/** Sends a test notification to `channel` now; bounded by `timeoutMs`. */
export async function sendTestNotification(store: Pick<Store, 'getChannelSecret'>, senders: SenderRegistry, project: Project, channel: Channel, publicUrl: string, timeoutMs = 10_000): Promise<DeliveryResult> {
  const sender = senders.get(channel.kind)
  if (!sender) return { ok: false, status_code: null, error: `no sender for ${channel.kind} channels here (is it configured?)`, retryable: false, remote_ref: null }
  const secret = await store.getChannelSecret(project.id, channel.id)
  return sender.deliver(channel, secret, testNotification(project, publicUrl), null, AbortSignal.timeout(timeoutMs))
}
