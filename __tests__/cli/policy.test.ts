/** `policy set|show|history|test|clear` against a real data directory, through the built CLI. */
import { createHash } from 'node:crypto'
import { mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { MAX_POLICY_BYTES } from '../../src/server/policies/index.js'
import { runCli } from './helpers.js'

let dir: string
let data: string

const POLICY = `groups:
  sre: [alice@example.com, bob@example.com]
rules:
  - name: production
    match:
      action: "deploy-prod*"
      requester: { repository: "acme/*" }
    approvers: { required: 2, groups: [sre] }
    max_timeout: 2h
  - name: eu
    match: { action: "deploy-*", context: { region: [eu-west-1] } }
    approvers: { required: 1, members: [carol@example.com] }
    windows: [{ days: [mon, tue, wed, thu, fri, sat, sun], from: "00:00", to: "24:00", time_zone: UTC }]
`
const BAD = `rules:
  - name: production
    match: { action: deploy }
    approvers:
      requried: 2
      members: [alice@example.com, bob@example.com]
`

async function file(name: string, text: string): Promise<string> {
  const path = join(dir, name)
  await writeFile(path, text)
  return path
}

let projects = 0

/** A new project of its own for each test; `policy(...)` runs a policy command on it. */
async function freshProject(): Promise<{ name: string; policy: (...args: string[]) => ReturnType<typeof runCli> }> {
  const name = `p${++projects}`
  const created = await runCli(['project', 'create', name, '--data', data])
  expect(created.code).toBe(0)
  return { name, policy: (...args) => runCli(['policy', ...args, '--project', name, '--data', data]) }
}

async function withPolicy(): Promise<Awaited<ReturnType<typeof freshProject>>> {
  const project = await freshProject()
  expect((await project.policy('set', '--file', await file(`${project.name}.yaml`, POLICY))).code).toBe(0)
  return project
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-cli-policy-'))
  data = join(dir, 'data')
})
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

describe('policy commands', () => {
  it('refuses an invalid document with every error as FILE:LINE: field: message, and changes nothing', async () => {
    const { name, policy } = await freshProject()
    const bad = await file('bad.yaml', BAD)
    const refused = await policy('set', '--file', bad)
    expect(refused.code).toBe(3)
    expect(refused.stderr).toContain(`${bad}:5: rules[0].approvers.requried: unknown field "requried"`)
    expect(refused.stderr).toContain(`${bad}:4: rules[0].approvers: \`required\` is missing`)
    expect(refused.stderr).toContain('the policy document is invalid (2 errors), nothing was changed')
    expect((await policy('history')).stdout).toContain('has never had a policy')
    const audit = await runCli(['audit', 'export', '--project', name, '--data', data])
    expect(audit.stdout).toContain('key_created')
    expect(audit.stdout).not.toContain('policy_set')
  })

  it('sets a valid document as version 1, shows it exactly, lists it and records who set it with its hash', async () => {
    const { name, policy } = await freshProject()
    const path = await file('policy.yaml', POLICY)
    const set = await policy('set', '--file', path)
    expect(set.code).toBe(0)
    const hash = createHash('sha256').update(POLICY).digest('hex')
    expect(set.stdout).toContain(`now has policy version 1 (sha256 ${hash})`)

    const shown = await policy('show')
    expect(shown.stdout).toBe(POLICY)
    expect(JSON.parse((await policy('show', '--json')).stdout)).toMatchObject({ version: 1, format: 'yaml', hash, created_by: 'cli', source: POLICY })
    expect((await policy('history')).stdout).toMatch(new RegExp(`^v1  \\S+  by cli  yaml, sha256 ${hash.slice(0, 16)}…$`, 'm'))

    const audit = await runCli(['audit', 'export', '--project', name, '--data', data])
    const events = audit.stdout.trim().split('\n').map((text) => JSON.parse(text) as { type: string; actor: string; reason: string })
    expect(events.filter((event) => event.type === 'policy_set')).toEqual([expect.objectContaining({ actor: 'cli', reason: `version 1, yaml, sha256 ${hash}` })])
  })

  it('tests a request: the rule, who may approve and how many, windows, and whether someone may approve now', async () => {
    const { policy } = await withPolicy()
    const prod = await policy('test', '--action', 'deploy-prod-eu', '--requester', '{"repository":"acme/web"}', '--as', 'Alice@Example.com')
    expect(prod.code).toBe(0)
    expect(prod.stdout).toContain('rule: "production" (policy version 1)')
    expect(prod.stdout).toContain('approvers: 2 of alice@example.com, bob@example.com')
    expect(prod.stdout).toContain('longest wait: at most 2h')
    expect(prod.stdout).toContain('alice@example.com may approve now (counts toward approvers)')

    // Without verified claims the production rule cannot match; the context picks the eu rule.
    const eu = await policy('test', '--action', 'deploy-prod-eu', '--context', '{"region":"eu-west-1"}', '--as', 'alice@example.com', '--json')
    const answer = JSON.parse(eu.stdout)
    expect(answer).toMatchObject({
      applied: { version: 1, rule: 'eu', requirements: [{ name: 'approvers', members: ['carol@example.com'], required: 1 }] },
      max_timeout_ms: null,
      window: { open: true },
      as: { email: 'alice@example.com', may_approve: false, reason: 'alice@example.com is not among the approvers of rule "eu" (approvers)' },
    })
    const other = await policy('test', '--action', 'rotate-keys')
    expect(other.stdout).toContain('rule: default (no rule matched) (policy version 1)')
    expect(other.stdout).toContain('approvers: 1 of any project member')
  })

  it('tests a draft file without saving it', async () => {
    const { policy } = await withPolicy()
    const draft = await file('draft.yaml', 'rules:\n  - name: draft rule\n    match: { action: "*" }\n    windows: [{ days: [sat], from: "00:00", to: "00:01", time_zone: Pacific/Kiritimati }]\n')
    const tested = await policy('test', '--action', 'x', '--file', draft)
    expect(tested.code).toBe(0)
    expect(tested.stdout).toContain('rule: "draft rule"')
    expect(tested.stdout).toContain('windows: sat 00:00–00:01 Pacific/Kiritimati')
    expect(JSON.parse((await policy('show', '--json')).stdout)).toMatchObject({ version: 1, source: POLICY })
  })

  it('refuses bad command lines and oversized files clearly', async () => {
    const { policy } = await freshProject()
    const missing = await policy('set')
    expect(missing.code).toBe(64)
    expect(missing.stderr).toContain('--file is required')
    const badContext = await policy('test', '--action', 'x', '--context', '[1]')
    expect(badContext.code).toBe(64)
    expect(badContext.stderr).toContain('--context must be a JSON object')
    const badClaim = await policy('test', '--action', 'x', '--requester', '{"repo":"a/b"}')
    expect(badClaim.code).toBe(64)
    expect(badClaim.stderr).toContain('unknown claim repo')
    const huge = await file('huge.yaml', `# ${'x'.repeat(MAX_POLICY_BYTES)}\n`)
    const oversized = await policy('set', '--file', huge)
    expect(oversized.code).toBe(3)
    expect(oversized.stderr).toContain(`a policy is at most ${MAX_POLICY_BYTES} bytes`)
    expect((await policy('set', '--file', join(dir, 'absent.yaml'))).stderr).toContain('no such file')
    expect((await policy('history')).stdout).toContain('has never had a policy')
  })

  it('clears the policy as a version of its own, and says when there is none to clear', async () => {
    const { policy } = await withPolicy()
    const cleared = await policy('clear')
    expect(cleared.code).toBe(0)
    expect(cleared.stdout).toContain('(version 2): any one member approves')
    expect((await policy('show')).stderr).toContain('has no policy: any one member approves')
    expect((await policy('history')).stdout).toMatch(/^v2 .*cleared \(any one member approves\)\nv1 /m)
    const again = await policy('clear')
    expect(again.code).toBe(3)
    expect(again.stderr).toContain('has no policy')
  })
})
