/**
 * Sessions end when access ends, and live streams with them (issue #10 items 6, 7, 8):
 * password changes and resets, removal and "sign out everywhere" delete the user's sessions;
 * a stream delivers nothing after its session ends and then closes; streams are bounded
 * (per session, per buffered bytes, per lifetime) and each event is rendered once.
 */
import { once } from 'node:events'
import { connect } from 'node:net'
import { describe, expect, it } from '@jest/globals'
import { hashToken, randomToken } from '../../src/server/auth/secrets.js'
import { ADMIN, createViaApi, FormClient, MEMBER, type DashboardFixture, dashboardsClosedAfterEach, signedInClient } from './fixture.js'
import { runCli } from '../cli/helpers.js'

const dashboard = dashboardsClosedAfterEach()
const signedIn = signedInClient

/** True while the client's session still opens a page. */
async function sessionWorks(fx: DashboardFixture, client: FormClient): Promise<boolean> {
  const response = await fetch(`${fx.url}/settings`, { headers: { cookie: client.cookieHeader() }, redirect: 'manual' })
  await response.text()
  return response.status === 200
}

/** An open `/events` stream, read into `text` until it ends. */
interface Stream {
  status: number
  text(): string
  /** Resolves when the text contains `needle`; rejects if the stream ends first. */
  until(needle: string): Promise<void>
  /** Resolves when the server ends the stream. */
  ended: Promise<void>
  abort(): void
}

async function openStream(fx: DashboardFixture, client: FormClient): Promise<Stream> {
  const controller = new AbortController()
  const response = await fetch(`${fx.url}/events?project=${fx.project.id}`, { headers: { cookie: client.cookieHeader() }, signal: controller.signal })
  let received = ''
  const waiters = new Set<() => void>()
  let finished = false
  const ended = (async () => {
    if (!response.body) return
    const decoder = new TextDecoder()
    const reader = response.body.getReader()
    try {
      for (;;) {
        const { value, done } = await reader.read()
        if (done) break
        received += decoder.decode(value, { stream: true })
        for (const wake of [...waiters]) wake()
      }
    } catch {
      // aborted by the test
    } finally {
      finished = true
      for (const wake of [...waiters]) wake()
    }
  })()
  return {
    status: response.status,
    text: () => received,
    ended,
    abort: () => controller.abort(),
    until(needle) {
      return new Promise((resolve, reject) => {
        const check = () => {
          if (received.includes(needle)) {
            waiters.delete(check)
            resolve()
          } else if (finished) {
            waiters.delete(check)
            reject(new Error(`stream ended before ${needle}; got: ${received.slice(0, 300)}`))
          }
        }
        waiters.add(check)
        check()
      })
    },
  }
}

describe('sessions end when access ends (item 8)', () => {
  it('a password reset with `user add --password-stdin` signs the user out everywhere', async () => {
    const fx = await dashboard()
    const first = await signedIn(fx, MEMBER)
    const second = await signedIn(fx, MEMBER)
    const other = await signedIn(fx, ADMIN)
    const reset = await runCli(['user', 'add', MEMBER.email, '--project', 'main', '--password-stdin', '--data', fx.dataDir], { input: 'a brand new password\n' })
    expect(reset.code).toBe(0)
    expect(reset.stdout).toContain('password reset, 2 signed-in sessions ended')
    expect(await sessionWorks(fx, first)).toBe(false)
    expect(await sessionWorks(fx, second)).toBe(false)
    expect(await sessionWorks(fx, other)).toBe(true)
    expect(await new FormClient(fx.url).login(MEMBER.email, 'a brand new password')).toBe(303)
  })

  it('changing the password in the dashboard ends the other sessions and keeps this one', async () => {
    const fx = await dashboard()
    const here = await signedIn(fx, MEMBER)
    const elsewhere = await signedIn(fx, MEMBER)
    const csrf = await here.csrf('/account')
    const mismatch = await here.request('POST', '/account/password', { form: { _csrf: csrf, current_password: MEMBER.password, new_password: 'new password 12345', confirm_password: 'different 12345' } })
    expect(mismatch.status).toBe(400)
    const wrong = await here.request('POST', '/account/password', { form: { _csrf: csrf, current_password: 'not it at all', new_password: 'new password 12345', confirm_password: 'new password 12345' } })
    expect(wrong.status).toBe(401)
    const short = await here.request('POST', '/account/password', { form: { _csrf: csrf, current_password: MEMBER.password, new_password: 'short', confirm_password: 'short' } })
    expect(short.status).toBe(400)
    expect(short.text).toContain('at least 12 characters')
    expect(await sessionWorks(fx, elsewhere)).toBe(true)

    const changed = await here.request('POST', '/account/password', { form: { _csrf: csrf, current_password: MEMBER.password, new_password: 'new password 12345', confirm_password: 'new password 12345' } })
    expect(changed.status).toBe(303)
    expect(changed.headers.get('location')).toBe('/account?notice=password_changed')
    expect(await sessionWorks(fx, elsewhere)).toBe(false)
    expect(await sessionWorks(fx, here)).toBe(true)
  })

  it('"Sign out everywhere" ends every session of the account, and only of that account', async () => {
    const fx = await dashboard()
    const here = await signedIn(fx, MEMBER)
    const elsewhere = await signedIn(fx, MEMBER)
    const admin = await signedIn(fx, ADMIN)
    const page = await here.request('GET', '/account')
    expect(page.text).toContain('action="/logout/everywhere"')
    expect((await here.request('POST', '/logout/everywhere', { form: { _csrf: 'forged' } })).status).toBe(403)
    expect(await sessionWorks(fx, here)).toBe(true)
    const out = await here.request('POST', '/logout/everywhere', { form: { _csrf: await here.csrf() } })
    expect(out.headers.get('location')).toBe('/login?notice=signed_out_everywhere')
    expect(await sessionWorks(fx, here)).toBe(false)
    expect(await sessionWorks(fx, elsewhere)).toBe(false)
    expect(await sessionWorks(fx, admin)).toBe(true)
  })

  it('removing a member ends their sessions', async () => {
    const fx = await dashboard()
    const member = await signedIn(fx, MEMBER)
    const admin = await signedIn(fx, ADMIN)
    const removed = await admin.request('POST', `/settings/members/${fx.member.id}/remove`, { form: { _csrf: await admin.csrf('/settings/members') } })
    expect(removed.status).toBe(303)
    expect(await fx.store.listProjectsForUser(fx.member.id)).toEqual([])
    expect(await fx.store.getUserByEmail(MEMBER.email)).not.toBeNull()
    const after = await fetch(`${fx.url}/`, { headers: { cookie: member.cookieHeader() }, redirect: 'manual' })
    expect(after.status).toBe(303)
    expect(after.headers.get('location')).toBe('/login')
  })
})

describe('a live stream stops with its session (item 7)', () => {
  /** Opens a member's stream, ends access with `endAccess`, and checks nothing more arrives and the stream closes. */
  async function streamStopsAfter(endAccess: (fx: DashboardFixture, member: FormClient) => Promise<void>): Promise<void> {
    const fx = await dashboard()
    const member = await signedIn(fx, MEMBER)
    const stream = await openStream(fx, member)
    expect(stream.status).toBe(200)
    await stream.until('retry:')
    const before = await createViaApi(fx.url, fx.keys.request, { action: 'before' })
    await stream.until(before.id)
    await endAccess(fx, member)
    const after = await createViaApi(fx.url, fx.keys.request, { action: 'after', context: { secret: 'must not arrive' } })
    await stream.ended // closed by the server (the idle check runs every 2 s)
    expect(stream.text()).not.toContain(after.id)
    expect(stream.text()).not.toContain('must not arrive')
  }

  it('after sign-out', async () => {
    await streamStopsAfter(async (_fx, member) => {
      expect((await member.request('POST', '/logout', { form: { _csrf: await member.csrf() } })).status).toBe(303)
    })
  })

  it('after removal from the project', async () => {
    await streamStopsAfter(async (fx) => {
      const admin = await signedIn(fx, ADMIN)
      expect((await admin.request('POST', `/settings/members/${fx.member.id}/remove`, { form: { _csrf: await admin.csrf('/settings/members') } })).status).toBe(303)
    })
  })

  it('after a removal made behind the dashboard (membership only, sessions kept)', async () => {
    await streamStopsAfter(async (fx) => {
      expect(await fx.store.removeMembership(fx.project.id, fx.member.id)).toBe(true)
    })
  })

  it('after a password change elsewhere', async () => {
    await streamStopsAfter(async (fx) => {
      const other = await signedIn(fx, MEMBER)
      const csrf = await other.csrf('/account')
      const changed = await other.request('POST', '/account/password', { form: { _csrf: csrf, current_password: MEMBER.password, new_password: 'another password 99', confirm_password: 'another password 99' } })
      expect(changed.status).toBe(303)
    })
  })

  it('after the session expires', async () => {
    const fx = await dashboard()
    const token = randomToken(32)
    const expiresAt = Date.now() + 1500
    await fx.store.createSession({ token_hash: hashToken(token), user_id: fx.member.id, csrf_token: randomToken(24), created_at: new Date().toISOString(), expires_at: new Date(expiresAt).toISOString() })
    const client = new FormClient(fx.url)
    const stream = await openStreamWithCookie(fx, `ag_session=${token}`)
    expect(stream.status).toBe(200)
    await stream.until('retry:')
    while (Date.now() <= expiresAt) await new Promise((resolve) => setTimeout(resolve, 100))
    const after = await createViaApi(fx.url, fx.keys.request, { action: 'after expiry' })
    await stream.ended
    expect(stream.text()).not.toContain(after.id)
    void client
  })
})

async function openStreamWithCookie(fx: DashboardFixture, cookie: string): Promise<Stream> {
  const fake = new FormClient(fx.url)
  fake.cookieHeader = () => cookie
  return openStream(fx, fake)
}

describe('live streams are bounded (item 6)', () => {
  it('allows at most 5 streams per session; a closed one frees its place', async () => {
    const fx = await dashboard()
    const member = await signedIn(fx, MEMBER)
    const streams = await Promise.all(Array.from({ length: 5 }, () => openStream(fx, member)))
    expect(streams.map((s) => s.status)).toEqual([200, 200, 200, 200, 200])
    await Promise.all(streams.map((s) => s.until('retry:')))
    const sixth = await fetch(`${fx.url}/events?project=${fx.project.id}`, { headers: { cookie: member.cookieHeader() } })
    expect(sixth.status).toBe(429)
    expect(sixth.headers.get('retry-after')).toBe('30')
    await sixth.text()
    // Another session of the same user has its own allowance.
    const other = await openStream(fx, await signedIn(fx, MEMBER))
    expect(other.status).toBe(200)
    other.abort()
    streams[0].abort()
    // The server notices the closed connection; then a new stream fits again.
    let again = 429
    for (let attempt = 0; attempt < 200 && again === 429; attempt++) {
      const response = await fetch(`${fx.url}/events?project=${fx.project.id}`, { headers: { cookie: member.cookieHeader() } })
      again = response.status
      if (again === 429) {
        await response.text()
        await new Promise((resolve) => setTimeout(resolve, 25))
      } else {
        await response.body?.cancel()
      }
    }
    expect(again).toBe(200)
    for (const stream of streams) stream.abort()
  })

  it('renders each event once for all streams, without any viewer’s CSRF token', async () => {
    const fx = await dashboard()
    const member = await signedIn(fx, MEMBER)
    const admin = await signedIn(fx, ADMIN)
    const streams = [await openStream(fx, member), await openStream(fx, member), await openStream(fx, admin)]
    await Promise.all(streams.map((s) => s.until('retry:')))
    const store = fx.store as { countPending: (projectId: string) => Promise<number> }
    const original = store.countPending.bind(fx.store)
    let counted = 0
    store.countPending = async (projectId) => {
      counted++
      return original(projectId)
    }
    try {
      const created = await createViaApi(fx.url, fx.keys.request, { action: 'once' })
      await Promise.all(streams.map((s) => s.until(created.id)))
      expect(counted).toBe(1)
      for (const stream of streams) {
        expect(stream.text()).toContain('name=\\"_csrf\\" value=\\"\\"')
        expect(stream.text()).not.toMatch(/name=\\"_csrf\\" value=\\"[^\\"]+\\"/)
      }
    } finally {
      store.countPending = original
      for (const stream of streams) stream.abort()
    }
  })

  it('closes a stream whose reader stopped reading once its unsent output passes the bound', async () => {
    const fx = await dashboard({ dashboard: { liveStreams: { maxStreamsPerSession: 1, maxBufferedBytes: 64 * 1024 } } })
    const member = await signedIn(fx, MEMBER)
    // A raw connection that reads the stream's start, then never reads again.
    const socket = connect(Number(new URL(fx.url).port), '127.0.0.1')
    await once(socket, 'connect')
    let head = ''
    const started = new Promise<void>((resolve) => {
      const onData = (chunk: Buffer) => {
        head += chunk.toString('latin1')
        if (!head.includes('retry: 3000')) return
        socket.off('data', onData)
        socket.pause()
        resolve()
      }
      socket.on('data', onData)
    })
    socket.write(`GET /events?project=${fx.project.id} HTTP/1.1\r\nHost: 127.0.0.1\r\nCookie: ${member.cookieHeader()}\r\n\r\n`)
    await started
    expect(head).toMatch(/^HTTP\/1\.1 200/)
    const streamFree = async () => {
      const response = await fetch(`${fx.url}/events?project=${fx.project.id}`, { headers: { cookie: member.cookieHeader() } })
      if (response.status === 200) await response.body?.cancel()
      else await response.text()
      return response.status === 200
    }
    // The stalled stream holds the session's only place.
    expect(await streamFree()).toBe(false)
    const big = 'x'.repeat(50_000)
    let freed = false
    for (let i = 0; i < 400 && !freed; i++) {
      await createViaApi(fx.url, fx.keys.request, { action: `big ${i}`, context: { big } })
      if (i % 10 === 9) freed = await streamFree()
    }
    socket.destroy()
    expect(freed).toBe(true)
  })

  it('ends a stream at its maximum lifetime (the browser reconnects)', async () => {
    const fx = await dashboard({ dashboard: { liveStreams: { maxLifetimeMs: 500 } } })
    const stream = await openStream(fx, await signedIn(fx, MEMBER))
    expect(stream.status).toBe(200)
    await stream.ended
    expect(stream.text()).toContain('retry: 3000')
  })
})
