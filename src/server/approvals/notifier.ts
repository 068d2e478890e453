/**
 * The in-process notifier: fans approval events out to long-poll waiters and live dashboard
 * pages of this process. Listeners live in a Map of Sets, so subscribing and unsubscribing
 * are O(1) however many thousands of requests wait on the same or different approvals.
 */
import type { ApprovalEvent, Notifier } from './contracts.js'

type Listener = (event: ApprovalEvent) => void

export class InMemoryNotifier implements Notifier {
  private readonly byApproval = new Map<string, Set<Listener>>()
  private readonly byProject = new Map<string, Set<Listener>>()
  private closed = false

  /** Calls every listener of the approval and of its project. A throwing listener does not stop the others. */
  publish(event: ApprovalEvent): void {
    if (this.closed) return
    // Copy before calling: listeners usually unsubscribe themselves while being called.
    const listeners = [...(this.byApproval.get(event.approval.id) ?? []), ...(this.byProject.get(event.approval.project_id) ?? [])]
    for (const listener of listeners) {
      try {
        listener(event)
      } catch {
        // One broken subscriber must not starve the rest; subscribers handle their own errors.
      }
    }
  }

  onApproval(approvalId: string, listener: Listener): () => void {
    return subscribe(this.byApproval, approvalId, listener)
  }

  onProject(projectId: string, listener: Listener): () => void {
    return subscribe(this.byProject, projectId, listener)
  }

  /** Number of subscriptions, for tests and metrics. */
  listenerCount(): number {
    let count = 0
    for (const set of this.byApproval.values()) count += set.size
    for (const set of this.byProject.values()) count += set.size
    return count
  }

  async close(): Promise<void> {
    this.closed = true
    this.byApproval.clear()
    this.byProject.clear()
  }
}

function subscribe(index: Map<string, Set<Listener>>, key: string, listener: Listener): () => void {
  let set = index.get(key)
  if (!set) {
    set = new Set()
    index.set(key, set)
  }
  set.add(listener)
  return () => {
    const current = index.get(key)
    if (!current) return
    current.delete(listener)
    // Drop empty sets so ids that are never waited on again do not accumulate.
    if (current.size === 0) index.delete(key)
  }
}
