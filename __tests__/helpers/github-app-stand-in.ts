/**
 * GitHub stood in locally for the App's tests: a loopback REST API that speaks the documented
 * shapes — `POST /app/installations/{id}/access_tokens` verifies the App's JWT (RS256 under the
 * App's public key, `iss` the App id, `iat`/`exp` at most ten minutes apart and current) and
 * issues a token; `POST /repos/{owner}/{repo}/actions/runs/{run}/deployment_protection_rule`
 * takes only such a token and records `environment_name`/`state`/`comment` — plus webhook
 * deliveries signed with the App's webhook secret, as GitHub sends them.
 */
import { generateKeyPairSync, randomBytes, randomUUID, type KeyObject } from 'node:crypto'
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http'
import type { AddressInfo } from 'node:net'
import { jwtVerify } from 'jose'
import { signWebhookBody } from '../../src/server/github/webhook-signature.js'

export const APP_ID = '424242'
export const WEBHOOK_SECRET = 'stand-in webhook secret, 32+ chars long'

/** One answer GitHub received for a run. */
export interface RecordedReview {
  repository: string
  run_id: string
  environment_name: unknown
  state: unknown
  comment: unknown
  /** What the stand-in answered. */
  status: number
}

/** How the callback endpoint answers: `ok` 204, `fail` 502 (retried), `refuse` 422 (final), `hang` never. */
export type CallbackMode = 'ok' | 'fail' | 'refuse' | 'hang'

export interface GithubStandIn {
  /** The API base URL to configure (`--github-api-url`). */
  apiUrl: string
  /** The App's RSA private key (PEM) and a different one, for forged JWTs. */
  privateKeyPem: string
  otherPrivateKeyPem: string
  /** Every answer received, in order (failed ones too). */
  reviews: RecordedReview[]
  /** Token requests refused, with why. */
  refusedTokens: string[]
  tokensIssued: number
  callbackMode: CallbackMode
  /** The `message` of a `fail` or `refuse` answer (default `Server Error`). */
  failureMessage: string
  /** Installation ids the App is installed on (others answer 404). */
  installations: Set<string>
  close(): Promise<void>
}

function pem(key: KeyObject): string {
  return key.export({ type: 'pkcs8', format: 'pem' }) as string
}

export async function startGithubStandIn(): Promise<GithubStandIn> {
  const { privateKey, publicKey } = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const other = generateKeyPairSync('rsa', { modulusLength: 2048 })
  const tokens = new Map<string, string>() // token → installation
  const hanging: ServerResponse[] = []

  const standIn: GithubStandIn = {
    apiUrl: '',
    privateKeyPem: pem(privateKey),
    otherPrivateKeyPem: pem(other.privateKey),
    reviews: [],
    refusedTokens: [],
    tokensIssued: 0,
    callbackMode: 'ok',
    failureMessage: 'Server Error',
    installations: new Set(['77']),
    close: async () => {},
  }

  async function accessToken(request: IncomingMessage, response: ServerResponse, installation: string): Promise<void> {
    const jwt = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1]
    try {
      if (!jwt) throw new Error('no bearer JWT')
      const { payload } = await jwtVerify(jwt, publicKey, { algorithms: ['RS256'], issuer: APP_ID })
      const now = Math.floor(Date.now() / 1000)
      if (typeof payload.iat !== 'number' || typeof payload.exp !== 'number') throw new Error('iat and exp are required')
      if (payload.exp - payload.iat > 600) throw new Error('exp is more than ten minutes after iat')
      if (payload.iat > now + 60) throw new Error('iat is in the future')
    } catch (error) {
      standIn.refusedTokens.push((error as Error).message)
      return json(response, 401, { message: 'A JSON web token could not be decoded' })
    }
    if (!standIn.installations.has(installation)) return json(response, 404, { message: 'Not Found' })
    const token = `ghs_${randomBytes(18).toString('hex')}`
    tokens.set(token, installation)
    standIn.tokensIssued++
    json(response, 201, { token, expires_at: new Date(Date.now() + 3_600_000).toISOString(), permissions: { deployments: 'write', actions: 'read' } })
  }

  async function review(request: IncomingMessage, response: ServerResponse, repository: string, runId: string): Promise<void> {
    const token = /^Bearer (.+)$/.exec(request.headers.authorization ?? '')?.[1]
    if (!token || !tokens.has(token)) return json(response, 401, { message: 'Bad credentials' })
    const body = JSON.parse(await readBody(request)) as Record<string, unknown>
    const status = { ok: 204, fail: 502, refuse: 422, hang: 0 }[standIn.callbackMode]
    standIn.reviews.push({ repository, run_id: runId, environment_name: body.environment_name, state: body.state, comment: body.comment, status })
    if (standIn.callbackMode === 'hang') {
      hanging.push(response)
      return
    }
    if (status === 204) {
      response.writeHead(204).end()
      return
    }
    json(response, status, { message: standIn.failureMessage })
  }

  const server: Server = createServer((request, response) => {
    const url = request.url ?? ''
    const token = /^\/app\/installations\/(\d+)\/access_tokens$/.exec(url)
    const run = /^\/repos\/([^/]+)\/([^/]+)\/actions\/runs\/(\d+)\/deployment_protection_rule$/.exec(url)
    const work =
      request.method === 'POST' && token
        ? accessToken(request, response, token[1])
        : request.method === 'POST' && run
          ? review(request, response, `${decodeURIComponent(run[1])}/${decodeURIComponent(run[2])}`, run[3])
          : Promise.resolve(json(response, 404, { message: 'Not Found' }))
    work.catch((error: unknown) => json(response, 500, { message: String(error) }))
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  standIn.apiUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  standIn.close = async () => {
    for (const response of hanging) response.destroy()
    server.closeAllConnections()
    await new Promise<void>((resolve) => server.close(() => resolve()))
  }
  return standIn
}

function json(response: ServerResponse, status: number, body: unknown): void {
  if (response.headersSent) return
  response.writeHead(status, { 'content-type': 'application/json' }).end(JSON.stringify(body))
}

function readBody(request: IncomingMessage): Promise<string> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = []
    request.on('data', (chunk: Buffer) => chunks.push(chunk))
    request.on('end', () => resolve(Buffer.concat(chunks).toString('utf8')))
    request.on('error', reject)
  })
}

export interface DeploymentFields {
  repository?: string
  environment?: string
  installation?: number
  runId?: number
  sender?: string
  pullRequests?: Array<{ number: number; title: string }>
}

/** A `deployment_protection_rule` `requested` payload in GitHub's shape. */
export function deploymentPayload(fields: DeploymentFields = {}): Record<string, unknown> {
  const repository = fields.repository ?? 'acme/web'
  const runId = fields.runId ?? 9001
  return {
    action: 'requested',
    environment: fields.environment ?? 'production',
    event: 'push',
    ref: 'refs/heads/main',
    sha: 'f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed',
    deployment_callback_url: `https://api.github.com/repos/${repository}/actions/runs/${runId}/deployment_protection_rule`,
    deployment: { id: 5150, ref: 'main', sha: 'f00dfeedf00dfeedf00dfeedf00dfeedf00dfeed', environment: fields.environment ?? 'production' },
    pull_requests: (fields.pullRequests ?? [{ number: 12, title: 'Ship the new checkout' }]).map((pr) => ({ number: pr.number, title: pr.title, html_url: `https://github.com/${repository}/pull/${pr.number}` })),
    repository: { id: 1, full_name: repository, html_url: `https://github.com/${repository}` },
    installation: { id: fields.installation ?? 77 },
    sender: { login: fields.sender ?? 'octocat' },
  }
}

export interface Delivery {
  deliveryId: string
  status: number
  body: Record<string, unknown>
}

/** POSTs a webhook delivery to the server, signed with `secret` unless `signature` is given. */
export async function deliver(
  serverUrl: string,
  event: string,
  payload: unknown,
  options: { deliveryId?: string; secret?: string; signature?: string; rawBody?: Buffer } = {},
): Promise<Delivery> {
  const body = options.rawBody ?? Buffer.from(JSON.stringify(payload))
  const deliveryId = options.deliveryId ?? randomUUID()
  const response = await fetch(`${serverUrl}/integrations/github/webhook`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'user-agent': 'GitHub-Hookshot/stand-in',
      'x-github-event': event,
      'x-github-delivery': deliveryId,
      'x-hub-signature-256': options.signature ?? signWebhookBody(options.secret ?? WEBHOOK_SECRET, body),
    },
    body: new Uint8Array(body),
  })
  const text = await response.text()
  return { deliveryId, status: response.status, body: text ? (JSON.parse(text) as Record<string, unknown>) : {} }
}
