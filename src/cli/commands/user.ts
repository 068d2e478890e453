/** `approval-gate user add EMAIL --project NAME --password-stdin`: a dashboard member. */
import { AdminService, isAdminError } from '../../server/admin/admin-service.js'
import { emailProblem, githubLoginProblem, MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS } from '../../server/admin/rules.js'
import { CliError, EXIT, line, parseCommand, UsageError, type Command } from '../cli-kit.js'
import { PROJECT_FLAGS, PROJECT_HELP, projectTargetOf, STORE_HELP, withProject } from '../store-location.js'


export const userAddCommand: Command = {
  name: 'user add',
  summary: 'add a dashboard member to a project',
  help: `
Usage: approval-gate user add EMAIL --project NAME --password-stdin [--admin] [--github LOGIN]
                              [--data DIR | --database-url URL]

Adds the user (or, if the email exists, resets their password and signs them out
everywhere) and makes them a member of the project. Members decide; admins also manage
members and keys. This is the operator's path (and the password-reset recovery); project
admins invite people from the dashboard instead.
The password is read from standard input, so it never shows in the process list:

  printf '%s' "$PASSWORD" | approval-gate user add ana@example.com --project default --password-stdin

Options:
${PROJECT_HELP}
  --password-stdin    read the password (at least ${MIN_PASSWORD_CHARS} characters) from stdin (required)
  --admin             make them an admin of the project (default: member)
  --github LOGIN      their GitHub login in this project, for its self-approval rule
${STORE_HELP}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(
      userAddCommand,
      args,
      io,
      { ...PROJECT_FLAGS, admin: { type: 'boolean' }, github: { type: 'string' }, 'password-stdin': { type: 'boolean' } },
      { min: 1, max: 1 },
    )
    if (!parsed) return EXIT.ok
    const { values } = parsed
    const email = parsed.positionals[0].trim()
    const emailError = emailProblem(email)
    if (emailError) throw new UsageError(`${JSON.stringify(email)}: ${emailError}`, userAddCommand.name)
    const target = projectTargetOf(userAddCommand, values, io.env)
    if (!values['password-stdin']) throw new UsageError('--password-stdin is required: pipe the password on standard input', userAddCommand.name)
    const github = values.github?.trim().replace(/^@/, '')
    if (github !== undefined && (github === '' || githubLoginProblem(github))) {
      throw new UsageError(`--github ${JSON.stringify(values.github)} is not a GitHub login`, userAddCommand.name)
    }
    const password = await readPassword(io.stdin)
    const role = values.admin ? 'admin' : 'member'

    const result = await withProject(target, async (store, project) =>
      new AdminService(store).addMemberDirectly(project, 'cli', { email, role, githubLogin: github, password }).catch((error: unknown) => {
        throw isAdminError(error) ? new CliError(error.message) : error
      }),
    )
    const gh = github ? ` (GitHub in ${target.projectName}: ${github})` : ''
    if (result.created) {
      line(io.stdout, `Added ${result.user.email} as ${role} of ${target.projectName}${gh}.`)
    } else {
      line(io.stdout, `Updated ${result.user.email} as ${role} of ${target.projectName}${gh}: password reset, ${result.sessionsEnded} signed-in session${result.sessionsEnded === 1 ? '' : 's'} ended.`)
    }
    return EXIT.ok
  },
}

/** The whole of stdin minus one trailing newline, checked for length. */
async function readPassword(stdin: NodeJS.ReadableStream): Promise<string> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of stdin) {
    const buffer = typeof chunk === 'string' ? Buffer.from(chunk) : (chunk as Buffer)
    size += buffer.length
    if (size > MAX_PASSWORD_BYTES) throw new CliError(`the password on stdin is longer than ${MAX_PASSWORD_BYTES} bytes`)
    chunks.push(buffer)
  }
  const password = Buffer.concat(chunks).toString('utf8').replace(/\r?\n$/, '')
  if ([...password].length < MIN_PASSWORD_CHARS) throw new CliError(`the password must be at least ${MIN_PASSWORD_CHARS} characters (got ${[...password].length} on stdin)`)
  return password
}
