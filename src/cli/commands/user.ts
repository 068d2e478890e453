/** `approval-gate user add EMAIL --project NAME --password-stdin`: a dashboard member. */
import { hashPassword } from '../../server/auth/secrets.js'
import { CliError, EXIT, line, parseCommand, UsageError, type Command } from '../cli-kit.js'
import { PROJECT_FLAGS, PROJECT_HELP, projectTargetOf, STORE_HELP, withProject } from '../store-location.js'

/** Shortest password accepted for a dashboard account. */
const MIN_PASSWORD_CHARS = 12
const MAX_PASSWORD_BYTES = 1024

export const userAddCommand: Command = {
  name: 'user add',
  summary: 'add a dashboard member to a project',
  help: `
Usage: approval-gate user add EMAIL --project NAME --password-stdin [--admin] [--github LOGIN]
                              [--data DIR | --database-url URL]

Adds the user (or, if the email exists, sets their password and GitHub login) and makes
them a member of the project. Members decide; admins also manage members and keys.
The password is read from standard input, so it never shows in the process list:

  printf '%s' "$PASSWORD" | approval-gate user add ana@example.com --project default --password-stdin

Options:
${PROJECT_HELP}
  --password-stdin    read the password (at least ${MIN_PASSWORD_CHARS} characters) from stdin (required)
  --admin             make them an admin of the project (default: member)
  --github LOGIN      their GitHub login, for the self-approval rule
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
    if (!/^[^\s@]{1,64}@[^\s@]{1,255}$/.test(email)) throw new UsageError(`${JSON.stringify(email)} is not an email address`, userAddCommand.name)
    const target = projectTargetOf(userAddCommand, values, io.env)
    if (!values['password-stdin']) throw new UsageError('--password-stdin is required: pipe the password on standard input', userAddCommand.name)
    const github = values.github?.trim().replace(/^@/, '')
    if (github !== undefined && !/^[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})$/.test(github)) {
      throw new UsageError(`--github ${JSON.stringify(values.github)} is not a GitHub login`, userAddCommand.name)
    }
    const password = await readPassword(io.stdin)
    const role = values.admin ? 'admin' : 'member'

    const created = await withProject(target, async (store, project) => {
      const password_hash = await hashPassword(password)
      const existing = await store.getUserByEmail(email)
      const patch = github === undefined ? { password_hash } : { password_hash, github_login: github }
      const user = existing ? await store.updateUser(existing.id, patch) : await store.createUser({ email, ...patch })
      await store.setMembership(project.id, user.id, role)
      return { user, existed: existing !== null }
    })
    line(io.stdout, `${created.existed ? 'Updated' : 'Added'} ${created.user.email} as ${role} of ${target.projectName}${created.user.github_login ? ` (GitHub: ${created.user.github_login})` : ''}.`)
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
