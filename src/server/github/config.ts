/**
 * The GitHub App's settings: its id, private key (signs the App's JWTs), webhook secret
 * (proves deliveries come from GitHub) and the REST API's base URL (github.com, or a GitHub
 * Enterprise Server's `https://HOST/api/v3`). Read once at start; a bad value stops `serve`
 * with a message naming it.
 */
import { createPrivateKey, type KeyObject } from 'node:crypto'
import { readFile } from 'node:fs/promises'

export const GITHUB_API_URL = 'https://api.github.com'

export interface GithubAppConfig {
  /** The App's numeric id (the JWT's `iss`). */
  appId: string
  /** RSA private key generated for the App on GitHub. */
  privateKey: KeyObject
  /** The webhook secret the App was created with. */
  webhookSecret: string
  /** REST API base URL, no trailing slash. */
  apiUrl: string
}

/** A setting the operator got wrong; the message names it. */
export class GithubAppConfigError extends Error {
  constructor(message: string) {
    super(message)
    this.name = 'GithubAppConfigError'
  }
}

export interface GithubAppFiles {
  appId: string
  keyFile: string
  webhookSecretFile: string
  apiUrl?: string
}

/** Reads and checks the App's key and secret files. */
export async function loadGithubAppConfig(files: GithubAppFiles): Promise<GithubAppConfig> {
  const pem = await readSecretFile(files.keyFile, 'private key')
  const secret = (await readSecretFile(files.webhookSecretFile, 'webhook secret')).trim()
  return githubAppConfig({ appId: files.appId, privateKeyPem: pem, webhookSecret: secret, apiUrl: files.apiUrl })
}

/** Checks the settings given as values (tests, embedding). */
export function githubAppConfig(input: { appId: string; privateKeyPem: string; webhookSecret: string; apiUrl?: string }): GithubAppConfig {
  const appId = input.appId.trim()
  if (!/^[1-9]\d{0,19}$/.test(appId)) throw new GithubAppConfigError(`the GitHub App id must be the App's number (its settings page, "App ID"), got ${JSON.stringify(input.appId)}`)
  let privateKey: KeyObject
  try {
    privateKey = createPrivateKey(input.privateKeyPem)
  } catch {
    throw new GithubAppConfigError('the GitHub App private key is not a PEM private key (download one from the App\'s settings page, "Private keys")')
  }
  if (privateKey.asymmetricKeyType !== 'rsa') throw new GithubAppConfigError(`the GitHub App private key must be an RSA key, got ${privateKey.asymmetricKeyType ?? 'unknown'}`)
  // A short secret can be guessed offline from one signed delivery.
  if (input.webhookSecret.length < 16) throw new GithubAppConfigError('the GitHub webhook secret must be at least 16 characters (e.g. openssl rand -hex 32)')
  return { appId, privateKey, webhookSecret: input.webhookSecret, apiUrl: apiUrlOf(input.apiUrl ?? GITHUB_API_URL) }
}

function apiUrlOf(text: string): string {
  let url: URL
  try {
    url = new URL(text)
  } catch {
    throw new GithubAppConfigError(`the GitHub API URL must be an absolute URL, got ${JSON.stringify(text)}`)
  }
  if (url.protocol !== 'https:' && url.protocol !== 'http:') throw new GithubAppConfigError('the GitHub API URL must start with https:// (or http:// for a local stand-in)')
  if (url.search || url.hash || url.username || url.password) throw new GithubAppConfigError('the GitHub API URL must not carry a query, fragment or credentials')
  return url.href.replace(/\/+$/, '')
}

async function readSecretFile(path: string, what: string): Promise<string> {
  try {
    return await readFile(path, 'utf8')
  } catch (error) {
    throw new GithubAppConfigError(`cannot read the GitHub App ${what} file ${path}: ${(error as NodeJS.ErrnoException).code ?? (error as Error).message}`)
  }
}
