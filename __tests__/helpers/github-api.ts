/**
 * A local stand-in for the GitHub REST API's issue comments, in the documented shapes: list
 * (`GET /repos/{owner}/{repo}/issues/{number}/comments`, paged), create (`POST …/comments`,
 * 201) and update (`PATCH /repos/{owner}/{repo}/issues/comments/{id}`). Only the configured
 * token is accepted (`Authorization: token …`, else 401); comments it creates are written by
 * `github-actions[bot]`. `mode` makes every call fail: `forbidden` answers 403 as GitHub does for
 * a read-only token, `unavailable` 503, `hang` never answers. `calls` records every request.
 */
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'

export interface StoredComment {
  id: number
  /** `owner/repo#number` the comment is on. */
  on: string
  body: string
  user: { login: string; type: 'Bot' | 'User' }
}

export interface RecordedCall {
  method: string
  path: string
  authorization?: string
  body?: { body?: unknown }
}

export class GitHubApiStandIn {
  readonly calls: RecordedCall[] = []
  readonly comments: StoredComment[] = []
  mode: 'normal' | 'forbidden' | 'unavailable' | 'hang' = 'normal'
  private nextId = 1000
  private readonly hanging = new Set<ServerResponse>()

  private constructor(
    private readonly server: Server,
    readonly token: string,
  ) {}

  static async start(token = 'ghs_standin_token_1234567890'): Promise<GitHubApiStandIn> {
    const server = createServer()
    const standIn = new GitHubApiStandIn(server, token)
    server.on('request', (req: IncomingMessage, res: ServerResponse) => void standIn.handle(req, res))
    await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
    return standIn
  }

  /** Base URL, as `GITHUB_API_URL` would hold it. */
  get url(): string {
    return `http://127.0.0.1:${(this.server.address() as AddressInfo).port}`
  }

  /** Adds a comment written by someone else (or an earlier run), returning it. */
  seed(on: string, body: string, user: StoredComment['user']): StoredComment {
    const comment = { id: this.nextId++, on, body, user }
    this.comments.push(comment)
    return comment
  }

  /** Calls that wrote a comment (create or update). */
  writes(): RecordedCall[] {
    return this.calls.filter((call) => call.method === 'POST' || call.method === 'PATCH')
  }

  async close(): Promise<void> {
    for (const res of this.hanging) res.destroy()
    this.server.closeAllConnections()
    await new Promise((resolve) => this.server.close(resolve))
  }

  private async handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const text = Buffer.concat(chunks).toString('utf8')
    const url = new URL(req.url ?? '/', 'http://localhost')
    const call: RecordedCall = { method: req.method ?? '', path: url.pathname, authorization: req.headers.authorization, body: text ? (JSON.parse(text) as { body?: unknown }) : undefined }
    this.calls.push(call)
    const send = (status: number, json: unknown): void => {
      res.writeHead(status, { 'content-type': 'application/json; charset=utf-8' }).end(JSON.stringify(json))
    }
    if (this.mode === 'hang') {
      this.hanging.add(res)
      return
    }
    if (req.headers.authorization !== `token ${this.token}`) return send(401, { message: 'Bad credentials', documentation_url: 'https://docs.github.com/rest' })
    if (this.mode === 'forbidden') return send(403, { message: 'Resource not accessible by integration', documentation_url: 'https://docs.github.com/rest/issues/comments#create-an-issue-comment', status: '403' })
    if (this.mode === 'unavailable') return send(503, { message: 'Service Unavailable' })

    const onIssue = /^\/repos\/([^/]+)\/([^/]+)\/issues\/(\d+)\/comments$/.exec(url.pathname)
    const byId = /^\/repos\/([^/]+)\/([^/]+)\/issues\/comments\/(\d+)$/.exec(url.pathname)
    if (onIssue && req.method === 'GET') {
      const on = `${onIssue[1]}/${onIssue[2]}#${onIssue[3]}`
      const perPage = Number(url.searchParams.get('per_page') ?? 30)
      const page = Number(url.searchParams.get('page') ?? 1)
      return send(200, this.comments.filter((comment) => comment.on === on).slice((page - 1) * perPage, page * perPage))
    }
    if (onIssue && req.method === 'POST' && typeof call.body?.body === 'string') {
      const comment = this.seed(`${onIssue[1]}/${onIssue[2]}#${onIssue[3]}`, call.body.body, { login: 'github-actions[bot]', type: 'Bot' })
      return send(201, comment)
    }
    if (byId && req.method === 'PATCH' && typeof call.body?.body === 'string') {
      const comment = this.comments.find((candidate) => candidate.id === Number(byId[3]))
      if (!comment) return send(404, { message: 'Not Found' })
      comment.body = call.body.body
      return send(200, comment)
    }
    send(404, { message: 'Not Found' })
  }
}
