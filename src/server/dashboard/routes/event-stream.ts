/**
 * `/events`: a server-sent event stream of one project's approval changes for signed-in
 * members. Each message carries the card as the page renders it (without the viewer's CSRF
 * token, which the page script fills in) and the new pending count.
 *
 * Bounded, because a stream is cheap to open and easy to stop reading:
 * - each event is rendered once per project, not once per stream (`ProjectFeeds`);
 * - a stream whose unsent output passes `maxBufferedBytes` (a reader that stopped reading)
 *   is closed;
 * - a session holds at most `maxStreamsPerSession` streams (more answer 429);
 * - a stream lives at most `maxLifetimeMs`, then closes and the browser reconnects;
 * - before every event the stream checks that its session still exists and its user is still
 *   a member of the project, and checks the same every `sessionCheckMs` while idle, so it
 *   stops delivering at once and closes within a few seconds of a sign-out, a removal, a
 *   password change or the session's expiry.
 */
import type { FastifyInstance, FastifyReply, FastifyRequest } from 'fastify'
import type { ServerResponse } from 'node:http'
import type { ApprovalEvent, Notifier, VoteStanding } from '../../approvals/contracts.js'
import type { Approval, Store } from '../../store/types.js'
import { SECURITY_HEADERS } from '../security.js'
import { approvalCard } from '../views/approval-card.js'
import { actorOf, type DashboardDeps, type ProjectViewer } from './common.js'

export const HEARTBEAT_MS = 15_000

export interface LiveStreamOptions {
  /** Streams one session may hold at once. */
  maxStreamsPerSession: number
  /** Unsent bytes a stream may hold before it is closed as a non-reader. */
  maxBufferedBytes: number
  /** Longest life of one stream; the browser reconnects (`retry: 3000`). */
  maxLifetimeMs: number
  /** Spacing of the idle check that the session and membership still exist. */
  sessionCheckMs: number
  heartbeatMs: number
}

export const DEFAULT_LIVE_STREAM_OPTIONS: LiveStreamOptions = {
  maxStreamsPerSession: 5,
  maxBufferedBytes: 1024 * 1024,
  maxLifetimeMs: 15 * 60_000,
  sessionCheckMs: 2_000,
  heartbeatMs: HEARTBEAT_MS,
}

export interface LiveMessage {
  type: ApprovalEvent['type']
  id: string
  status: string
  decided_by: string | null
  pending: number
  html: string
}

/**
 * One event, shared by every stream of its project, with the session checks made for it:
 * streams of one session share one check per event. The card differs only by what the viewer
 * may do (vote, or why not), so it is rendered once per distinct standing, not per viewer.
 */
export interface Frame {
  approval: Approval
  textFor(standing: VoteStanding | undefined): string
  checks: Map<string, Promise<boolean>>
}
type FrameListener = (frame: Frame) => void

/**
 * One notifier subscription per project with open streams: each event is rendered into one
 * SSE frame, in order, and handed to every stream of the project.
 */
export class ProjectFeeds {
  private readonly feeds = new Map<string, { listeners: Set<FrameListener>; unsubscribe: () => void; chain: Promise<void> }>()

  constructor(
    private readonly store: Store,
    private readonly notifier: Notifier,
    private readonly onError: (error: unknown) => void,
  ) {}

  subscribe(projectId: string, listener: FrameListener): () => void {
    let feed = this.feeds.get(projectId)
    if (!feed) {
      const created = { listeners: new Set<FrameListener>(), unsubscribe: () => {}, chain: Promise.resolve() }
      created.unsubscribe = this.notifier.onProject(projectId, (event) => {
        // Rendering awaits the pending count; the chain keeps frames in event order.
        created.chain = created.chain
          .then(async () => {
            if (created.listeners.size === 0) return
            const frame = await this.render(projectId, event)
            for (const deliver of [...created.listeners]) deliver(frame)
          })
          .catch(this.onError)
      })
      this.feeds.set(projectId, created)
      feed = created
    }
    feed.listeners.add(listener)
    const current = feed
    return () => {
      current.listeners.delete(listener)
      if (current.listeners.size === 0 && this.feeds.get(projectId) === current) {
        current.unsubscribe()
        this.feeds.delete(projectId)
      }
    }
  }

  private async render(projectId: string, event: ApprovalEvent): Promise<Frame> {
    const pending = await this.store.countPending(projectId)
    const texts = new Map<string, string>()
    const textFor = (standing: VoteStanding | undefined): string => {
      const key = standing ? JSON.stringify(standing) : ''
      let text = texts.get(key)
      if (text === undefined) {
        const message: LiveMessage = {
          type: event.type,
          id: event.approval.id,
          status: event.approval.status,
          decided_by: event.approval.decided_by,
          pending,
          // No CSRF token in shared markup: the page script puts the viewer's own into the form.
          html: approvalCard(event.approval, { csrfToken: '', standing }).value,
        }
        text = `event: approval\ndata: ${JSON.stringify(message)}\n\n`
        texts.set(key, text)
      }
      return text
    }
    return { approval: event.approval, textFor, checks: new Map() }
  }
}

/** Open streams, counted per session, so a session cannot open more than its share. */
class OpenStreams {
  private readonly bySession = new Map<string, Set<() => void>>()

  count(sessionHash: string): number {
    return this.bySession.get(sessionHash)?.size ?? 0
  }

  add(sessionHash: string, end: () => void): void {
    let set = this.bySession.get(sessionHash)
    if (!set) this.bySession.set(sessionHash, (set = new Set()))
    set.add(end)
  }

  delete(sessionHash: string, end: () => void): void {
    const set = this.bySession.get(sessionHash)
    set?.delete(end)
    if (set && set.size === 0) this.bySession.delete(sessionHash)
  }

  all(): Array<() => void> {
    return [...this.bySession.values()].flatMap((set) => [...set])
  }
}

export function registerEventRoutes(app: FastifyInstance, deps: DashboardDeps, options: Partial<LiveStreamOptions> = {}): void {
  const limits = { ...DEFAULT_LIVE_STREAM_OPTIONS, ...options }
  const feeds = new ProjectFeeds(deps.store, deps.notifier, (error) => app.log.warn({ err: error }, 'dashboard live update failed'))
  const open = new OpenStreams()
  // preClose runs before the server stops accepting: end streams so close() does not hang on them.
  app.addHook('preClose', async () => {
    for (const end of open.all()) end()
  })

  app.get('/events', async (request, reply) => {
    const wanted = (request.query as Record<string, unknown>).project
    const viewer = await deps.sessions.viewer(request, typeof wanted === 'string' ? wanted : undefined)
    if (!viewer?.project) return reply.code(401).type('text/plain; charset=utf-8').send('Sign in to follow live updates.')
    if (typeof wanted === 'string' && wanted !== viewer.project.id) return reply.code(404).type('text/plain; charset=utf-8').send('Unknown project.')
    if (open.count(viewer.session.token_hash) >= limits.maxStreamsPerSession) {
      return reply.code(429).header('retry-after', '30').type('text/plain; charset=utf-8').send(`At most ${limits.maxStreamsPerSession} live pages per sign-in: close another tab.`)
    }
    startStream(deps, request, reply, viewer as ProjectViewer, { limits, feeds, open })
  })
}

/** Takes over the response and runs one stream until it ends. */
function startStream(
  deps: DashboardDeps,
  request: FastifyRequest,
  reply: FastifyReply,
  viewer: ProjectViewer,
  shared: { limits: LiveStreamOptions; feeds: ProjectFeeds; open: OpenStreams },
): void {
  const { limits } = shared
  reply.hijack()
  const stream = reply.raw
  stream.writeHead(200, {
    ...SECURITY_HEADERS,
    'content-type': 'text/event-stream; charset=utf-8',
    'cache-control': 'no-store',
    'x-accel-buffering': 'no', // nginx: do not buffer the stream
    connection: 'keep-alive',
  })
  stream.write('retry: 3000\n\n')

  const sessionHash = viewer.session.token_hash
  const stillAllowed = () => sessionStillValid(deps.store, sessionHash, viewer)
  let closed = false
  // Frames wait here while the session check before them runs, so they stay in order.
  let chain: Promise<void> = Promise.resolve()
  const end = () => {
    if (closed) return
    closed = true
    clearInterval(heartbeat)
    clearInterval(recheck)
    clearTimeout(lifetime)
    unsubscribe()
    shared.open.delete(sessionHash, end)
    stream.end()
    // A reader that stopped reading never drains: do not wait for it.
    if (stream.writableLength > 0) stream.destroy()
  }
  const write = (text: string) => writeBounded(stream, text, limits.maxBufferedBytes, end)
  const unsubscribe = shared.feeds.subscribe(viewer.project.id, (frame) => {
    chain = chain
      .then(async () => {
        if (closed) return
        let check = frame.checks.get(sessionHash)
        if (!check) frame.checks.set(sessionHash, (check = stillAllowed()))
        if (!(await check)) return end()
        if (closed) return
        const standing = frame.approval.status === 'pending' ? deps.approvals.standing(viewer.project, frame.approval, actorOf(viewer)) : undefined
        write(frame.textFor(standing))
      })
      .catch((error: unknown) => {
        request.log.warn({ err: error }, 'dashboard live update failed')
        end()
      })
  })
  const heartbeat = setInterval(() => write(': heartbeat\n\n'), limits.heartbeatMs)
  const recheck = setInterval(() => {
    chain = chain.then(async () => {
      if (!closed && !(await stillAllowed())) end()
    }).catch(() => end())
  }, limits.sessionCheckMs)
  const lifetime = setTimeout(end, limits.maxLifetimeMs)
  heartbeat.unref()
  recheck.unref()
  lifetime.unref()
  shared.open.add(sessionHash, end)
  stream.on('close', end)
  stream.on('error', end)
}

/** Writes unless the stream already holds more unsent bytes than allowed; then ends it. */
function writeBounded(stream: ServerResponse, text: string, maxBufferedBytes: number, end: () => void): void {
  if (stream.writableLength + Buffer.byteLength(text) > maxBufferedBytes) return end()
  stream.write(text)
}

/** The session still exists (not signed out, expired or ended by a password change) and its user is still a member. */
async function sessionStillValid(store: Store, sessionHash: string, viewer: ProjectViewer): Promise<boolean> {
  const session = await store.getSession(sessionHash, new Date().toISOString())
  if (!session || session.user_id !== viewer.user.id) return false
  return (await store.getMembership(viewer.project.id, viewer.user.id)) !== null
}
