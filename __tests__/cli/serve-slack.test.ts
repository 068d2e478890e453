/** `serve --slack-api-url`: a malformed base URL (or one carrying credentials) stops serve before anything starts. */
import { existsSync } from 'node:fs'
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { runCli } from './helpers.js'

let dir: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-serve-slack-'))
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('serve --slack-api-url', () => {
  it('refuses what is not an absolute http(s) URL without credentials, naming the flag', async () => {
    for (const bad of ['slack.com/api', 'ftp://slack.example/api/', 'https://user:pw@slack.example/api/']) {
      const result = await runCli(['serve', '--port', '0', '--data', join(dir, 'data'), '--slack-api-url', bad])
      expect([bad, result.code]).toEqual([bad, 64])
      expect(result.stderr).toContain('--slack-api-url must be an absolute http(s) URL')
    }
    // Nothing was created: serve stopped before opening the data directory.
    expect(existsSync(join(dir, 'data'))).toBe(false)
  }, 60_000)
})
