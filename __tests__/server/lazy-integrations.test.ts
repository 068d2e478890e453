/**
 * The optional integrations' libraries load only when they are configured or used: a server
 * without email, Slack, single sign-on or a notification to send does not carry nodemailer,
 * @slack/web-api, openid-client or undici (together ~15–20 MB of resident memory idle). A real
 * server process, with a module hook that sees every package it loads.
 */
import { spawn } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { describe, expect, it } from '@jest/globals'

const OPTIONAL = ['nodemailer', '@slack/web-api', 'openid-client', 'undici']

async function packagesLoadedBy(options: Record<string, unknown>): Promise<string[]> {
  const child = spawn(process.execPath, [fileURLToPath(new URL('./loaded-packages-probe.mjs', import.meta.url)), JSON.stringify(options)], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stdout = ''
  let stderr = ''
  child.stdout.setEncoding('utf8').on('data', (chunk: string) => (stdout += chunk))
  child.stderr.setEncoding('utf8').on('data', (chunk: string) => (stderr += chunk))
  const code = await new Promise<number | null>((resolve, reject) => {
    child.on('error', reject)
    child.on('close', resolve)
  })
  if (code !== 0) throw new Error(`the probe exited with ${code}: ${stderr}`)
  return JSON.parse(stdout.trim().split('\n').at(-1)!) as string[]
}

describe('optional integrations', () => {
  it('are not loaded by a server that does not use them', async () => {
    const loaded = await packagesLoadedBy({})
    // The probe sees packages: the HTTP framework is always there.
    expect(loaded).toContain('fastify')
    for (const name of OPTIONAL) expect(loaded).not.toContain(name)
  })

  it('load when configured: email loads nodemailer at start', async () => {
    const loaded = await packagesLoadedBy({ notifications: { email: { smtpUrl: 'smtp://127.0.0.1:1', from: 'gate@example.test' } } })
    expect(loaded).toContain('nodemailer')
    expect(loaded).not.toContain('openid-client')
  })
})
