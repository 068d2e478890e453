/**
 * The dashboard against hostile input: contexts built to blow up a page, tampered query
 * strings, crafted sign-in links, and JSON bodies where forms are expected. Each must get a
 * bounded page or a 4xx, never a 500 or a broken response.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { contextTable } from '../../src/server/dashboard/views/context.js'
import { ADMIN, createViaApi, FormClient, startDashboard, type DashboardFixture } from './fixture.js'

let fx: DashboardFixture

beforeAll(async () => {
  fx = await startDashboard()
})
afterAll(async () => {
  await fx?.close()
})

async function signedIn(): Promise<FormClient> {
  const client = new FormClient(fx.url)
  expect(await client.login(ADMIN.email, ADMIN.password)).toBe(303)
  return client
}

/** A value nested `depth` arrays deep whose innermost array holds `width` numbers. */
function deepAndWide(depth: number, width: number): unknown {
  let value: unknown = Array.from({ length: width }, () => 0)
  for (let i = 1; i < depth; i++) value = [value]
  return value
}

describe('a context built to inflate the page', () => {
  it('renders deep nested values in bounded size (no indentation blow-up)', () => {
    const context = { a: deepAndWide(28, 20_000) }
    const json = JSON.stringify(context)
    expect(json.length).toBeLessThan(64 * 1024)
    const out = contextTable(context).value
    expect(out.length).toBeLessThan(json.length * 4)
  })

  it('keeps the home page small when many such requests are pending', async () => {
    for (let i = 0; i < 5; i++) await createViaApi(fx.url, fx.keys.request, { action: `inflate-${i}`, context: { a: deepAndWide(28, 20_000) } })
    const client = await signedIn()
    const home = await client.request('GET', '/')
    expect(home.status).toBe(200)
    expect(home.text.length).toBeLessThan(5 * 300 * 1024)
  })
})

describe('tampered query strings', () => {
  it('answers 400, not 500, for a cursor the list never returned', async () => {
    const client = await signedIn()
    for (const path of ['/?cursor=garbage', '/audit?cursor=garbage']) {
      const page = await client.request('GET', path)
      expect({ path, status: page.status }).toEqual({ path, status: 400 })
      expect(page.headers.get('content-security-policy')).toContain("default-src 'none'")
    }
  })
})

describe('crafted sign-in links', () => {
  it('sends a signed-in visitor home when next holds characters a Location header cannot carry', async () => {
    const client = await signedIn()
    for (const next of ['/%E3%81%82', '/%00', '/a%7Fb']) {
      const answer = await client.request('GET', `/login?next=${next}`)
      expect({ next, status: answer.status, location: answer.headers.get('location') }).toEqual({ next, status: 303, location: '/' })
    }
  })

  it('signs in and redirects home when the posted next is unusable', async () => {
    const client = new FormClient(fx.url)
    const answer = await client.postLogin({ email: ADMIN.email, password: ADMIN.password, next: '/\u3042' })
    expect({ status: answer.status, location: answer.headers.get('location') }).toEqual({ status: 303, location: '/' })
  })
})

describe('JSON bodies where forms are expected', () => {
  it('treats non-string fields as missing instead of failing with 500', async () => {
    const anonymous = new FormClient(fx.url)
    const loginCsrf = await anonymous.loginCsrf()
    const login = await fetch(`${fx.url}/login`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', origin: fx.url, cookie: anonymous.cookieHeader() },
      body: JSON.stringify({ _csrf: loginCsrf, email: { a: 1 }, password: ['x'] }),
    })
    await login.text()
    expect(login.status).toBe(400)

    const client = await signedIn()
    const csrf = await client.csrf()
    const { id } = await createViaApi(fx.url, fx.keys.request, { action: 'json-decision' })
    const decision = await fetch(`${fx.url}/approvals/${id}/decision`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', accept: 'application/json', origin: fx.url, cookie: client.cookieHeader() },
      body: JSON.stringify({ _csrf: csrf, decision: 'approve', reason: 5 }),
    })
    const body = (await decision.json()) as { result?: string }
    expect(decision.status).toBe(200)
    expect(body.result).toBe('decided')
  })
})
