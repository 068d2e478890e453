/**
 * `approval-gate user add EMAIL --project NAME --password-stdin`: a dashboard member.
 * `approval-gate user slack --project NAME --email EMAIL --slack-user ID`: who a Slack user is in a project.
 */
import { AdminService, isAdminError } from '../../server/admin/admin-service.js'
import { emailProblem, githubLoginProblem, MAX_PASSWORD_BYTES, MIN_PASSWORD_CHARS, slackUserIdProblem } from '../../server/admin/rules.js'
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

export const userSlackCommand: Command = {
  name: 'user slack',
  summary: "link a member's Slack user id in a project",
  help: `
Usage: approval-gate user slack --project NAME --email EMAIL (--slack-user ID | --unlink)
                                [--data DIR | --database-url URL]

Links a member of the project to their Slack user id, so their clicks on the project's
Slack messages (Approve / Reject) decide as them, under every rule a dashboard decision
obeys. The link is per project; one Slack user is one member of a project. Members can
also set it themselves on the dashboard's account page. Recorded in the audit trail.

  approval-gate user slack --project default --email ana@example.com --slack-user U024BE7LH

Options:
${PROJECT_HELP}
  --email EMAIL       the member (required)
  --slack-user ID     their Slack user id (Slack: their profile → ⋮ → Copy member ID)
  --unlink            remove the link instead
${STORE_HELP}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(userSlackCommand, args, io, { ...PROJECT_FLAGS, email: { type: 'string' }, 'slack-user': { type: 'string' }, unlink: { type: 'boolean' } }, { min: 0, max: 0 })
    if (!parsed) return EXIT.ok
    const { values } = parsed
    const email = values.email?.trim() ?? ''
    if (email === '') throw new UsageError('--email is required: the member to link', userSlackCommand.name)
    const slackUser = values['slack-user']?.trim()
    if (Boolean(values.unlink) === (slackUser !== undefined)) throw new UsageError('give either --slack-user ID or --unlink', userSlackCommand.name)
    if (slackUser !== undefined && (slackUser === '' || slackUserIdProblem(slackUser))) {
      throw new UsageError(`--slack-user ${JSON.stringify(values['slack-user'])}: ${slackUserIdProblem(slackUser) ?? 'give an id, or --unlink'}`, userSlackCommand.name)
    }
    const target = projectTargetOf(userSlackCommand, values, io.env)
    await withProject(target, async (store, project) => {
      const user = await store.getUserByEmail(email)
      if (!user) throw new CliError(`no account has the email ${email}`)
      await new AdminService(store).linkSlack(project, 'cli', user.id, slackUser ?? '').catch((error: unknown) => {
        throw isAdminError(error) ? new CliError(error.message) : error
      })
    })
    line(io.stdout, slackUser ? `Linked ${email} to the Slack user ${slackUser} in ${target.projectName}.` : `Unlinked ${email}'s Slack user in ${target.projectName}.`)
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
