/**
 * The one writer of a project's GitHub App mappings (which repositories' deployments it
 * gates), for the CLI and the dashboard alike; each change is appended to the project's audit
 * chain (`github_mapped`, `github_unmapped`) with who made it.
 */
import { isStoreError } from '../store/errors.js'
import type { AdminChange, GithubMapping, Project, Store } from '../store/types.js'
import { AdminError, adminChange, type AdminActor } from './admin-service.js'

export interface GithubMappingInput {
  repository: string
  /** Empty or absent: every environment. */
  environment?: string | null
  /** Empty or absent: any installation of the App. */
  installationId?: string | null
}

export class GithubMappingAdmin {
  constructor(private readonly store: Store) {}

  list(project: Project): Promise<GithubMapping[]> {
    return this.store.listGithubMappings(project.id)
  }

  /** Maps a repository (and optionally one environment / installation) to the project. */
  async map(project: Project, actor: AdminActor, input: GithubMappingInput): Promise<GithubMapping> {
    let mapping: GithubMapping
    try {
      mapping = await this.store.createGithubMapping(
        {
          project_id: project.id,
          repository: input.repository.trim(),
          environment: blankToNull(input.environment),
          installation_id: blankToNull(input.installationId),
        },
        (created) => mappingChange('github_mapped', actor, created),
      )
    } catch (error) {
      if (isStoreError(error, 'invalid')) throw new AdminError('invalid', error.message)
      if (isStoreError(error, 'conflict')) throw new AdminError('conflict', `${describeGithubMapping({ repository: input.repository.trim(), environment: blankToNull(input.environment), installation_id: blankToNull(input.installationId) })} is already mapped (to this or another project); unmap it there first`)
      throw error
    }
    return mapping
  }

  /** Removes a mapping of the project; deliveries for it are then answered "unmapped". */
  async unmap(project: Project, actor: AdminActor, mappingId: string): Promise<GithubMapping> {
    const removed = await this.store.removeGithubMapping(project.id, mappingId, (mapping) => mappingChange('github_unmapped', actor, mapping))
    if (!removed) throw new AdminError('not_found', `project ${project.name} has no GitHub mapping ${JSON.stringify(mappingId)}`)
    return removed
  }
}

function mappingChange(type: 'github_mapped' | 'github_unmapped', actor: AdminActor, mapping: GithubMapping): AdminChange {
  return adminChange(type, actor, `github:${mapping.repository}`, `${mapping.id} ${describeGithubMapping(mapping)}`, Date.now())
}

/** `acme/web, environment production, installation 77` (what a mapping covers, in words). */
export function describeGithubMapping(mapping: Pick<GithubMapping, 'repository' | 'environment' | 'installation_id'>): string {
  return [
    `repository ${mapping.repository}`,
    mapping.environment === null ? 'every environment' : `environment ${mapping.environment}`,
    mapping.installation_id === null ? 'any installation' : `installation ${mapping.installation_id}`,
  ].join(', ')
}

function blankToNull(value: string | null | undefined): string | null {
  const trimmed = value?.trim() ?? ''
  return trimmed === '' ? null : trimmed
}
