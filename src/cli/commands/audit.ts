/** `approval-gate audit export|verify`: the hash-chained audit trail, read straight from the server's database. */
import { once } from 'node:events'
import { AUDIT_EXPORT_FORMATS, auditExportLines, type AuditExportFormat } from '../../server/audit/audit-export.js'
import { EXIT, line, parseCommand, printJson, UsageError, type Command } from '../cli-kit.js'
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
  summary: "check a project's audit hash chain (exit 1 when tampered)",
  help: `
Usage: approval-gate audit verify --project NAME [--data DIR | --database-url URL] [--json]

Recomputes the hash chain. Exit 0 when it is intact; exit 1 naming the first event that
was edited, or where one was deleted.

Options:
${PROJECT_HELP}
${STORE_HELP}
  --json              print the verification result as JSON
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(auditVerifyCommand, args, io, { ...PROJECT_FLAGS, json: { type: 'boolean' } }, { min: 0, max: 0 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(auditVerifyCommand, parsed.values, io.env)
    const { projectName } = target
    const result = await withProject(target, async (store, project) => store.verifyAudit(project.id))
    if (parsed.values.json) printJson(io, result)
    else if (result.ok) line(io.stdout, `ok: the audit trail of ${projectName} is intact (${result.events} events, head ${result.head})`)
    else line(io.stdout, `TAMPERED: the audit trail of ${projectName} fails at seq ${result.seq} (${PROBLEMS[result.problem]}); ${result.events} events checked`)
    return result.ok ? EXIT.ok : EXIT.rejected
  },
}

const PROBLEMS = {
  hash_mismatch: 'the event was edited: its hash does not match its content',
  broken_link: "the event does not link to the previous event's hash",
  missing_event: 'an event is missing here: it was deleted',
} as const
