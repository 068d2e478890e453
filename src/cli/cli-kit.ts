/**
 * What every command shares: exit codes, strict flag parsing with `--help`, and the
 * streams it writes to. A bad flag is a usage error (exit 64) with a message naming it.
 */
import { parseArgs, type ParseArgsConfig } from 'node:util'

/** Exit codes of `approval-gate` (documented in `approval-gate --help`). */
export const EXIT = {
  ok: 0,
  /** `request`: rejected; `audit verify`: the chain is broken. */
  rejected: 1,
  /** `request`: no decision before the timeout (or the server expired it). */
  timeout: 2,
  /** Anything else went wrong (network, auth, not found, bad data). */
  error: 3,
  /** Bad command line: unknown command or flag, missing or malformed value (BSD EX_USAGE). */
  usage: 64,
  /** `request`: interrupted (SIGINT/SIGTERM); the request was withdrawn first. */
  interrupted: 130,
} as const

export type ExitCode = (typeof EXIT)[keyof typeof EXIT]

/** Where a command reads and writes; tests and the entry point pass the process's. */
export interface CliIo {
  stdout: NodeJS.WritableStream
  stderr: NodeJS.WritableStream
  stdin: NodeJS.ReadableStream
  env: NodeJS.ProcessEnv
}

export interface Command {
  /** `keys create`, `serve`, … */
  name: string
  summary: string
  /** Full help text, printed by `--help`. */
  help: string
  run(args: string[], io: CliIo): Promise<number>
}

/** A mistake on the command line; the entry point prints it with a hint and exits 64. */
export class UsageError extends Error {
  constructor(
    message: string,
    readonly command?: string,
  ) {
    super(message)
    this.name = 'UsageError'
  }
}

/** A failure the user can act on (exit 3); the message is printed as-is, without a stack. */
export class CliError extends Error {
  constructor(
    message: string,
    readonly exitCode: number = EXIT.error,
  ) {
    super(message)
    this.name = 'CliError'
  }
}

type Options = NonNullable<ParseArgsConfig['options']>

/**
 * Strict `parseArgs` for a command: unknown flags, missing values and surplus arguments are
 * `UsageError`s. Returns `null` when `--help` was given (the help is already printed).
 */
export function parseCommand<O extends Options>(
  command: Command,
  args: string[],
  io: CliIo,
  options: O,
  positionals: { min: number; max: number },
): { values: ParsedValues<O>; positionals: string[] } | null {
  let parsed
  try {
    parsed = parseArgs({ args, options: { ...options, help: { type: 'boolean', short: 'h' } }, allowPositionals: true, strict: true })
  } catch (error) {
    throw new UsageError(flagMessage(error), command.name)
  }
  if ((parsed.values as Record<string, unknown>).help) {
    io.stdout.write(`${command.help.trim()}\n`)
    return null
  }
  if (parsed.positionals.length < positionals.min) throw new UsageError(`missing argument\n${usageLine(command)}`, command.name)
  if (parsed.positionals.length > positionals.max) {
    throw new UsageError(`unexpected argument ${JSON.stringify(parsed.positionals[positionals.max])}`, command.name)
  }
  return { values: parsed.values as ParsedValues<O>, positionals: parsed.positionals }
}

/** The `Usage: …` line of a command's help. */
export function usageLine(command: Command): string {
  return command.help.trim().split('\n')[0]
}

type ParsedValues<O extends Options> = {
  [K in keyof O]?: O[K] extends { type: 'boolean' } ? (O[K] extends { multiple: true } ? boolean[] : boolean) : O[K] extends { multiple: true } ? string[] : string
}

/** node:util's messages, shortened to what a person needs. */
function flagMessage(error: unknown): string {
  const message = error instanceof Error ? error.message : String(error)
  return message.replace(/\. To specify a positional argument starting with a '-'.*$/s, '').replace(/\.$/, '')
}

/** The value of a flag, or of its environment variable, or the default. */
export function flagOrEnv(flag: string | undefined, env: NodeJS.ProcessEnv, name: string, fallback?: string): string | undefined {
  if (flag !== undefined) return flag
  const fromEnv = env[name]
  return fromEnv !== undefined && fromEnv !== '' ? fromEnv : fallback
}

/** A required flag's value. */
export function required(value: string | undefined, flag: string, command: Command): string {
  if (value === undefined || value === '') throw new UsageError(`${flag} is required`, command.name)
  return value
}

/** Writes one line. */
export function line(stream: NodeJS.WritableStream, text = ''): void {
  stream.write(`${text}\n`)
}

/** Writes a value as pretty JSON (for `--json`). */
export function printJson(io: CliIo, value: unknown): void {
  line(io.stdout, JSON.stringify(value, null, 2))
}
