/**
 * `serve`'s single sign-on options: each misconfiguration is a usage error naming what is
 * wrong (and nothing starts), env vars work like the flags, and a real `serve` process
 * started with them offers "Sign in with <provider>" and, with `--password-login=false`,
 * no password form and a refused password POST.
 */
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { chmodSync, existsSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { ssoSettingsOf } from '../../src/cli/commands/serve-sso.js'
import { FormClient } from '../dashboard/fixture.js'
import { runCli, startServe, stop } from './helpers.js'

let dir: string
let secretFile: string
beforeAll(() => {
  dir = mkdtempSync(join(tmpdir(), 'ag-serve-sso-'))
  secretFile = join(dir, 'client-secret')
  writeFileSync(secretFile, 'the client secret\n', { mode: 0o600 })
})
afterAll(() => rmSync(dir, { recursive: true, force: true }))

describe('serve single sign-on options', () => {
  it('reads flags, or the same settings from the environment', async () => {
    const fromFlags = await ssoSettingsOf(
      { 'oidc-issuer': 'https://accounts.google.com/', 'oidc-client-id': 'id-1', 'oidc-client-secret-file': secretFile, 'oidc-allowed-domain': 'Example.com, @corp.example', 'oidc-provider-name': 'Google', 'password-login': 'false' },
      {},
    )
    expect(fromFlags).toEqual({
      sso: { issuer: 'https://accounts.google.com', clientId: 'id-1', clientSecret: 'the client secret', allowedDomains: ['example.com', 'corp.example'], providerName: 'Google' },
      passwordLogin: false,
    })
    const fromEnv = await ssoSettingsOf({}, { APPROVAL_GATE_OIDC_ISSUER: 'https://example.okta.com', APPROVAL_GATE_OIDC_CLIENT_ID: 'id-2', APPROVAL_GATE_OIDC_CLIENT_SECRET: 's2', APPROVAL_GATE_OIDC_DEFAULT_PROJECT: 'default' })
    expect(fromEnv).toEqual({ sso: { issuer: 'https://example.okta.com', clientId: 'id-2', clientSecret: 's2', defaultProject: 'default' }, passwordLogin: true })
    expect(await ssoSettingsOf({}, {})).toEqual({ passwordLogin: true })
  })

  it('names each misconfiguration', async () => {
    const empty = join(dir, 'empty')
    writeFileSync(empty, '  \n')
    const cases: Array<[Record<string, string>, RegExp]> = [
      [{ 'password-login': 'false' }, /--password-login=false needs single sign-on/],
      [{ 'password-login': 'maybe' }, /--password-login must be true or false/],
      [{ 'oidc-client-id': 'x' }, /need --oidc-issuer/],
      [{ 'oidc-issuer': 'http://idp.example.com', 'oidc-client-id': 'x', 'oidc-client-secret-file': secretFile }, /--oidc-issuer must use https \(plain http only to this machine\)/],
      [{ 'oidc-issuer': 'not a url', 'oidc-client-id': 'x', 'oidc-client-secret-file': secretFile }, /--oidc-issuer is not a URL/],
      [{ 'oidc-issuer': 'https://idp.example.com' }, /needs --oidc-client-id/],
      [{ 'oidc-issuer': 'https://idp.example.com', 'oidc-client-id': 'x' }, /needs the client secret/],
      [{ 'oidc-issuer': 'https://idp.example.com', 'oidc-client-id': 'x', 'oidc-client-secret-file': join(dir, 'missing') }, /cannot read .*missing \(ENOENT\)/],
      [{ 'oidc-issuer': 'https://idp.example.com', 'oidc-client-id': 'x', 'oidc-client-secret-file': empty }, /is empty/],
      [{ 'oidc-issuer': 'https://idp.example.com', 'oidc-client-id': 'x', 'oidc-client-secret-file': secretFile, 'oidc-allowed-domain': 'exa mple.com' }, /--oidc-allowed-domain must be domain names/],
    ]
    for (const [values, message] of cases) await expect(ssoSettingsOf(values, {})).rejects.toThrow(message)
  })

  it('a serve process refuses a bad option before starting, and with password login off offers only the provider', async () => {
    const refused = await runCli(['serve', '--port', '0', '--data', join(dir, 'refused'), '--password-login=false'])
    expect(refused.code).toBe(64)
    expect(refused.stderr).toContain('--password-login=false needs single sign-on')
    expect(existsSync(join(dir, 'refused'))).toBe(false) // nothing was created

    chmodSync(secretFile, 0o600)
    const { process, url } = await startServe(join(dir, 'data'), ['--oidc-issuer', 'https://idp.example.com', '--oidc-client-id', 'dashboard', '--oidc-client-secret-file', secretFile, '--oidc-provider-name', 'Example SSO', '--password-login=false'])
    try {
      const client = new FormClient(url)
      const page = await client.request('GET', '/login')
      expect(page.text).toContain('Sign in with Example SSO')
      expect(page.text).not.toContain('type="password"')
      const csrf = decodeURIComponent(/ag_login_csrf=([^;]+)/.exec(client.cookieHeader())![1])
      const posted = await client.request('POST', '/login', { form: { _csrf: csrf, email: 'admin@localhost', password: 'whatever it is' } })
      expect(posted.status).toBe(403)
    } finally {
      await stop(process)
    }
  })
})
