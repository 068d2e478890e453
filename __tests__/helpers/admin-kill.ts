/**
 * The kill -9 test of admin changes, for each backend's test file: a process making admin
 * changes through the real services (API keys, members through a first single sign-on, email
 * channels, GitHub mappings; several loops in flight) is killed with SIGKILL at a random
 * moment. Reopened, the store must hold every change with its audit event and every event with
 * its change — a change without its event is what a crash between two writes would leave —
 * and the chain must verify.
 */
import { afterAll, expect } from '@jest/globals'
import { spawn } from 'node:child_process'
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { openStore, type StoreOptions } from '../../src/server/store/index.js'
import type { AuditEvent, Store } from '../../src/server/store/types.js'
import { TEST_AUDIT_KEY, testAuditKey } from './audit-key.js'
import { builtLibModuleUrl } from '../store/built-lib.js'

/** Admin loops in flight in the child. */
const LOOPS = 8
/** Kills (and reopenings) per backend: each lands at another random moment. */
const KILLS = 3

/** Where the child script (and a SQLite file, see `adminKillPath`) live; removed after the test file ran. */
const dir = mkdtempSync(join(tmpdir(), 'ag-admin-kill-'))
afterAll(() => rmSync(dir, { recursive: true, force: true }))

/** A path for the test's SQLite file, removed with the rest after the tests. */
export function adminKillPath(name: string): string {
  return join(dir, name)
}

/** The child: opens the store the parent describes and loops admin changes, printing each finished round. */
function childScript(): string {
  const url = (path: string) => JSON.stringify(builtLibModuleUrl(path))
  return `
    import { openStore } from ${url('server/store/index.js')}
    import { parseAuditKey } from ${url('server/store/audit-key.js')}
    import { AdminService } from ${url('server/admin/admin-service.js')}
    import { ChannelService } from ${url('server/admin/channel-service.js')}
    import { GithubMappingAdmin } from ${url('server/admin/github-mappings.js')}
    const [options, keyText, projectName, loops, prefix] = process.argv.slice(2)
    const store = await openStore({ ...JSON.parse(options), auditKey: parseAuditKey(keyText, 'the test key') })
    const project = await store.getProjectByName(projectName)
    const admin = new AdminService(store)
    const channels = new ChannelService(store)
    const mappings = new GithubMappingAdmin(store)
    let n = 0
    async function loop() {
      for (;;) {
        const i = prefix + n++
        await admin.createKey(project, 'cli', { name: 'key-' + i, scopes: ['request'] })
        await admin.joinOnFirstSignIn(projectName, 'user-' + i + '@example.com')
        await channels.addEmail(project, 'cli', ['ops-' + i + '@example.com'], { name: 'email-' + i })
        await mappings.map(project, 'cli', { repository: 'acme/repo-' + i })
        process.stdout.write(i + '\\n')
      }
    }
    await Promise.all(Array.from({ length: Number(loops) }, loop))
  `
}

/**
 * Runs the child on `options` (its names start with `prefix`) and, once it finished a few rounds,
 * kills it with SIGKILL after a random delay: the moment is chosen at random, no outcome waits on
 * it. Returns the rounds the child said it finished.
 */
async function killDuringAdminChanges(options: StoreOptions, prefix: string): Promise<string[]> {
  const script = join(dir, 'admin-writer.mjs')
  writeFileSync(script, childScript())
  const child = spawn(process.execPath, [script, JSON.stringify(options), TEST_AUDIT_KEY, 'crash', String(LOOPS), prefix], { stdio: ['ignore', 'pipe', 'pipe'] })
  let stderr = ''
  child.stderr.on('data', (chunk: Buffer) => (stderr += chunk.toString()))
  const finished: string[] = []
  let buffered = ''
  let killing = false
  child.stdout.on('data', (chunk: Buffer) => {
    buffered += chunk.toString()
    const lines = buffered.split('\n')
    buffered = lines.pop() ?? ''
    finished.push(...lines)
    if (finished.length >= 5 && !killing) {
      killing = true
      setTimeout(() => child.kill('SIGKILL'), Math.random() * 300)
    }
  })
  const exit = await new Promise<{ code: number | null; signal: NodeJS.Signals | null }>((resolve) => child.on('close', (code, signal) => resolve({ code, signal })))
  expect({ ...exit, stderr }).toEqual({ code: null, signal: 'SIGKILL', stderr: '' })
  return finished
}

/** The ids (or names) that a project's events of `type` name: their subject, or the first word of their detail. */
function named(events: AuditEvent[], type: AuditEvent['type'], by: (event: AuditEvent) => string): string[] {
  return events
    .filter((event) => event.type === type)
    .map(by)
    .sort()
}

/** Every stored change has its event and every event its change; finished rounds are all there; the chain verifies. */
async function expectChangesMatchEvents(store: Store, finished: string[]): Promise<void> {
  const project = await store.getProjectByName('crash')
  if (!project) throw new Error('the project is gone')
  const events: AuditEvent[] = []
  for await (const event of store.exportAudit(project.id)) events.push(event)
  const firstWord = (event: AuditEvent) => (event.reason ?? '').split(' ')[0]

  const keys = (await store.listApiKeys(project.id)).map((key) => key.id).sort()
  const members = (await store.listMembers(project.id)).map((member) => `member:${member.email}`).sort()
  const channels = (await store.listChannels(project.id)).map((channel) => channel.id).sort()
  const mappings = (await store.listGithubMappings(project.id)).map((mapping) => mapping.id).sort()
  expect(named(events, 'key_created', firstWord)).toEqual(keys)
  expect(named(events, 'member_added', (event) => event.action)).toEqual(members)
  expect(named(events, 'channel_added', firstWord)).toEqual(channels)
  expect(named(events, 'github_mapped', firstWord)).toEqual(mappings)

  // Every round the child finished (and said so) is on disk, and so are the rounds in flight that got this far.
  const keyNames = new Set((await store.listApiKeys(project.id)).map((key) => key.name))
  for (const round of finished) expect(keyNames.has(`key-${round}`)).toBe(true)
  expect(keys.length).toBeGreaterThanOrEqual(finished.length)
  expect(await store.verifyAudit(project.id, { full: true })).toMatchObject({ ok: true, events: events.length })
}

/** Creates the project, then kills the child `KILLS` times, checking the reopened store after each. */
export async function killRepeatedly(options: StoreOptions): Promise<void> {
  const setup = await openStore({ ...options, auditKey: testAuditKey() })
  await setup.createProject('crash')
  await setup.close()
  const finished: string[] = []
  for (let kill = 1; kill <= KILLS; kill++) {
    finished.push(...(await killDuringAdminChanges(options, `k${kill}-`)))
    const store = await openStore({ ...options, auditKey: testAuditKey() })
    try {
      await expectChangesMatchEvents(store, finished)
    } finally {
      await store.close()
    }
  }
}
