/** `approval-gate github map|list|unmap`: which project gates a GitHub repository's deployments (the GitHub App). */
import { describeGithubMapping, GithubMappingAdmin } from '../../server/admin/github-mappings.js'
import { describeGithubAnswer, githubAnswerStatus } from '../../server/github/answer-status.js'
import type { Project, Store } from '../../server/store/types.js'
import { oneLine } from '../../shared/log-text.js'
import { EXIT, line, parseCommand, printJson, UsageError, type Command } from '../cli-kit.js'
import { adminRefusal } from '../admin-refusal.js'
import { PROJECT_FLAGS, PROJECT_HELP, projectTargetOf, STORE_HELP, withProject } from '../store-location.js'

/** How many gated deployments `github list` shows. */
const RECENT_DEPLOYMENTS = 10

export const githubMapCommand: Command = {
  name: 'github map',
  summary: "gate a GitHub repository's deployments in a project (GitHub App)",
  help: `
Usage: approval-gate github map --project NAME --repository OWNER/REPO
                                [--environment ENV] [--installation ID]
                                [--data DIR | --database-url URL] [--json]

Deployments of the repository that wait on an environment protected by the approval-gate
GitHub App become approvals in the project (action "deploy:ENV"). The most specific mapping
wins: one naming the environment before one for every environment. A repository, environment
and installation can be mapped to one project only. See docs/github-app.md.

Options:
${PROJECT_HELP}
  --repository R      owner/repo (compared case-insensitively, as GitHub does)
  --environment ENV   only this environment (default: every environment of the repository)
  --installation ID   only deliveries from this installation of the App (default: any)
${STORE_HELP}
  --json              print the mapping as JSON
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(
      githubMapCommand,
      args,
      io,
      { ...PROJECT_FLAGS, repository: { type: 'string' }, environment: { type: 'string' }, installation: { type: 'string' }, json: { type: 'boolean' } },
      { min: 0, max: 0 },
    )
    if (!parsed) return EXIT.ok
    const { values } = parsed
    const target = projectTargetOf(githubMapCommand, values, io.env)
    if (!values.repository?.trim()) throw new UsageError('--repository is required, as owner/repo', githubMapCommand.name)
    const mapping = await withProject(target, (store, project) =>
      new GithubMappingAdmin(store).map(project, 'cli', { repository: values.repository!, environment: values.environment, installationId: values.installation }).catch(adminRefusal),
    )
    if (values.json) printJson(io, mapping)
    else line(io.stdout, `Mapped ${describeGithubMapping(mapping)} to project ${target.projectName} (${mapping.id}).`)
    return EXIT.ok
  },
}

export const githubListCommand: Command = {
  name: 'github list',
  summary: "list the GitHub repositories a project gates",
  help: `
Usage: approval-gate github list --project NAME [--data DIR | --database-url URL] [--json]

Lists the mappings, then the project's ${RECENT_DEPLOYMENTS} newest deployments gated through the App
and whether GitHub was answered ("GitHub answered", "answering GitHub: attempt N failed: …,
retrying at …", "GitHub could not be answered: …"). --json prints the mappings only.

Options:
${PROJECT_HELP}
${STORE_HELP}
  --json              print the mappings as a JSON array
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(githubListCommand, args, io, { ...PROJECT_FLAGS, json: { type: 'boolean' } }, { min: 0, max: 0 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(githubListCommand, parsed.values, io.env)
    const { mappings, deployments } = await withProject(target, async (store, project) => ({
      mappings: await new GithubMappingAdmin(store).list(project),
      deployments: parsed.values.json ? [] : await recentDeployments(store, project),
    }))
    if (parsed.values.json) {
      printJson(io, mappings)
      return EXIT.ok
    }
    if (mappings.length === 0) line(io.stdout, `Project ${target.projectName} gates no GitHub repositories.`)
    for (const mapping of mappings) line(io.stdout, `${mapping.id}  ${describeGithubMapping(mapping)}  created ${mapping.created_at}`)
    if (deployments.length > 0) {
      line(io.stdout, '')
      line(io.stdout, 'Recent deployments (newest first):')
      for (const deployment of deployments) line(io.stdout, deployment)
    }
    return EXIT.ok
  },
}

export const githubUnmapCommand: Command = {
  name: 'github unmap',
  summary: 'stop gating a GitHub repository in a project',
  help: `
Usage: approval-gate github unmap --project NAME MAPPING_ID [--data DIR | --database-url URL]

MAPPING_ID is the ghm_… id shown by "github list". Deliveries for the repository are then
answered "unmapped" and create nothing; approvals already created keep their callback.

Options:
${PROJECT_HELP}
${STORE_HELP}
  -h, --help          show this help
`,
  async run(args, io) {
    const parsed = parseCommand(githubUnmapCommand, args, io, PROJECT_FLAGS, { min: 1, max: 1 })
    if (!parsed) return EXIT.ok
    const target = projectTargetOf(githubUnmapCommand, parsed.values, io.env)
    const removed = await withProject(target, (store, project) => new GithubMappingAdmin(store).unmap(project, 'cli', parsed.positionals[0]).catch(adminRefusal))
    line(io.stdout, `Unmapped ${describeGithubMapping(removed)} (${removed.id}).`)
    return EXIT.ok
  },
}

/** One line per recent gate: the approval, what it gates and how its answer to GitHub stands (GitHub's error text on one line). */
async function recentDeployments(store: Store, project: Project): Promise<string[]> {
  const gates = await store.listGithubGates(project.id, { limit: RECENT_DEPLOYMENTS })
  return Promise.all(
    gates.map(async (gate) => {
      const approval = await store.getApproval(project.id, gate.approval_id)
      const answer = approval ? describeGithubAnswer(githubAnswerStatus(gate, approval.status)) : 'the approval is missing'
      return oneLine(`${gate.approval_id}  ${gate.repository}  environment ${gate.environment}  run ${gate.run_id}  ${answer}`)
    }),
  )
}

