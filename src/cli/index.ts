#!/usr/bin/env node
/**
 * `approval-gate`: the server, a CI gate, and admin commands. Each command lives in
 * `commands/`; this file only dispatches and turns errors into exit codes.
 */
// First: on a Node.js too old for the client, one line and exit before undici loads.
import './node-version.js'
import { fileURLToPath, pathToFileURL } from 'node:url'
import { readFileSync, realpathSync } from 'node:fs'
import { logLine } from '../shared/log-text.js'
import { CliError, EXIT, line, UsageError, type CliIo, type Command } from './cli-kit.js'
import { auditCheckpointCommand, auditExportCommand, auditVerifyCommand } from './commands/audit.js'
import { decideCommand } from './commands/decide.js'
import { githubListCommand, githubMapCommand, githubUnmapCommand } from './commands/github.js'
import { keysCreateCommand, keysListCommand, keysRevokeCommand } from './commands/keys.js'
import { policyClearCommand, policyHistoryCommand, policySetCommand, policyShowCommand, policyTestCommand } from './commands/policy.js'
import { notifyAddCommand, notifyDeliveriesCommand, notifyListCommand, notifyRedeliverCommand, notifyRemoveCommand, notifyTestCommand } from './commands/notify.js'
import { projectCreateCommand } from './commands/project.js'
import { requestCommand } from './commands/request.js'
import { serveCommand } from './commands/serve.js'
import { trustAddCommand, trustListCommand, trustRemoveCommand } from './commands/trust.js'
import { userAddCommand, userSlackCommand } from './commands/user.js'

export const COMMANDS: readonly Command[] = [
  serveCommand,
  requestCommand,
  decideCommand,
  projectCreateCommand,
  keysCreateCommand,
  keysListCommand,
  keysRevokeCommand,
  trustAddCommand,
  trustListCommand,
  trustRemoveCommand,
  policySetCommand,
  policyShowCommand,
  policyHistoryCommand,
  policyTestCommand,
  policyClearCommand,
  githubMapCommand,
  githubListCommand,
  githubUnmapCommand,
  notifyAddCommand,
  notifyListCommand,
  notifyRemoveCommand,
  notifyTestCommand,
  notifyDeliveriesCommand,
  notifyRedeliverCommand,
  userAddCommand,
  userSlackCommand,
  auditExportCommand,
  auditVerifyCommand,
  auditCheckpointCommand,
]

const GROUPS = new Set(COMMANDS.filter((c) => c.name.includes(' ')).map((c) => c.name.split(' ')[0]))

function overview(): string {
  const width = Math.max(...COMMANDS.map((c) => c.name.length))
  return `
Usage: approval-gate <command> [options]

Human approval gates for CI and automation.

Commands:
${COMMANDS.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}`).join('\n')}

Run "approval-gate <command> --help" for a command's options, "approval-gate --version" for
the version.

Exit codes: 0 ok/approved, 1 rejected (request) or tampered (audit verify), 2 timed out,
3 error, 64 bad command line, 130 cancelled or interrupted.

Node.js: request, decide, --help and --version need >= 22.19; serve and the admin commands
need >= 24.

Environment: APPROVAL_GATE_PORT, APPROVAL_GATE_HOST, APPROVAL_GATE_PUBLIC_URL,
APPROVAL_GATE_TRUST_PROXY, APPROVAL_GATE_LOG_LEVEL, APPROVAL_GATE_LOG_FORMAT,
APPROVAL_GATE_SMTP_URL, APPROVAL_GATE_MAIL_FROM (serve; the last two also notify test);
APPROVAL_GATE_DATA, APPROVAL_GATE_DATABASE_URL, APPROVAL_GATE_AUDIT_KEY,
APPROVAL_GATE_AUDIT_KEY_FILE (serve and admin commands);
APPROVAL_GATE_API_URL, APPROVAL_GATE_API_KEY (request, decide).
`
}

/** Runs one command line; resolves with the exit code. */
export async function main(argv: string[], io: CliIo): Promise<number> {
  const [first, second] = argv
  if (first === '--version' || first === '-V' || first === 'version') {
    io.stdout.write(`approval-gate ${packageVersion()}\n`)
    return EXIT.ok
  }
  if (first === undefined || first === '--help' || first === '-h' || first === 'help') {
    io.stdout.write(`${overview().trim()}\n`)
    return first === undefined ? EXIT.usage : EXIT.ok
  }
  let name = first
  let rest = argv.slice(1)
  if (GROUPS.has(first)) {
    const subcommands = COMMANDS.filter((c) => c.name.startsWith(`${first} `)).map((c) => c.name.split(' ')[1])
    if (second === undefined || second === '--help' || second === '-h') {
      io.stdout.write(`Usage: approval-gate ${first} <${subcommands.join('|')}> [options]\n`)
      return second === undefined ? EXIT.usage : EXIT.ok
    }
    name = `${first} ${second}`
    rest = argv.slice(2)
  }
  const command = COMMANDS.find((c) => c.name === name)
  try {
    if (!command) throw new UsageError(`unknown command "${name}"`)
    return await command.run(rest, io)
  } catch (error) {
    return report(error, io)
  }
}

function report(error: unknown, io: CliIo): number {
  if (error instanceof UsageError) {
    line(io.stderr, `approval-gate${error.command ? ` ${error.command}` : ''}: ${error.message}`)
    line(io.stderr, `Run "approval-gate ${error.command ? `${error.command} ` : ''}--help" for usage.`)
    return EXIT.usage
  }
  // Failure messages may quote server-sent text: one line, never a workflow command.
  if (error instanceof CliError) {
    line(io.stderr, logLine(`approval-gate: ${error.message}`))
    return error.exitCode
  }
  const message = error instanceof Error ? error.message : String(error)
  line(io.stderr, logLine(`approval-gate: unexpected error: ${message}`))
  if (io.env.APPROVAL_GATE_DEBUG && error instanceof Error && error.stack) line(io.stderr, error.stack)
  return EXIT.error
}

/** The `version` of the package this CLI belongs to (`lib/cli/` and `src/cli/` are two levels below it). */
export function packageVersion(): string {
  try {
    const manifest = JSON.parse(readFileSync(fileURLToPath(new URL('../../package.json', import.meta.url)), 'utf8')) as { version?: unknown }
    return typeof manifest.version === 'string' ? manifest.version : 'unknown'
  } catch {
    return 'unknown'
  }
}

/** True when this file is the process's entry point (also through the npm bin symlink). */
function isEntryPoint(): boolean {
  const entry = process.argv[1]
  if (!entry) return false
  try {
    return import.meta.url === pathToFileURL(realpathSync(entry)).href
  } catch {
    return false
  }
}

if (isEntryPoint()) {
  const code = await main(process.argv.slice(2), { stdout: process.stdout, stderr: process.stderr, stdin: process.stdin, env: process.env })
  process.exitCode = code
}
