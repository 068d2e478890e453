/** `serve`'s single sign-on options: flags (or environment variables) → `SsoOptions` and the password switch. */
import { readFile } from 'node:fs/promises'
import type { SsoOptions } from '../../server/dashboard/sso.js'
import { issuerUrlProblem, normaliseIssuer } from '../../contract/issuers.js'
import { flagOrEnv, UsageError } from '../cli-kit.js'

export const SSO_FLAGS = {
  'oidc-issuer': { type: 'string' },
  'oidc-client-id': { type: 'string' },
  'oidc-client-secret-file': { type: 'string' },
  'oidc-provider-name': { type: 'string' },
  'oidc-allowed-domain': { type: 'string' },
  'oidc-default-project': { type: 'string' },
  'password-login': { type: 'string' },
} as const

export const SSO_HELP = `  --oidc-issuer URL   "Sign in with <provider>" on the dashboard: the OpenID Connect issuer
                      (https, e.g. https://accounts.google.com; env APPROVAL_GATE_OIDC_ISSUER)
  --oidc-client-id ID the dashboard's client id at the provider (env APPROVAL_GATE_OIDC_CLIENT_ID)
  --oidc-client-secret-file F
                      file holding the client secret (env APPROVAL_GATE_OIDC_CLIENT_SECRET_FILE,
                      or the secret itself in APPROVAL_GATE_OIDC_CLIENT_SECRET). Register
                      PUBLIC_URL/login/sso/callback as the redirect URI at the provider
  --oidc-provider-name NAME
                      the button's name (env APPROVAL_GATE_OIDC_PROVIDER_NAME, default the issuer's host)
  --oidc-allowed-domain D[,D…]
                      only verified emails at these domains sign in (env APPROVAL_GATE_OIDC_ALLOWED_DOMAIN)
  --oidc-default-project NAME
                      a verified email with no account joins this project as member on its first
                      sign-in (env APPROVAL_GATE_OIDC_DEFAULT_PROJECT; default: only existing accounts
                      and invited emails sign in)
  --password-login BOOL
                      false turns password sign-in off, leaving only the provider (needs
                      --oidc-issuer; env APPROVAL_GATE_PASSWORD_LOGIN, default true)`

type SsoValues = Partial<Record<keyof typeof SSO_FLAGS, string | undefined>>

/** The single sign-on settings of `serve`, or `sso: undefined` when none is configured; a `UsageError` names what is wrong. */
export async function ssoSettingsOf(values: SsoValues, env: NodeJS.ProcessEnv): Promise<{ sso?: SsoOptions; passwordLogin: boolean }> {
  const issuer = flagOrEnv(values['oidc-issuer'], env, 'APPROVAL_GATE_OIDC_ISSUER')
  const clientId = flagOrEnv(values['oidc-client-id'], env, 'APPROVAL_GATE_OIDC_CLIENT_ID')
  const secretFile = flagOrEnv(values['oidc-client-secret-file'], env, 'APPROVAL_GATE_OIDC_CLIENT_SECRET_FILE')
  const providerName = flagOrEnv(values['oidc-provider-name'], env, 'APPROVAL_GATE_OIDC_PROVIDER_NAME')
  const domains = flagOrEnv(values['oidc-allowed-domain'], env, 'APPROVAL_GATE_OIDC_ALLOWED_DOMAIN')
  const defaultProject = flagOrEnv(values['oidc-default-project'], env, 'APPROVAL_GATE_OIDC_DEFAULT_PROJECT')
  const passwordLogin = parseBoolean(flagOrEnv(values['password-login'], env, 'APPROVAL_GATE_PASSWORD_LOGIN', 'true')!)

  if (issuer === undefined) {
    const stray = Object.entries({ clientId, secretFile, providerName, domains, defaultProject }).find(([, value]) => value !== undefined)
    if (stray) throw new UsageError('the --oidc-… options need --oidc-issuer (or APPROVAL_GATE_OIDC_ISSUER)', 'serve')
    if (!passwordLogin) throw new UsageError('--password-login=false needs single sign-on (--oidc-issuer), or no one could sign in', 'serve')
    return { passwordLogin }
  }
  if (!clientId) throw new UsageError('--oidc-issuer needs --oidc-client-id (or APPROVAL_GATE_OIDC_CLIENT_ID)', 'serve')
  const sso: SsoOptions = { issuer: issuerUrl(issuer), clientId, clientSecret: await clientSecret(secretFile, env) }
  if (providerName?.trim()) sso.providerName = providerName.trim()
  if (defaultProject?.trim()) sso.defaultProject = defaultProject.trim()
  if (domains !== undefined) sso.allowedDomains = domainList(domains)
  return { sso, passwordLogin }
}

function parseBoolean(text: string): boolean {
  if (/^(true|1|yes|on)$/i.test(text)) return true
  if (/^(false|0|no|off)$/i.test(text)) return false
  throw new UsageError(`--password-login must be true or false, got ${JSON.stringify(text)}`, 'serve')
}

/** https, or http on this machine (a development provider): the rule trust rules' issuers follow. */
function issuerUrl(text: string): string {
  const problem = issuerUrlProblem(text)
  if (problem) throw new UsageError(`--oidc-issuer ${problem}, got ${JSON.stringify(text)}`, 'serve')
  return normaliseIssuer(text)
}

async function clientSecret(file: string | undefined, env: NodeJS.ProcessEnv): Promise<string> {
  let secret: string | undefined
  if (file !== undefined) {
    try {
      secret = (await readFile(file, 'utf8')).trim()
    } catch (error) {
      throw new UsageError(`--oidc-client-secret-file: cannot read ${file} (${(error as NodeJS.ErrnoException).code ?? (error as Error).message})`, 'serve')
    }
    if (!secret) throw new UsageError(`--oidc-client-secret-file: ${file} is empty`, 'serve')
  } else {
    secret = env.APPROVAL_GATE_OIDC_CLIENT_SECRET?.trim()
  }
  if (!secret) throw new UsageError('--oidc-issuer needs the client secret: --oidc-client-secret-file F (or APPROVAL_GATE_OIDC_CLIENT_SECRET_FILE / APPROVAL_GATE_OIDC_CLIENT_SECRET)', 'serve')
  return secret
}

function domainList(text: string): string[] {
  const domains = text.split(',').map((d) => d.trim().toLowerCase().replace(/^@/, '')).filter(Boolean)
  const bad = domains.find((d) => !/^[a-z0-9-]+(\.[a-z0-9-]+)+$/.test(d))
  if (domains.length === 0 || bad !== undefined) throw new UsageError(`--oidc-allowed-domain must be domain names separated by commas (like example.com), got ${JSON.stringify(bad ?? text)}`, 'serve')
  return domains
}
