/** `approval-gate audit export|verify|checkpoint`: the keyed audit trail, read straight from the server's database. */
import { once } from 'node:events'
import { AUDIT_EXPORT_FORMATS, auditExportLines, type AuditExportFormat } from '../../server/audit/audit-export.js'
import { readFile } from 'node:fs/promises'
import type { AuditVerification } from '../../server/store/types.js'
import { CliError, EXIT, line, parseCommand, printJson, UsageError, type CliIo, type Command } from '../cli-kit.js'
import { PROJECT_FLAGS, PROJECT_HELP, projectTargetOf, STORE_HELP, withProject } from '../store-location.js'

export const auditExportCommand: Command = {
  name: 'audit export',
  summary: "write a project's audit trail as NDJSON or CSV",
  help: `
Usage: approval-gate audit export --project NAME [--format ndjson|csv] [--data DIR | --database-url URL]

Writes every audit event of the project, oldest first, to stdout. CSV cells that a
spreadsheet would run as formulas are prefixed with '.

Options:
${PROJECT_HELP}
  --format F          ndjson (default) or csv
${STORE_HELP}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(auditExportCommand, args, io, { ...PROJECT_FLAGS, format: { type: 'string', short: 'f' } }, { min: 0, max: 0 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(auditExportCommand, parsed.values, io.env)
    const format = (parsed.values.format ?? 'ndjson') as AuditExportFormat
    if (!AUDIT_EXPORT_FORMATS.includes(format)) throw new UsageError(`--format must be ndjson or csv, got ${JSON.stringify(parsed.values.format)}`, auditExportCommand.name)
    await withProject(target, async (store, project) => {
      for await (const chunk of auditExportLines(store.exportAudit(project.id), format)) {
        // Respect backpressure: a large trail piped into a slow consumer must not pile up in memory.
        if (!io.stdout.write(chunk)) await once(io.stdout, 'drain')
      }
    })
    return EXIT.ok
  },
}

export const auditVerifyCommand: Command = {
  name: 'audit verify',
  summary: "check a project's keyed audit chain and its approvals (exit 1 when tampered)",
  help: `
Usage: approval-gate audit verify --project NAME [--full] [--checkpoint FILE] [--data DIR | --database-url URL] [--json]

Checks every event's MAC with the audit key, the links between events and the chain head,
and that every approval's status in the database is the one its audit events record. Exit 0
when all is intact; exit 1 naming the first event that was edited or deleted, or the approval
whose row disagrees with its events.

Options:
${PROJECT_HELP}
  --full              re-verify every event (the CLI always starts from the first event;
                      accepted for symmetry with GET /v1/audit/verify?full=true)
  --checkpoint FILE   also prove the chain still extends a checkpoint printed earlier by
                      \`approval-gate audit checkpoint\` (FILE - reads stdin)
${STORE_HELP}
  --json              print the verification result as JSON
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(
      auditVerifyCommand,
      args,
      io,
      { ...PROJECT_FLAGS, json: { type: 'boolean' }, full: { type: 'boolean' }, checkpoint: { type: 'string' } },
      { min: 0, max: 0 },
    )
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(auditVerifyCommand, parsed.values, io.env)
    const { projectName } = target
    const checkpointText = parsed.values.checkpoint === undefined ? undefined : await readCheckpointFile(parsed.values.checkpoint, io)
    const outcome = await withProject(target, async (store, project) => {
      if (checkpointText === undefined) return { result: await store.verifyAudit(project.id, { full: true }) }
      let value: unknown
      try {
        value = JSON.parse(checkpointText)
      } catch {
        return { checkpoint: { ok: false as const, problem: 'the checkpoint file is not JSON' } }
      }
      return { checkpoint: await store.verifyAuditCheckpoint(project.id, value) }
    })
    if (outcome.checkpoint) {
      const checked = outcome.checkpoint
      if (parsed.values.json) printJson(io, checked)
      else if (checked.ok) line(io.stdout, `ok: the audit trail of ${projectName} still extends the checkpoint at seq ${checked.checkpoint.seq} (${describeOk(checked.verification)})`)
      else line(io.stdout, `TAMPERED: the audit trail of ${projectName} does not extend the checkpoint: ${checked.problem}`)
      return checked.ok ? EXIT.ok : EXIT.rejected
    }
    const result = outcome.result!
    if (parsed.values.json) printJson(io, result)
    else if (result.ok) line(io.stdout, `ok: the audit trail of ${projectName} is intact (${describeOk(result)})`)
    else if (result.problem === 'approval_mismatch') line(io.stdout, `TAMPERED: approval ${result.approval_id} of ${projectName} disagrees with its audit events: ${result.detail}`)
    else line(io.stdout, `TAMPERED: the audit trail of ${projectName} fails at seq ${result.seq} (${PROBLEMS[result.problem]}); ${result.events} events checked`)
    return result.ok ? EXIT.ok : EXIT.rejected
  },
}

export const auditCheckpointCommand: Command = {
  name: 'audit checkpoint',
  summary: "print a signed checkpoint of a project's audit chain head, to keep elsewhere",
  help: `
Usage: approval-gate audit checkpoint --project NAME [--data DIR | --database-url URL]

Verifies the chain, then prints {project, seq, head, at, mac} as JSON: the chain's head,
signed (HMAC) with the audit key. Keep it outside the server (a ticket, a log, another
machine); \`approval-gate audit verify --checkpoint FILE\` later proves the chain still
extends it, which catches a history rewritten even by someone holding the database and the key.

Options:
${PROJECT_HELP}
${STORE_HELP}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(auditCheckpointCommand, args, io, { ...PROJECT_FLAGS }, { min: 0, max: 0 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(auditCheckpointCommand, parsed.values, io.env)
    const checkpoint = await withProject(target, async (store, project) => {
      try {
        return await store.auditCheckpoint(project.id)
      } catch (error) {
        throw new CliError((error as Error).message, EXIT.rejected)
      }
    })
    line(io.stdout, JSON.stringify(checkpoint))
    return EXIT.ok
  },
}

function describeOk(result: AuditVerification): string {
  if (!result.ok) return ''
  const legacy = result.legacy_events ? `; ${result.legacy_events} written before the chain was keyed (legacy, unkeyed when written)` : ''
  return `${result.events} events, head ${result.head}${legacy}`
}

async function readCheckpointFile(path: string, io: CliIo): Promise<string> {
  try {
    if (path === '-') {
      let text = ''
      for await (const chunk of io.stdin) text += String(chunk)
      return text
    }
    return await readFile(path, 'utf8')
  } catch (error) {
    throw new CliError(`cannot read the checkpoint ${path}: ${(error as Error).message}`)
  }
}

const PROBLEMS = {
  hash_mismatch: 'the event was edited: its hash does not match its content',
  broken_link: "the event does not link to the previous event's hash",
  missing_event: 'an event is missing here: it was deleted',
  mac_mismatch: 'the event or the chain head was changed without the audit key: edited or forged',
} as const
