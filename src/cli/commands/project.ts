/** `approval-gate project create NAME`: a new project and its first (request-scope) API key. */
import { AdminService } from '../../server/admin/admin-service.js'
import { PROJECT_NAME_PATTERN } from '../../server/admin/rules.js'
import { CliError, EXIT, line, parseCommand, printJson, type Command } from '../cli-kit.js'
import { adminRefusal } from '../admin-refusal.js'
import { STORE_FLAGS, STORE_HELP, storeLocationOf, withStore } from '../store-location.js'

export const projectCreateCommand: Command = {
  name: 'project create',
  summary: 'create a project and a request-scope API key',
  help: `
Usage: approval-gate project create NAME [--data DIR | --database-url URL] [--json]

Creates project NAME (a new database too, if DIR has none; on PostgreSQL, the schema if
the database is empty) and an API key with the "request" scope, printed once. Works while
the server runs.

Options:
${STORE_HELP}
  --json              print {"project": {...}, "api_key": "agk_..."}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(projectCreateCommand, args, io, { ...STORE_FLAGS, json: { type: 'boolean' } }, { min: 1, max: 1 })
    if (!parsed) return EXIT.ok
    const name = parsed.positionals[0].trim()
    const problem = PROJECT_NAME_PATTERN.test(name) ? null : 'a project name is 1–100 letters, digits, spaces, dots, dashes or underscores, starting with a letter or digit'
    if (problem) throw new CliError(problem)
    const location = storeLocationOf(parsed.values, io.env, projectCreateCommand.name)
    const { project, apiKey } = await withStore(
      location,
      async (store) =>
        new AdminService(store).createProject(name, 'cli').catch(adminRefusal),
      { create: true },
    )
    if (parsed.values.json) {
      printJson(io, { project, api_key: apiKey })
    } else {
      line(io.stdout, `Created project ${project.name} (${project.id}).`)
      line(io.stdout, `API key (scope: request), shown once: ${apiKey}`)
    }
    return EXIT.ok
  },
}
