/**
 * `/events`: a server-sent event stream of one project's approval changes for signed-in
 * members. Each message carries the card rendered for this viewer (same markup as the page)
 * and the new pending count. Heartbeat comments keep proxies from closing an idle stream;
 * listeners and timers are released when the browser disconnects or the server closes.
 */
import type { FastifyInstance } from 'fastify'
import type { ApprovalEvent } from '../../approvals/contracts.js'
import { SECURITY_HEADERS } from '../security.js'
import { approvalCard } from '../views/approval-card.js'
import type { DashboardDeps } from './common.js'

export const HEARTBEAT_MS = 15_000

export interface LiveMessage {
  type: ApprovalEvent['type']
  id: string
  status: string
  decided_by: string | null
  pending: number
  html: string
}

export function registerEventRoutes(app: FastifyInstance, deps: DashboardDeps): void {
  const open = new Set<() => void>()
  // preClose runs before the server stops accepting: end streams so close() does not hang on them.
  app.addHook('preClose', async () => {
    for (const end of [...open]) end()
  })

  app.get('/events', async (request, reply) => {
    const wanted = (request.query as Record<string, unknown>).project
    const viewer = await deps.sessions.viewer(request, typeof wanted === 'string' ? wanted : undefined)
    if (!viewer?.project) return reply.code(401).type('text/plain; charset=utf-8').send('Sign in to follow live updates.')
    if (typeof wanted === 'string' && wanted !== viewer.project.id) return reply.code(404).type('text/plain; charset=utf-8').send('Unknown project.')
    const project = viewer.project
    const csrfToken = viewer.session.csrf_token

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

    // Messages are rendered asynchronously (pending count); a chain keeps them in order.
    let chain: Promise<void> = Promise.resolve()
    let closed = false
    const send = (text: string) => {
      if (!closed) stream.write(text)
    }
    const unsubscribe = deps.notifier.onProject(project.id, (event) => {
      chain = chain
        .then(async () => {
          if (closed) return
          const message: LiveMessage = {
            type: event.type,
            id: event.approval.id,
            status: event.approval.status,
            decided_by: event.approval.decided_by,
            pending: await deps.store.countPending(project.id),
            html: approvalCard(event.approval, { csrfToken }).value,
          }
          send(`event: approval\ndata: ${JSON.stringify(message)}\n\n`)
        })
        .catch((error: unknown) => request.log.warn({ err: error }, 'dashboard live update failed'))
    })
    const heartbeat = setInterval(() => send(': heartbeat\n\n'), HEARTBEAT_MS)
    heartbeat.unref()

    const end = () => {
      if (closed) return
      closed = true
      clearInterval(heartbeat)
      unsubscribe()
      open.delete(end)
      stream.end()
    }
    open.add(end)
    stream.on('close', end)
    stream.on('error', end)
  })
}
