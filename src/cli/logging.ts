/**
 * The server's log for `serve`: warnings and errors by default (the startup lines are the
 * CLI's own), `--log-level` / `APPROVAL_GATE_LOG_LEVEL` to see more (`info`: one line per
 * request; `debug`: `/healthz` too), JSON lines when stdout is not a terminal and short
 * readable lines when it is (`--log-format` to choose). API keys, cookies and tokens are
 * never logged: request headers are not logged at all, and are redacted should anything
 * log them.
 */
import { Writable } from 'node:stream'
import { UsageError } from './cli-kit.js'

export const LOG_LEVELS = ['silent', 'fatal', 'error', 'warn', 'info', 'debug', 'trace'] as const
export type LogLevel = (typeof LOG_LEVELS)[number]
export const DEFAULT_LOG_LEVEL: LogLevel = 'warn'

export const LOG_FORMATS = ['auto', 'json', 'text'] as const
export type LogFormat = (typeof LOG_FORMATS)[number]

/** Paths pino replaces with `[redacted]` wherever a log line carries them. */
export const REDACTED_PATHS = [
  'req.headers.authorization',
  'req.headers.cookie',
  'req.headers["x-api-key"]',
  'res.headers["set-cookie"]',
  'headers.authorization',
  'headers.cookie',
  'headers["set-cookie"]',
  '*.authorization',
  '*.cookie',
  '*.password',
  '*.apiKey',
  '*.api_key',
  '*.token',
  '*.secret',
]

/** The level from `--log-level`, `APPROVAL_GATE_LOG_LEVEL`, `--quiet` (silent), else `warn`. */
export function logLevelOf(flag: string | undefined, env: NodeJS.ProcessEnv, quiet: boolean | undefined): LogLevel {
  if (quiet) return 'silent'
  const text = (flag ?? (env.APPROVAL_GATE_LOG_LEVEL || DEFAULT_LOG_LEVEL)).toLowerCase()
  if (!(LOG_LEVELS as readonly string[]).includes(text)) {
    throw new UsageError(`--log-level must be one of ${LOG_LEVELS.join(', ')}, got ${JSON.stringify(text)}`, 'serve')
  }
  return text as LogLevel
}

export function logFormatOf(flag: string | undefined, env: NodeJS.ProcessEnv): LogFormat {
  const text = (flag ?? (env.APPROVAL_GATE_LOG_FORMAT || 'auto')).toLowerCase()
  if (!(LOG_FORMATS as readonly string[]).includes(text)) throw new UsageError(`--log-format must be auto, json or text, got ${JSON.stringify(text)}`, 'serve')
  return text as LogFormat
}

/** Fastify's `logger` option for the level and format, writing to `out`; `false` when silent. */
export function serverLoggerOptions(level: LogLevel, format: LogFormat, out: NodeJS.WritableStream & { isTTY?: boolean }) {
  if (level === 'silent') return false
  const text = format === 'text' || (format === 'auto' && out.isTTY === true)
  return {
    level,
    redact: { paths: REDACTED_PATHS, censor: '[redacted]' },
    stream: text ? textStream(out) : out,
  }
}

const LEVEL_NAMES: Record<number, string> = { 10: 'TRACE', 20: 'DEBUG', 30: 'INFO', 40: 'WARN', 50: 'ERROR', 60: 'FATAL' }
/** Fields every pino line has, left out of the readable form. */
const CHROME = new Set(['level', 'time', 'pid', 'hostname', 'msg', 'reqId', 'v'])

/** pino's JSON lines as `14:05:31 WARN  message key=value …`. */
function textStream(out: NodeJS.WritableStream): Writable {
  return new Writable({
    write(chunk: Buffer | string, _encoding, callback) {
      for (const json of chunk.toString().split('\n')) {
        if (json.trim()) out.write(`${textLine(json)}\n`)
      }
      callback()
    },
  })
}

/** One pino JSON line in readable form (the line itself when it is not JSON). */
export function textLine(json: string): string {
  let entry: Record<string, unknown>
  try {
    entry = JSON.parse(json) as Record<string, unknown>
  } catch {
    return json
  }
  const time = typeof entry.time === 'number' ? new Date(entry.time).toISOString().slice(11, 19) : ''
  const level = (LEVEL_NAMES[entry.level as number] ?? String(entry.level)).padEnd(5)
  const fields = Object.entries(entry)
    .filter(([key]) => !CHROME.has(key) && key !== 'err')
    .map(([key, value]) => `${key}=${typeof value === 'string' ? value : JSON.stringify(value)}`)
  const err = entry.err as { message?: string; stack?: string } | undefined
  const parts = [time, level, String(entry.msg ?? ''), ...fields].filter((part) => part !== '')
  return `${parts.join(' ')}${err ? `\n${err.stack ?? err.message}` : ''}`
}
