/** `approval-gate policy set|show|history|test|clear`: a project's approval policy (who may approve what, and how many must). */
import { readFile, stat } from 'node:fs/promises'
import { AdminService, PolicyDocumentError } from '../../server/admin/admin-service.js'
import {
  describeAppliedPolicy,
  describeWindowOpening,
  eligibility,
  MATCHABLE_CLAIMS,
  MAX_POLICY_BYTES,
  maxTimeoutMs,
  parsePolicy,
  resolvePolicy,
  windowState,
  type PolicyError,
} from '../../server/policies/index.js'
import { REQUESTER_CLAIM_NAMES, type RequesterClaims } from '../../server/store/types.js'
import { CliError, EXIT, line, parseCommand, printJson, UsageError, type CliIo, type Command } from '../cli-kit.js'
import { adminRefusal } from '../admin-refusal.js'
import { PROJECT_FLAGS, PROJECT_HELP, projectTargetOf, STORE_HELP, withProject } from '../store-location.js'

export const policySetCommand: Command = {
  name: 'policy set',
  summary: "validate a policy document and make it the project's policy",
  help: `
Usage: approval-gate policy set --project NAME --file policy.yaml [--format yaml|json]
                                [--data DIR | --database-url URL]

The document is checked whole first: when anything is wrong, every error is printed with
its line and field, the command exits 3 and nothing changes. Otherwise it becomes the next
version of the project's policy (see "policy history"), recorded in the audit trail with its
sha256 and who set it. It applies to requests created from then on. The format is JSON for
a .json file or a document starting with "{", else YAML. See docs/policies.md.

Options:
${PROJECT_HELP}
  --file F            the policy document (at most ${MAX_POLICY_BYTES / 1024} KiB)
  --format F          yaml or json (default: from the file)
${STORE_HELP}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(policySetCommand, args, io, { ...PROJECT_FLAGS, file: { type: 'string' }, format: { type: 'string' } }, { min: 0, max: 0 })
    if (!parsed) return EXIT.ok
    const { values } = parsed
    const target = projectTargetOf(policySetCommand, values, io.env)
    if (!values.file) throw new UsageError('--file is required: the policy document (YAML or JSON)', policySetCommand.name)
    const format = formatOf(values.format, values.file)
    const source = await readPolicyFile(values.file)
    // Checked before the store is opened, so a bad document never touches it.
    const checked = parsePolicy(source, format)
    if (!checked.ok) refuseDocument(io, values.file, checked.errors)
    const version = await withProject(target, (store, project) =>
      new AdminService(store).setPolicy(project, 'cli', source, format).catch((error: unknown) => {
        if (error instanceof PolicyDocumentError) refuseDocument(io, values.file!, error.errors)
        adminRefusal(error)
      }),
    )
    line(io.stdout, `Project ${target.projectName} now has policy version ${version.version} (sha256 ${version.hash}).`)
    return EXIT.ok
  },
}

export const policyShowCommand: Command = {
  name: 'policy show',
  summary: "print the project's current policy document",
  help: `
Usage: approval-gate policy show --project NAME [--data DIR | --database-url URL] [--json]

Prints the current document exactly as it was set (so "policy show > policy.yaml" gives a
file to edit), or says that the project has none (any one member approves).

Options:
${PROJECT_HELP}
${STORE_HELP}
  --json              print the version: {version, source, format, hash, created_by, created_at}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(policyShowCommand, args, io, { ...PROJECT_FLAGS, json: { type: 'boolean' } }, { min: 0, max: 0 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(policyShowCommand, parsed.values, io.env)
    const current = await withProject(target, (store, project) => store.getPolicy(project.id))
    if (parsed.values.json) printJson(io, current)
    else if (!current) line(io.stderr, `Project ${target.projectName} has no policy: any one member approves.`)
    else io.stdout.write(current.source.endsWith('\n') ? current.source : `${current.source}\n`)
    return EXIT.ok
  },
}

export const policyHistoryCommand: Command = {
  name: 'policy history',
  summary: "list the versions of the project's policy",
  help: `
Usage: approval-gate policy history --project NAME [--data DIR | --database-url URL] [--json]

Options:
${PROJECT_HELP}
${STORE_HELP}
  --json              print the versions (newest first) as a JSON array
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(policyHistoryCommand, args, io, { ...PROJECT_FLAGS, json: { type: 'boolean' } }, { min: 0, max: 0 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(policyHistoryCommand, parsed.values, io.env)
    const versions = await withProject(target, (store, project) => store.listPolicyVersions(project.id))
    if (parsed.values.json) {
      printJson(io, versions)
      return EXIT.ok
    }
    if (versions.length === 0) line(io.stdout, `Project ${target.projectName} has never had a policy.`)
    for (const version of versions) {
      const what = version.cleared ? 'cleared (any one member approves)' : `${version.format}, sha256 ${version.hash.slice(0, 16)}…`
      line(io.stdout, `v${version.version}  ${version.created_at}  by ${version.created_by}  ${what}`)
    }
    return EXIT.ok
  },
}

export const policyClearCommand: Command = {
  name: 'policy clear',
  summary: 'remove the project policy (any one member approves again)',
  help: `
Usage: approval-gate policy clear --project NAME [--data DIR | --database-url URL]

Records a version that removes the policy (kept in "policy history" and the audit trail).
Requests already waiting keep the rule they were created under.

Options:
${PROJECT_HELP}
${STORE_HELP}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(policyClearCommand, args, io, PROJECT_FLAGS, { min: 0, max: 0 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(policyClearCommand, parsed.values, io.env)
    const version = await withProject(target, (store, project) =>
      new AdminService(store).clearPolicy(project, 'cli').catch(adminRefusal),
    )
    line(io.stdout, `Cleared the policy of project ${target.projectName} (version ${version.version}): any one member approves.`)
    return EXIT.ok
  },
}

export const policyTestCommand: Command = {
  name: 'policy test',
  summary: 'show which rule applies to a request and who may approve it',
  help: `
Usage: approval-gate policy test --project NAME --action A [--context JSON] [--requester JSON]
                                 [--as EMAIL] [--file policy.yaml] [--data DIR | --database-url URL]
                                 [--json]

Prints the rule that would apply to a request (the first rule that matches, else the
default), who may approve and how many must, its windows and whether they are open now.

Options:
${PROJECT_HELP}
  --action A          the request's action
  --context JSON      the request's context, a JSON object (default {})
  --requester JSON    verified requester claims, e.g. {"repository":"acme/web","ref":"refs/heads/main"}
                      (claims: ${MATCHABLE_CLAIMS.join(', ')}); default: a request made with an API key
  --as EMAIL          also say whether EMAIL may approve it now
  --file F            test this document instead of the stored policy (nothing is saved)
${STORE_HELP}
  --json              print {applied, max_timeout_ms, window, as}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(
      policyTestCommand,
      args,
      io,
      {
        ...PROJECT_FLAGS,
        action: { type: 'string' },
        context: { type: 'string' },
        requester: { type: 'string' },
        as: { type: 'string' },
        file: { type: 'string' },
        json: { type: 'boolean' },
      },
      { min: 0, max: 0 },
    )
    if (!parsed) return EXIT.ok
    const { values } = parsed
    const target = projectTargetOf(policyTestCommand, values, io.env)
    if (!values.action?.trim()) throw new UsageError('--action is required: the action of the request to test', policyTestCommand.name)
    const context = jsonObjectFlag(values.context, '--context')
    const requester = values.requester === undefined ? null : requesterClaimsOf(jsonObjectFlag(values.requester, '--requester'))
    const request = { action: values.action, context, requester_claims: requester }

    const draft = values.file === undefined ? null : await readPolicyFile(values.file)
    const { policy, version, blockSelfApproval } = await withProject(target, async (store, project) => {
      const stored = draft === null ? await store.getPolicy(project.id) : null
      const source = draft ?? stored?.source ?? null
      const checked = source === null ? null : parsePolicy(source, stored?.format)
      if (checked && !checked.ok) refuseDocument(io, values.file ?? 'the stored policy', checked.errors)
      return { policy: checked?.ok ? checked.policy : null, version: stored?.version ?? (draft === null ? null : 0), blockSelfApproval: project.settings.blockSelfApproval }
    })
    const applied = resolvePolicy(policy, version, request, { block_self_approval: blockSelfApproval })
    const maxTimeout = maxTimeoutMs(policy, request)
    const window = windowState(applied.windows, new Date())
    const voter = values.as === undefined ? null : values.as.trim().toLowerCase()
    const verdict = voter === null ? null : voterVerdict(applied, voter, window)

    if (values.json) {
      printJson(io, { applied, max_timeout_ms: maxTimeout, window, as: verdict && { email: voter, ...verdict } })
      return EXIT.ok
    }
    if (values.file !== undefined) line(io.stdout, `testing ${values.file} (not saved; shown as version 0)`)
    for (const text of describeAppliedPolicy(applied, maxTimeout)) line(io.stdout, text)
    if (applied.windows.length > 0) line(io.stdout, window.open ? 'window: open now' : `window: closed now${window.opens_at ? `, opens ${describeOpening(window.opens_at, applied.windows[0].time_zone)}` : ''}`)
    if (verdict && voter) line(io.stdout, verdict.may_approve ? `${voter} may approve now (counts toward ${verdict.requirements.join(', ')})` : `${voter} may not approve now: ${verdict.reason}`)
    return EXIT.ok
  },
}

/** Whether `email` may approve now: eligible under the rule, and inside a window. Self-approval depends on the run, so it is not judged here. */
function voterVerdict(
  applied: ReturnType<typeof resolvePolicy>,
  email: string,
  window: ReturnType<typeof windowState>,
): { may_approve: true; requirements: string[] } | { may_approve: false; reason: string; requirements: string[] } {
  const eligible = eligibility(applied, { by: email, email })
  if (!eligible.eligible) return { may_approve: false, reason: eligible.reason, requirements: [] }
  if (!window.open) {
    const until = window.opens_at ? ` until ${describeOpening(window.opens_at, applied.windows[0].time_zone)}` : ''
    return { may_approve: false, reason: `outside the approval windows${until}`, requirements: eligible.requirements }
  }
  return { may_approve: true, requirements: eligible.requirements }
}

function describeOpening(opensAt: string, timeZone: string): string {
  return `${describeWindowOpening(opensAt, timeZone)} ${timeZone} (${opensAt})`
}

function formatOf(flag: string | undefined, file: string): 'yaml' | 'json' | undefined {
  if (flag === undefined) return file.toLowerCase().endsWith('.json') ? 'json' : undefined
  if (flag !== 'yaml' && flag !== 'json') throw new UsageError('--format is yaml or json', policySetCommand.name)
  return flag
}

/** Reads a policy file, refusing an oversized one before reading it. */
async function readPolicyFile(file: string): Promise<string> {
  let size: number
  try {
    size = (await stat(file)).size
  } catch (error) {
    throw new CliError(`cannot read ${file}: ${(error as NodeJS.ErrnoException).code === 'ENOENT' ? 'no such file' : (error as Error).message}`)
  }
  if (size > MAX_POLICY_BYTES) throw new CliError(`${file} is ${size} bytes; a policy is at most ${MAX_POLICY_BYTES} bytes`)
  return readFile(file, 'utf8')
}

/** Prints every error as `FILE:LINE: field: message` (one per line, as editors read them) and fails. */
function refuseDocument(io: CliIo, where: string, errors: readonly PolicyError[]): never {
  for (const error of errors) line(io.stderr, `${where}${error.line === null ? '' : `:${error.line}`}: ${error.path}: ${error.message}`)
  throw new CliError(`the policy document is invalid (${errors.length} error${errors.length === 1 ? '' : 's'}), nothing was changed`)
}

function jsonObjectFlag(text: string | undefined, flag: string): Record<string, unknown> {
  if (text === undefined) return {}
  let value: unknown
  try {
    value = JSON.parse(text)
  } catch {
    throw new UsageError(`${flag} must be a JSON object, e.g. '{"region":"eu-west-1"}'`, policyTestCommand.name)
  }
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw new UsageError(`${flag} must be a JSON object`, policyTestCommand.name)
  return value as Record<string, unknown>
}

/** Claims given on the command line, as if a workflow's token had carried them. */
function requesterClaimsOf(given: Record<string, unknown>): RequesterClaims {
  const claims = { issuer: 'policy-test' } as RequesterClaims
  for (const name of REQUESTER_CLAIM_NAMES) {
    const value = given[name]
    if (value !== undefined && typeof value !== 'string') throw new UsageError(`--requester: ${name} must be text`, policyTestCommand.name)
    ;(claims as unknown as Record<string, string | null>)[name] = value ?? null
  }
  const unknown = Object.keys(given).filter((key) => !(REQUESTER_CLAIM_NAMES as readonly string[]).includes(key))
  if (unknown.length > 0) throw new UsageError(`--requester: unknown claim ${unknown.join(', ')} (claims: ${REQUESTER_CLAIM_NAMES.join(', ')})`, policyTestCommand.name)
  return claims
}
