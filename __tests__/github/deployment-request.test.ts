/** Reading a deployment_protection_rule delivery, and which mapping applies to it. */
import { describe, expect, it } from '@jest/globals'
import { DeploymentPayloadError, pickMapping, readDeploymentRequest } from '../../src/server/github/deployment-request.js'
import type { GithubMapping } from '../../src/server/store/types.js'
import { deploymentPayload } from '../helpers/github-app-stand-in.js'

function mapping(id: string, fields: Partial<GithubMapping>): GithubMapping {
  return { id, project_id: `prj_${id}`, repository: 'acme/web', environment: null, installation_id: null, created_at: '2026-11-26T10:00:00.000Z', ...fields }
}

describe('readDeploymentRequest', () => {
  it('reads the run from the callback URL and keeps only well-formed pull requests', () => {
    const request = readDeploymentRequest({ ...deploymentPayload({ runId: 123 }), pull_requests: [{ number: 1, html_url: 'javascript:alert(1)', title: 't' }, { title: 'no number' }, 'junk'] })
    expect(request).toMatchObject({ installationId: '77', repository: 'acme/web', environment: 'production', runId: '123', sender: 'octocat', deploymentId: '5150' })
    expect(request.pullRequests).toEqual([{ number: 1, url: null, title: 't' }])
  })

  it('names the field that is missing or wrong', () => {
    const payload = deploymentPayload()
    const problem = (changed: Record<string, unknown>) => {
      try {
        readDeploymentRequest({ ...payload, ...changed })
        return null
      } catch (error) {
        return error instanceof DeploymentPayloadError ? error.message : String(error)
      }
    }
    expect(problem({ installation: { id: '77' } })).toMatch(/^installation.id/)
    expect(problem({ repository: { full_name: 'acme/web/../x' } })).toMatch(/^repository.full_name/)
    expect(problem({ environment: '' })).toMatch(/^environment/)
    expect(problem({ deployment_callback_url: 'https://api.github.com/repos/acme/web/actions/runs/abc/deployment_protection_rule' })).toMatch(/^deployment_callback_url/)
  })
})

describe('pickMapping', () => {
  it('prefers the environment, then the installation, and ignores mappings that do not match', () => {
    const request = readDeploymentRequest(deploymentPayload({ environment: 'Production', installation: 77 }))
    const any = mapping('any', {})
    const installation = mapping('inst', { installation_id: '77' })
    const environment = mapping('env', { environment: 'production' })
    const both = mapping('both', { environment: 'production', installation_id: '77' })
    const otherInstallation = mapping('other', { environment: 'production', installation_id: '78' })
    expect(pickMapping([any, installation, environment, both, otherInstallation], request)?.id).toBe('both')
    expect(pickMapping([any, installation, environment], request)?.id).toBe('env')
    expect(pickMapping([any, installation], request)?.id).toBe('inst')
    expect(pickMapping([otherInstallation, mapping('staging', { environment: 'staging' })], request)).toBeNull()
  })
})
