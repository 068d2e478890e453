/** `approval-gate decide ID approve|reject`: records a decision through the core's client. */
import { ApprovalError, ApprovalsClient } from '../../client/index.js'
import { logLine } from '../../shared/log-text.js'
import { CliError, EXIT, line, parseCommand, printJson, UsageError, type Command } from '../cli-kit.js'
import { API_FLAGS, apiConnection, apiHelp, CLI_SETTING_NAMES } from './api-flags.js'

export const decideCommand: Command = {
  name: 'decide',
  summary: 'approve or reject an approval (needs a decide-scope key)',
  help: `
Usage: approval-gate decide ID approve|reject [--reason TEXT] [--api-url URL] [--api-key KEY] [--json]

Records the decision; the first decision wins. Exit 0 when it was recorded, 3 when the
approval was already decided (the current state is printed) or on any other error.

Options:
  --reason TEXT       a note for the requester (shown with a rejection)
${apiHelp(22)}
  --json              print the approval record as JSON
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(decideCommand, args, io, { ...API_FLAGS, reason: { type: 'string', short: 'r' }, json: { type: 'boolean' } }, { min: 2, max: 2 })
    if (!parsed) return EXIT.ok
    const [id, decision] = parsed.positionals
    if (decision !== 'approve' && decision !== 'reject') throw new UsageError(`the decision must be "approve" or "reject", got ${JSON.stringify(decision)}`, decideCommand.name)
    try {
      const client = new ApprovalsClient({ ...apiConnection(parsed.values, io.env), settingNames: CLI_SETTING_NAMES })
      const record = await client.decide(id, decision, parsed.values.reason)
      if (parsed.values.json) printJson(io, record)
      else line(io.stdout, logLine(`${record.id}: ${record.status}${record.decided_by ? ` by ${record.decided_by}` : ''}`))
      return EXIT.ok
    } catch (error) {
      if (error instanceof ApprovalError && error.code === 'conflict' && error.record) {
        const current = error.record
        throw new CliError(logLine(`${id} is already ${current.status}${current.decided_by ? ` by ${current.decided_by}` : ''}; the first decision stands`))
      }
      if (error instanceof ApprovalError) throw new CliError(logLine(error.message))
      throw error
    }
  },
}
