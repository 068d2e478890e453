/**
 * The notifier for several server replicas on one PostgreSQL database. Events are delivered
 * to this process's listeners at once, and sent to the other replicas with
 * `pg_notify('approval_gate_events', …)`. The payload names the approval only — NOTIFY
 * payloads are capped at 8 KB while a context may be 64 KB — so a receiving replica re-reads
 * the record from the store and its listeners always get the fresh approval.
 *
 * One dedicated connection (not from the store's pool) holds `LISTEN`. If it drops, it is
 * re-opened with capped exponential backoff; events sent meanwhile are lost to this replica,
 * so after reconnecting every approval a long-poll waits on is re-read and, if it has been
 * settled, its waiters are woken.
 */
import { randomBytes } from 'node:crypto'
import pg from 'pg'
import type { ApprovalEvent, ApprovalEventType, Notifier } from './contracts.js'
import { InMemoryNotifier } from './notifier.js'
import type { PostgresConnection } from '../store/postgres/index.js'
import type { ApprovalStatus, Store } from '../store/types.js'

/** The NOTIFY channel every replica listens on. */
export const EVENTS_CHANNEL = 'approval_gate_events'

/** What crosses replicas: which approval changed, how, and which replica sent it. */
interface WireEvent {
  type: ApprovalEventType
  project_id: string
  approval_id: string
  /** The sending replica; a replica ignores its own events (it already delivered them). */
  origin: string
}

const EVENT_OF_STATUS: Record<ApprovalStatus, ApprovalEventType> = {
  pending: 'created',
  approved: 'approved',
  rejected: 'rejected',
  expired: 'expired',
  cancelled: 'cancelled',
}
const EVENT_TYPES = new Set<string>([...Object.values(EVENT_OF_STATUS), 'voted'])
/** Longer ids are not ours; the payload is ignored rather than used in a query. */
const MAX_ID_LENGTH = 100

/** Events sent per `pg_notify` round trip. */
const PUBLISH_BATCH = 200
/** Sending a batch is retried this many times (with backoff) before it is dropped and reported. */
const PUBLISH_ATTEMPTS = 5
/** Approvals re-read at once after a reconnect, so a burst of waiters does not drain the pool. */
const RECHECK_CONCURRENCY = 4
/** Connecting longer than this fails (the driver's default is to wait forever). */
const CONNECT_TIMEOUT_MS = 10_000
/** A connection that stays silent this long (or one heartbeat period, if shorter) is replaced. */
const HEARTBEAT_TIMEOUT_MS = 10_000

export interface PostgresNotifierOptions {
  /** The same database as the store: a connection string or a `pg` configuration. */
  connection: PostgresConnection
  /** Where events from other replicas are re-read before delivery. */
  store: Pick<Store, 'getApproval' | 'getApprovalById'>
  /** Identifies this replica in payloads (to ignore its own echoes). Default: random. */
  replicaId?: string
  /** Backoff between reconnect attempts of the LISTEN connection. Default 100 ms doubling to 5 s. */
  reconnectDelayMs?: { min: number; max: number }
  /**
   * How often the LISTEN connection is checked with `SELECT 1`. A connection can go silent
   * without an error (a failover, a NAT dropping it); waiting for TCP keep-alive would take
   * many minutes. Default 30 s.
   */
  heartbeatMs?: number
  /** Told about lost connections, failed sends and failed re-reads (for logs). Never throws back. */
  onError?: (error: unknown, what: string) => void
}

/**
 * Connects the LISTEN connection and returns a running notifier. Fails, naming the server,
 * when PostgreSQL cannot be reached, so a replica does not start deaf to the others.
 */
export async function createPostgresNotifier(options: PostgresNotifierOptions): Promise<PostgresNotifier> {
  const notifier = new PostgresNotifier(options)
  try {
    await notifier.listen()
  } catch (error) {
    await notifier.close()
    throw new Error(`could not LISTEN for approval events on PostgreSQL at ${describeConnection(options.connection)}: ${(error as Error).message}`, { cause: error })
  }
  return notifier
}

export class PostgresNotifier implements Notifier {
  readonly replicaId: string
  // Two in-memory fan-outs so that a remote record still pending (a `created` event) reaches
  // live pages without ending a long-poll, which must hold until the status settles.
  private readonly approvalListeners = new InMemoryNotifier()
  private readonly projectListeners = new InMemoryNotifier()
  /** Subscription counts, to skip re-reading records nobody here waits for. */
  private readonly watchedApprovals = new Map<string, number>()
  private readonly watchedProjects = new Map<string, number>()
  /**
   * Per approval, the last re-read of another replica's event still in flight: the next waits
   * for it, so a slow re-read of `created` cannot deliver after (and undo on a live page) the
   * `approved` that came after it.
   */
  private readonly receiving = new Map<string, Promise<void>>()

  private readonly publisher: pg.Pool
  private readonly outbox: string[] = []
  private sending: Promise<void> | null = null

  private listener: pg.Client | null = null
  private heartbeat: NodeJS.Timeout | null = null
  private connecting: Promise<void> | null = null
  private reconnectTimer: NodeJS.Timeout | null = null
  private reconnectAttempts = 0
  private closed = false

  /** Use `createPostgresNotifier`, which also opens the LISTEN connection. */
  constructor(private readonly options: PostgresNotifierOptions) {
    this.replicaId = options.replicaId ?? `rep_${randomBytes(9).toString('base64url')}`
    // One connection keeps this replica's events in order and costs the database little.
    this.publisher = new pg.Pool({ ...clientConfig(options.connection), max: 1, application_name: connectionName('notify', this.replicaId) })
    // An idle connection dropped by the server must not crash the process; the next send reconnects.
    this.publisher.on('error', () => {})
  }

  /** Delivers to this replica's listeners now, and queues the event for the other replicas. */
  publish(event: ApprovalEvent): void {
    if (this.closed) return
    this.deliver(event)
    const wire: WireEvent = { type: event.type, project_id: event.approval.project_id, approval_id: event.approval.id, origin: this.replicaId }
    this.outbox.push(JSON.stringify(wire))
    this.sending ??= this.sendOutbox().finally(() => {
      this.sending = null
    })
  }

  onApproval(approvalId: string, listener: (event: ApprovalEvent) => void): () => void {
    return track(this.watchedApprovals, approvalId, this.approvalListeners.onApproval(approvalId, listener))
  }

  onProject(projectId: string, listener: (event: ApprovalEvent) => void): () => void {
    return track(this.watchedProjects, projectId, this.projectListeners.onProject(projectId, listener))
  }

  /** Number of subscriptions in this replica (long-polls and live pages), for tests and metrics. */
  listenerCount(): number {
    return this.approvalListeners.listenerCount() + this.projectListeners.listenerCount()
  }

  /** True while the LISTEN connection is up (for health checks and tests). */
  get listening(): boolean {
    return this.listener !== null
  }

  /** Stops reconnecting, sends what is queued, and closes both connections. Safe to call twice. */
  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    if (this.reconnectTimer) clearTimeout(this.reconnectTimer)
    this.reconnectTimer = null
    await this.connecting?.catch(() => {})
    await this.sending
    const listener = this.listener
    this.listener = null
    this.stopHeartbeat()
    await Promise.all([listener?.end().catch(() => {}), this.publisher.end().catch(() => {})])
    await Promise.all([this.approvalListeners.close(), this.projectListeners.close()])
    this.watchedApprovals.clear()
    this.watchedProjects.clear()
  }

  /** Opens the LISTEN connection (first start, and each reconnect). */
  listen(): Promise<void> {
    this.connecting ??= this.openListener().finally(() => {
      this.connecting = null
    })
    return this.connecting
  }

  // --- delivery ----------------------------------------------------------------------------

  /** A pending record goes to live pages only; long-polls wake once it is settled. */
  private deliver(event: ApprovalEvent): void {
    if (event.approval.status !== 'pending') this.approvalListeners.publish(event)
    this.projectListeners.publish(event)
  }

  /**
   * An event from another replica: re-read the record, then deliver it, if anyone here cares.
   * One approval's events are delivered in the order they arrived (the order their transactions
   * committed), whatever order their re-reads finish in.
   */
  private receive(payload: string | undefined): void {
    const event = parseWireEvent(payload)
    if (!event || event.origin === this.replicaId || this.closed) return
    if (!this.watchedApprovals.has(event.approval_id) && !this.watchedProjects.has(event.project_id)) return
    const id = event.approval_id
    const previous = this.receiving.get(id)
    const done: Promise<void> = (previous ?? Promise.resolve()).then(() => this.reread(event))
    this.receiving.set(id, done)
    void done.then(() => {
      if (this.receiving.get(id) === done) this.receiving.delete(id)
    })
  }

  private async reread(event: WireEvent): Promise<void> {
    if (this.closed) return
    try {
      const approval = await this.options.store.getApproval(event.project_id, event.approval_id)
      if (approval && !this.closed) this.deliver({ type: event.type, approval })
    } catch (error) {
      if (!this.closed) this.report(error, `could not re-read approval ${event.approval_id} after an event from another replica`)
    }
  }

  /**
   * After a reconnect: events of the outage are lost, so re-read every approval a long-poll
   * waits on and wake the waiters of those settled meanwhile. Subscriptions carry only the
   * approval id, hence the store's internal lookup by id alone.
   */
  private async recheckWatched(): Promise<void> {
    const ids = [...this.watchedApprovals.keys()]
    if (ids.length === 0) return
    const recheck = async (id: string) => {
      if (this.closed || !this.watchedApprovals.has(id)) return
      const approval = await this.options.store.getApprovalById(id)
      if (approval && approval.status !== 'pending' && !this.closed) this.deliver({ type: EVENT_OF_STATUS[approval.status], approval })
    }
    let next = 0
    const worker = async () => {
      while (next < ids.length) {
        const id = ids[next++]
        await recheck(id).catch((error: unknown) => {
          if (!this.closed) this.report(error, `could not re-check approval ${id} after reconnecting`)
        })
      }
    }
    await Promise.all(Array.from({ length: Math.min(RECHECK_CONCURRENCY, ids.length) }, worker))
  }

  // --- sending -----------------------------------------------------------------------------

  /** Drains the outbox in batches, one `pg_notify` round trip per batch. */
  private async sendOutbox(): Promise<void> {
    while (this.outbox.length > 0) {
      const batch = this.outbox.splice(0, PUBLISH_BATCH)
      for (let attempt = 1; ; attempt++) {
        try {
          await this.publisher.query('SELECT pg_notify($1, payload) FROM unnest($2::text[]) AS payload', [EVENTS_CHANNEL, batch])
          break
        } catch (error) {
          // Waiters elsewhere still end at their `wait` deadline and clients poll again, so a
          // lost event delays other replicas; it never loses a decision.
          if (attempt >= PUBLISH_ATTEMPTS || this.closed) {
            this.report(error, `could not send ${batch.length} approval event(s) to the other replicas`)
            break
          }
          await sleep(backoff(attempt, { min: 50, max: 2_000 }))
        }
      }
    }
  }

  // --- the LISTEN connection ---------------------------------------------------------------

  private async openListener(): Promise<void> {
    const config = clientConfig(this.options.connection)
    const client = new pg.Client({
      ...config,
      application_name: connectionName('listen', this.replicaId),
      keepAlive: true,
    })
    client.on('notification', (message) => {
      if (message.channel === EVENTS_CHANNEL) this.receive(message.payload)
    })
    client.on('error', (error) => this.lost(client, error))
    client.on('end', () => this.lost(client, null))
    try {
      await client.connect()
      await client.query(`LISTEN ${EVENTS_CHANNEL}`)
    } catch (error) {
      await client.end().catch(() => {})
      throw error
    }
    if (this.closed) {
      await client.end().catch(() => {})
      return
    }
    this.listener = client
    this.startHeartbeat(client)
  }

  /** The LISTEN connection failed or ended: drop it and schedule a reconnect. */
  private lost(client: pg.Client, error: Error | null): void {
    if (this.listener !== client) return // a failed attempt or an already-handled loss
    this.listener = null
    this.stopHeartbeat()
    client.end().catch(() => {})
    if (this.closed) return
    this.report(error ?? new Error('connection ended'), 'lost the PostgreSQL LISTEN connection; reconnecting')
    this.scheduleReconnect()
  }

  /** Checks the LISTEN connection periodically; a failed or unanswered check counts as a loss. */
  private startHeartbeat(client: pg.Client): void {
    this.stopHeartbeat()
    const every = this.options.heartbeatMs ?? 30_000
    const limit = Math.min(HEARTBEAT_TIMEOUT_MS, every)
    this.heartbeat = setInterval(() => {
      let timer: NodeJS.Timeout | undefined
      const silent = new Promise<never>((_, reject) => {
        timer = setTimeout(() => reject(new Error(`no answer to a heartbeat within ${limit} ms`)), limit)
      })
      Promise.race([client.query('SELECT 1'), silent])
        .catch((error: unknown) => this.lost(client, error instanceof Error ? error : new Error(String(error))))
        .finally(() => clearTimeout(timer))
    }, every)
    this.heartbeat.unref()
  }

  private stopHeartbeat(): void {
    if (this.heartbeat) clearInterval(this.heartbeat)
    this.heartbeat = null
  }

  private scheduleReconnect(): void {
    if (this.closed || this.reconnectTimer) return
    const delay = backoff(++this.reconnectAttempts, this.options.reconnectDelayMs ?? { min: 100, max: 5_000 })
    this.reconnectTimer = setTimeout(() => {
      this.reconnectTimer = null
      void this.reconnect()
    }, delay)
    // The HTTP server keeps the process alive; a pending reconnect alone should not.
    this.reconnectTimer.unref()
  }

  private async reconnect(): Promise<void> {
    try {
      await this.listen()
    } catch (error) {
      if (!this.closed) {
        this.report(error, `could not reconnect the PostgreSQL LISTEN connection (attempt ${this.reconnectAttempts})`)
        this.scheduleReconnect()
      }
      return
    }
    if (this.closed) return
    this.reconnectAttempts = 0
    await this.recheckWatched()
  }

  private report(error: unknown, what: string): void {
    try {
      this.options.onError?.(error, what)
    } catch {
      // A broken logger must not break delivery.
    }
  }
}

/** Counts a subscription and returns an unsubscribe that uncounts it (once). */
function track(counts: Map<string, number>, key: string, unsubscribe: () => void): () => void {
  counts.set(key, (counts.get(key) ?? 0) + 1)
  let done = false
  return () => {
    if (done) return
    done = true
    unsubscribe()
    const left = (counts.get(key) ?? 1) - 1
    if (left > 0) counts.set(key, left)
    else counts.delete(key)
  }
}

/** The payload as sent by `publish`, or null when it is anything else. */
function parseWireEvent(payload: string | undefined): WireEvent | null {
  if (!payload) return null
  let value: unknown
  try {
    value = JSON.parse(payload)
  } catch {
    return null
  }
  if (typeof value !== 'object' || value === null) return null
  const { type, project_id, approval_id, origin } = value as Record<string, unknown>
  const isId = (id: unknown): id is string => typeof id === 'string' && id.length > 0 && id.length <= MAX_ID_LENGTH
  if (typeof type !== 'string' || !EVENT_TYPES.has(type) || !isId(project_id) || !isId(approval_id) || !isId(origin)) return null
  return { type: type as ApprovalEventType, project_id, approval_id, origin }
}

/** Shown in pg_stat_activity, so operators (and tests) can tell the notifier's connections apart. */
function connectionName(role: 'listen' | 'notify', replicaId: string): string {
  return `approval-gate ${role} ${replicaId}`.slice(0, 63) // NAMEDATALEN - 1
}

function clientConfig(connection: PostgresConnection): pg.ClientConfig {
  const config: pg.ClientConfig = typeof connection === 'string' ? { connectionString: connection } : { ...connection }
  config.connectionTimeoutMillis ??= CONNECT_TIMEOUT_MS
  return config
}

/** Where the database is, without the password. */
function describeConnection(connection: PostgresConnection): string {
  return typeof connection === 'string' ? connection.replace(/\/\/[^@/]*@/, '//***@') : `${connection.host ?? 'localhost'}:${connection.port ?? 5432}`
}

/** Capped exponential backoff with jitter (half to full delay). */
function backoff(attempt: number, { min, max }: { min: number; max: number }): number {
  const full = Math.min(max, min * 2 ** (attempt - 1))
  return Math.round(full / 2 + (Math.random() * full) / 2)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}
