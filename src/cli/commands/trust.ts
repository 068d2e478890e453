/** `approval-gate trust add|list|remove`: which workflow identities (OIDC tokens) may request approvals in a project. */
import { GITHUB_ACTIONS_ISSUER } from '../../contract/issuers.js'
import { AdminService, isAdminError } from '../../server/admin/admin-service.js'
import { describeTrustRule, trustRuleFields } from '../../server/admin/rules.js'
import { CliError, EXIT, line, parseCommand, printJson, UsageError, type Command } from '../cli-kit.js'
import { PROJECT_FLAGS, PROJECT_HELP, projectTargetOf, STORE_HELP, withProject } from '../store-location.js'

export const trustAddCommand: Command = {
  name: 'trust add',
  summary: 'let a workflow identity (OIDC token) request approvals, without a stored key',
  help: `
Usage: approval-gate trust add --project NAME --audience URL --repository OWNER/REPO
                               [--issuer URL] [--ref REF] [--environment ENV] [--workflow-ref REF]
                               [--data DIR | --database-url URL] [--json]

A workflow whose OIDC token comes from the issuer, for the audience, with these claims may
create (and withdraw its own) approvals in the project: the "request" scope, never decide.
The server fetches keys only from issuers that a trust rule names.

Options:
${PROJECT_HELP}
  --issuer URL        the token's iss (default ${GITHUB_ACTIONS_ISSUER};
                      GitHub Enterprise Server: https://HOST/_services/token; GitLab: https://gitlab.com)
  --audience URL      the token's aud: the action's oidc-audience (default: the API URL's origin)
  --repository R      owner/repo (GitLab: the project_path claim is not read; use GitHub-shaped issuers)
  --ref REF           only this ref, e.g. refs/heads/main
  --environment ENV   only jobs running in this deployment environment
  --workflow-ref REF  only this workflow file, e.g. owner/repo/.github/workflows/deploy.yml@refs/heads/main
${STORE_HELP}
  --json              print the rule as JSON
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(
      trustAddCommand,
      args,
      io,
      {
        ...PROJECT_FLAGS,
        issuer: { type: 'string' },
        audience: { type: 'string' },
        repository: { type: 'string' },
        ref: { type: 'string' },
        environment: { type: 'string' },
        'workflow-ref': { type: 'string' },
        json: { type: 'boolean' },
      },
      { min: 0, max: 0 },
    )
    if (!parsed) return EXIT.ok
    const { values } = parsed
    const target = projectTargetOf(trustAddCommand, values, io.env)
    const input = { issuer: values.issuer, audience: values.audience ?? '', repository: values.repository ?? '', ref: values.ref, environment: values.environment, workflowRef: values['workflow-ref'] }
    // Checked before the store is opened: a bad flag is a usage error naming it.
    const fields = trustRuleFields(input)
    if ('problem' in fields) throw new UsageError(`--${fields.problem}`, trustAddCommand.name)
    const rule = await withProject(target, (store, project) => new AdminService(store).addTrustRule(project, 'cli', input))
    if (values.json) printJson(io, rule)
    else line(io.stdout, `Added trust rule ${rule.id} to project ${target.projectName}: ${describeTrustRule(rule)}.`)
    return EXIT.ok
  },
}

export const trustListCommand: Command = {
  name: 'trust list',
  summary: "list a project's trust rules",
  help: `
Usage: approval-gate trust list --project NAME [--data DIR | --database-url URL] [--json]

Options:
${PROJECT_HELP}
${STORE_HELP}
  --json              print the rules as a JSON array
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(trustListCommand, args, io, { ...PROJECT_FLAGS, json: { type: 'boolean' } }, { min: 0, max: 0 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(trustListCommand, parsed.values, io.env)
    const rules = await withProject(target, (store, project) => store.listTrustRules(project.id))
    if (parsed.values.json) {
      printJson(io, rules)
      return EXIT.ok
    }
    if (rules.length === 0) line(io.stdout, `Project ${target.projectName} has no trust rules.`)
    for (const rule of rules) line(io.stdout, `${rule.id}  ${describeTrustRule(rule)}  created ${rule.created_at}`)
    return EXIT.ok
  },
}

export const trustRemoveCommand: Command = {
  name: 'trust remove',
  summary: 'remove a trust rule (its workflows are refused at once)',
  help: `
Usage: approval-gate trust remove --project NAME RULE_ID [--data DIR | --database-url URL]

RULE_ID is the trs_… id shown by "trust list".

Options:
${PROJECT_HELP}
${STORE_HELP}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(trustRemoveCommand, args, io, PROJECT_FLAGS, { min: 1, max: 1 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(trustRemoveCommand, parsed.values, io.env)
    const ruleId = parsed.positionals[0]
    await withProject(target, async (store, project) => {
      try {
        await new AdminService(store).removeTrustRule(project, 'cli', ruleId)
      } catch (error) {
        if (isAdminError(error)) throw new CliError(`${error.message} (see "approval-gate trust list --project ${target.projectName}")`)
        throw error
      }
    })
    line(io.stdout, `Removed ${ruleId}.`)
    return EXIT.ok
  },
}
