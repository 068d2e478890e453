import { createHash } from 'node:crypto'
import { readFile } from 'node:fs/promises'
import { describe, expect, it } from '@jest/globals'
import { formatPolicyErrors, MAX_POLICY_BYTES, parsePolicy, type PolicyError } from '../../../src/server/policies/index.js'

const EXAMPLE = `groups:
  sre: [alice@example.com, Bob@Example.com]
  security: [carol@example.com]
rules:
  - name: production deploys
    match:
      action: ["deploy-prod*"]
      requester: { repository: "acme/*", ref: "refs/heads/main" }
      context: { region: [eu-west-1] }
    approvers:
      required: 2
      groups: [sre]
      members: [dave@example.com]
    block_self_approval: true
    require_reason: reject
    reject: any
    max_timeout: 2h
    windows:
      - { days: [mon, tue, wed, thu], from: "09:00", to: "16:00", time_zone: Europe/Berlin }
  - name: payments
    match: { action: payments-* }
    approvers:
      all_of:
        - { group: sre, required: 1 }
        - { group: security, required: 1 }
default:
  approvers: { required: 1 }
`

/** Parses a document that must be refused, returning its errors. */
function errorsOf(source: string, format?: 'yaml' | 'json'): PolicyError[] {
  const parsed = parsePolicy(source, format)
  if (parsed.ok) throw new Error('expected the document to be refused')
  return parsed.errors
}

describe('parsePolicy: valid documents', () => {
  it('reads the reference document into rules, requirements, windows and a hash of the source', () => {
    const parsed = parsePolicy(EXAMPLE)
    expect(parsed.ok).toBe(true)
    if (!parsed.ok) return
    expect(parsed.format).toBe('yaml')
    expect(parsed.hash).toBe(createHash('sha256').update(EXAMPLE).digest('hex'))
    expect(parsed.policy.groups).toEqual({ sre: ['alice@example.com', 'bob@example.com'], security: ['carol@example.com'] })
    expect(parsed.policy.rules[0]).toEqual({
      name: 'production deploys',
      match: { actions: ['deploy-prod*'], requester: { repository: ['acme/*'], ref: ['refs/heads/main'] }, context: { region: ['eu-west-1'] } },
      requirements: [{ name: 'approvers', members: ['dave@example.com'], groups: ['sre'], required: 2 }],
      block_self_approval: true,
      require_reason: 'reject',
      reject: 'any',
      max_timeout_ms: 7_200_000,
      windows: [{ days: ['mon', 'tue', 'wed', 'thu'], from: '09:00', to: '16:00', time_zone: 'Europe/Berlin' }],
    })
    expect(parsed.policy.rules[1]).toMatchObject({
      name: 'payments',
      match: { actions: ['payments-*'], requester: {}, context: {} },
      requirements: [
        { name: 'sre', members: [], groups: ['sre'], required: 1 },
        { name: 'security', members: [], groups: ['security'], required: 1 },
      ],
      block_self_approval: null,
      require_reason: 'none',
      reject: 'any',
      max_timeout_ms: null,
      windows: [],
    })
    expect(parsed.policy.default.requirements).toEqual([{ name: 'approvers', members: null, groups: [], required: 1 }])
  })

  it('reads the same document written as JSON into the same policy, detecting the format', () => {
    const yaml = parsePolicy(EXAMPLE)
    const json = JSON.stringify({
      groups: { sre: ['alice@example.com', 'Bob@Example.com'], security: ['carol@example.com'] },
      rules: [
        {
          name: 'production deploys',
          match: { action: ['deploy-prod*'], requester: { repository: 'acme/*', ref: 'refs/heads/main' }, context: { region: ['eu-west-1'] } },
          approvers: { required: 2, groups: ['sre'], members: ['dave@example.com'] },
          block_self_approval: true,
          require_reason: 'reject',
          reject: 'any',
          max_timeout: '2h',
          windows: [{ days: ['mon', 'tue', 'wed', 'thu'], from: '09:00', to: '16:00', time_zone: 'Europe/Berlin' }],
        },
        { name: 'payments', match: { action: 'payments-*' }, approvers: { all_of: [{ group: 'sre', required: 1 }, { group: 'security', required: 1 }] } },
      ],
      default: { approvers: { required: 1 } },
    }, null, 2)
    const parsed = parsePolicy(json)
    expect(parsed.ok && parsed.format).toBe('json')
    expect(parsed.ok && yaml.ok && parsed.policy).toEqual(yaml.ok && yaml.policy)
  })

  it('treats an absent default and absent rules as the seed rule: any one member', () => {
    const parsed = parsePolicy('groups:\n  sre: [a@example.com]\n')
    expect(parsed.ok && parsed.policy.rules).toEqual([])
    expect(parsed.ok && parsed.policy.default).toEqual({
      requirements: [{ name: 'approvers', members: null, groups: [], required: 1 }],
      block_self_approval: null,
      require_reason: 'none',
      reject: 'any',
      max_timeout_ms: null,
      windows: [],
    })
  })

  it('reads unquoted times and weekday names as YAML 1.2 text (no sexagesimal numbers, no yes/no booleans)', () => {
    const parsed = parsePolicy('rules:\n  - name: r\n    match: { action: "*" }\n    windows:\n      - { days: [Mon, sun], from: 09:00, to: 17:30, time_zone: UTC }\n')
    expect(parsed.ok && parsed.policy.rules[0].windows).toEqual([{ days: ['mon', 'sun'], from: '09:00', to: '17:30', time_zone: 'UTC' }])
  })

  it('lets an all_of entry name its own members, and a context match on numbers compares them as text', () => {
    const parsed = parsePolicy(`rules:
  - name: r
    match: { action: x, context: { replicas: [3, 4], dry_run: false } }
    approvers:
      all_of:
        - { name: leads, members: [Lead@Example.com], required: 1 }
        - { name: anyone-else, required: 1 }
`)
    expect(parsed.ok && parsed.policy.rules[0].match.context).toEqual({ replicas: ['3', '4'], dry_run: ['false'] })
    expect(parsed.ok && parsed.policy.rules[0].requirements).toEqual([
      { name: 'leads', members: ['lead@example.com'], groups: [], required: 1 },
      { name: 'anyone-else', members: null, groups: [], required: 1 },
    ])
  })
})

describe('parsePolicy: refused documents name the line and the field', () => {
  it('refuses a misspelt field instead of ignoring it (a typo must not weaken a rule)', () => {
    const errors = errorsOf('rules:\n  - name: r\n    match: { action: x }\n    approvers:\n      requried: 2\n      members: [a@example.com, b@example.com]\n')
    expect(errors).toEqual([
      { line: 5, path: 'rules[0].approvers.requried', message: expect.stringContaining('unknown field "requried"') },
      { line: 4, path: 'rules[0].approvers', message: expect.stringContaining('`required` is missing') },
    ].sort((a, b) => a.line - b.line))
  })

  it('reports every error at once, sorted by line, and formats them for people', () => {
    const source = `groups:
  sre: [not-an-email]
rules:
  - name: r
    match: { action: x }
    approvers: { required: 0 }
    require_reason: always
    reject: majority
    max_timeout: soon
  - name: r
    match: { action: y }
colour: blue
`
    const errors = errorsOf(source)
    expect(errors.map((error) => [error.line, error.path])).toEqual([
      [2, 'groups.sre'],
      [6, 'rules[0].approvers.required'],
      [7, 'rules[0].require_reason'],
      [8, 'rules[0].reject'],
      [9, 'rules[0].max_timeout'],
      [10, 'rules[1].name'],
      [12, 'colour'],
    ])
    expect(formatPolicyErrors(errors)[1]).toBe('line 6: rules[0].approvers.required: must be a whole number from 1 to 50')
    expect(errors[4].message).toContain('"soon" is not a duration')
    expect(errors[5].message).toContain('already named "r"')
  })

  it('refuses a rule whose listed people can never meet it, one person counting once', () => {
    const tooFew = errorsOf('rules:\n  - name: r\n    match: { action: x }\n    approvers: { required: 3, members: [a@example.com, b@example.com] }\n')
    expect(tooFew).toEqual([{ line: 4, path: 'rules[0].approvers', message: expect.stringContaining('needs 3 approvals from different people, but the people it lists can give at most 2') }])

    // One person in both groups cannot be "1 from sre AND 1 from security".
    const overlap = errorsOf(`groups:
  sre: [carol@example.com]
  security: [carol@example.com]
rules:
  - name: r
    match: { action: x }
    approvers: { all_of: [{ group: sre, required: 1 }, { group: security, required: 1 }] }
`)
    expect(overlap).toEqual([{ line: 7, path: 'rules[0].approvers', message: expect.stringContaining('can give at most 1 (one person counts once)') }])
  })

  it('refuses unknown groups, naming the groups that exist', () => {
    const errors = errorsOf('groups:\n  sre: [a@example.com]\nrules:\n  - name: r\n    match: { action: x }\n    approvers: { required: 1, groups: [sec] }\n')
    expect(errors).toEqual([{ line: 6, path: 'rules[0].approvers.groups', message: 'no group named "sec" (groups: sre)' }])
  })

  it('refuses rules without a name or a match.action, and requester conditions on unverifiable claims', () => {
    const errors = errorsOf('rules:\n  - match: { requester: { repository: "a/*", sha: abc } }\n')
    expect(errors.map((error) => [error.line, error.path])).toEqual([
      [2, 'rules[0]'],
      [2, 'rules[0].match'],
      [2, 'rules[0].match.requester.sha'],
    ])
    expect(errors.map((error) => error.message).join('\n')).toMatch(/needs a `name`[\s\S]*`match.action` is required[\s\S]*unknown field "sha"/)
  })

  it('refuses bad windows: days, times, an end before the start, unknown time zones, missing fields', () => {
    const errors = errorsOf(`rules:
  - name: r
    match: { action: x }
    windows:
      - { days: [mon, funday], from: "09:00", to: "17:00", time_zone: UTC }
      - { days: [mon], from: "9:00", to: "25:00", time_zone: UTC }
      - { days: [mon], from: "18:00", to: "09:00", time_zone: UTC }
      - { days: [mon], from: "09:00", to: "17:00", time_zone: Mars/Olympus }
      - { days: [mon], from: "09:00" }
`)
    expect(errors.map((error) => [error.line, error.path])).toEqual([
      [5, 'rules[0].windows[0].days'],
      [6, 'rules[0].windows[1].from'],
      [6, 'rules[0].windows[1].to'],
      [7, 'rules[0].windows[2].to'],
      [8, 'rules[0].windows[3].time_zone'],
      [9, 'rules[0].windows[4]'],
    ])
    expect(errors[3].message).toContain('for a window across midnight write two windows')
    expect(errors[5].message).toBe('a window needs `to`, `time_zone`')
  })

  it('refuses all_of mixed with an overall count, and repeated entries', () => {
    const errors = errorsOf(`groups: { sre: [a@example.com, b@example.com] }
rules:
  - name: r
    match: { action: x }
    approvers:
      required: 1
      all_of: [{ group: sre, required: 1 }, { group: sre, required: 1 }]
`)
    expect(errors.map((error) => error.message)).toEqual([
      expect.stringContaining('use either `all_of` or `required`/`members`/`groups`'),
      expect.stringContaining('another entry is already named "sre"'),
    ])
  })

  it('points YAML syntax errors and duplicate keys at their line', () => {
    const syntax = errorsOf('rules:\n  - name: r\n    match: { action: [x }\n')
    expect(syntax.length).toBeGreaterThan(0)
    for (const error of syntax) expect(error).toEqual({ line: 3, path: '(document)', message: expect.stringMatching(/^not valid YAML: /) })
    const duplicate = errorsOf('groups:\n  sre: [a@example.com]\n  sre: [b@example.com]\n')
    expect(duplicate).toEqual([expect.objectContaining({ line: 3, message: expect.stringContaining('not valid YAML: Map keys must be unique') })])
  })

  it('points JSON syntax errors and duplicate keys at their line, and refuses YAML sent as JSON', () => {
    expect(errorsOf('{\n  "rules": [\n    { "name": "r", }\n  ]\n}')).toEqual([
      expect.objectContaining({ line: 3, message: expect.stringMatching(/^not valid JSON: /) }),
    ])
    expect(errorsOf('{\n  "groups": {},\n  "groups": {}\n}')).toEqual([expect.objectContaining({ line: 3, message: expect.stringContaining('not valid JSON') })])
    expect(errorsOf('rules: []\n', 'json')[0].message).toMatch(/^not valid JSON: /)
  })

  it('refuses an empty document, a document that is not a mapping, and one over the size limit', () => {
    expect(errorsOf('  \n')).toEqual([{ line: null, path: '(document)', message: 'the document is empty' }])
    expect(errorsOf('- a\n- b\n')[0].message).toContain('must be a mapping with `groups`, `rules` and `default`')
    const huge = `groups:\n  sre: [a@example.com]\n# ${'x'.repeat(MAX_POLICY_BYTES)}\n`
    expect(errorsOf(huge)).toEqual([{ line: null, path: '(document)', message: `the document is ${Buffer.byteLength(huge)} bytes; a policy is at most ${MAX_POLICY_BYTES} bytes` }])
  })

  it('refuses a document that expands aliases without bound', () => {
    const bomb = ['a: &a [x, x, x, x, x, x, x, x, x, x]']
    for (let level = 1; level < 8; level += 1) bomb.push(`${String.fromCharCode(97 + level)}: &${String.fromCharCode(97 + level)} [${Array(10).fill(`*${String.fromCharCode(96 + level)}`).join(', ')}]`)
    const errors = errorsOf(bomb.join('\n'))
    expect(errors[0].message).toMatch(/^not valid YAML: .*alias/i)
  })
})

describe('docs/policies.md', () => {
  it('every YAML example in the documentation is a valid policy', async () => {
    const text = await readFile(new URL('../../../docs/policies.md', import.meta.url), 'utf8')
    const blocks = [...text.matchAll(/```yaml\n([\s\S]*?)```/g)].map((match) => match[1])
    expect(blocks.length).toBeGreaterThanOrEqual(4)
    for (const block of blocks) expect(parsePolicy(block)).toMatchObject({ ok: true })
  })
})
