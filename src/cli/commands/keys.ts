/** `approval-gate keys create|list|revoke`: API keys of a project (stored hashed, shown once). */
import { AdminService, isAdminError } from '../../server/admin/admin-service.js'
import { isScope, keyNameProblem } from '../../server/admin/rules.js'
import type { KeyScope } from '../../server/store/types.js'
import { CliError, EXIT, line, parseCommand, printJson, UsageError, type Command } from '../cli-kit.js'
import { PROJECT_FLAGS, PROJECT_HELP, projectTargetOf, STORE_HELP, withProject } from '../store-location.js'

export const keysCreateCommand: Command = {
  name: 'keys create',
  summary: 'create an API key (shown once)',
  help: `
Usage: approval-gate keys create --project NAME --scope SCOPE [--scope SCOPE] [--name N]
                                 [--data DIR | --database-url URL] [--json]

Creates an API key for the project and prints it once. It works at once, also while the
server runs.

Scopes (repeat --scope or give a comma list):
  request    create, read, list and withdraw approvals (CI jobs, the action)
  decide     read approvals, approve/reject them, read the audit trail
  admin      everything

A key with both request and decide (or admin) could decide its own requests: the server
refuses that (403 self_approval), and creating one prints a warning. Give CI a request key.

Options:
${PROJECT_HELP}
  --scope SCOPE       request, decide or admin (required)
  --name N            a label, recorded as "key:N" in decisions and the audit trail (default: the scopes)
${STORE_HELP}
  --json              print {"api_key": "agk_...", "id", "name", "scopes"}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(
      keysCreateCommand,
      args,
      io,
      { ...PROJECT_FLAGS, scope: { type: 'string', multiple: true }, name: { type: 'string' }, json: { type: 'boolean' } },
      { min: 0, max: 0 },
    )
    if (!parsed) return EXIT.ok
    const { values } = parsed
    const target = projectTargetOf(keysCreateCommand, values, io.env)
    const scopes = parseScopes(values.scope ?? [])
    const name = (values.name ?? scopes.join('+')).trim()
    if (keyNameProblem(name)) throw new UsageError('--name must be 1–100 printable ASCII characters', keysCreateCommand.name)

    const created = await withProject(target, async (store, project) => new AdminService(store).createKey(project, 'cli', { name, scopes }))
    if (created.warning) line(io.stderr, `warning: ${created.warning}`)
    if (values.json) {
      printJson(io, { api_key: created.key, id: created.info.id, name: created.info.name, scopes: created.info.scopes })
    } else {
      line(io.stdout, `Created key ${created.info.id} "${created.info.name}" (scopes: ${created.info.scopes.join(', ')}) for project ${target.projectName}.`)
      line(io.stdout, `API key, shown once: ${created.key}`)
    }
    return EXIT.ok
  },
}

export const keysListCommand: Command = {
  name: 'keys list',
  summary: "list a project's API keys (never the keys themselves)",
  help: `
Usage: approval-gate keys list --project NAME [--data DIR | --database-url URL] [--json]

Options:
${PROJECT_HELP}
${STORE_HELP}
  --json              print the keys as a JSON array
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(keysListCommand, args, io, { ...PROJECT_FLAGS, json: { type: 'boolean' } }, { min: 0, max: 0 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(keysListCommand, parsed.values, io.env)
    const keys = await withProject(target, async (store, project) => store.listApiKeys(project.id))
    if (parsed.values.json) {
      printJson(io, keys)
      return EXIT.ok
    }
    if (keys.length === 0) line(io.stdout, `Project ${target.projectName} has no API keys.`)
    for (const key of keys) {
      const state = key.revoked_at ? `revoked ${key.revoked_at}` : `last used ${key.last_used_at ?? 'never'}`
      line(io.stdout, `${key.id}  ${key.prefix}…  ${key.name}  [${key.scopes.join(',')}]  created ${key.created_at}  ${state}`)
    }
    return EXIT.ok
  },
}

export const keysRevokeCommand: Command = {
  name: 'keys revoke',
  summary: 'revoke an API key (it fails at once, also on a running server)',
  help: `
Usage: approval-gate keys revoke --project NAME KEY_ID [--data DIR | --database-url URL]

KEY_ID is the key_… id shown by "keys list".

Options:
${PROJECT_HELP}
${STORE_HELP}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(keysRevokeCommand, args, io, PROJECT_FLAGS, { min: 1, max: 1 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(keysRevokeCommand, parsed.values, io.env)
    const { projectName } = target
    const keyId = parsed.positionals[0]
    const outcome = await withProject(target, async (store, project) => {
      try {
        const { already } = await new AdminService(store).revokeKey(project, 'cli', keyId)
        return already ? `already revoked at ${already}` : 'revoked'
      } catch (error) {
        if (isAdminError(error) && error.code === 'not_found') return 'unknown'
        throw error
      }
    })
    if (outcome === 'unknown') throw new CliError(`project ${projectName} has no key ${JSON.stringify(keyId)} (see "approval-gate keys list --project ${projectName}")`)
    line(io.stdout, outcome === 'revoked' ? `Revoked ${keyId}.` : `${keyId} was ${outcome}.`)
    return EXIT.ok
  },
}

/** `--scope request --scope decide` or `--scope request,decide`. */
function parseScopes(values: string[]): KeyScope[] {
  const scopes = values.flatMap((value) => value.split(',')).map((scope) => scope.trim()).filter(Boolean)
  if (scopes.length === 0) throw new UsageError('--scope is required: request, decide or admin', keysCreateCommand.name)
  for (const scope of scopes) {
    if (!isScope(scope)) throw new UsageError(`unknown scope ${JSON.stringify(scope)}: use request, decide or admin`, keysCreateCommand.name)
  }
  return [...new Set(scopes)] as KeyScope[]
}
