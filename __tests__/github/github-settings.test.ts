/** Settings → GitHub in the dashboard: admins map and unmap repositories (audited); members read; forged, cross-project and bad input change nothing. */
import { describe, expect, it } from '@jest/globals'
import { ADMIN, dashboardsClosedAfterEach, MEMBER, signedInClient } from '../dashboard/fixture.js'

const startDashboard = dashboardsClosedAfterEach()

describe('Settings → GitHub', () => {
  it('lets an admin map a repository and unmap it after confirming, each recorded in the audit trail', async () => {
    const fx = await startDashboard()
    const client = await signedInClient(fx, ADMIN)
    const page = await client.request('GET', '/settings/github')
    expect(page.status).toBe(200)
    expect(page.text).toContain(`${fx.url}/integrations/github/webhook`)
    expect(page.text).toContain('No repositories are mapped to this project.')

    const csrf = await client.csrf('/settings/github')
    const mapped = await client.request('POST', '/settings/github', { form: { _csrf: csrf, repository: 'acme/web', environment: 'production', installation: '' }, headers: { origin: fx.url } })
    expect(mapped.status).toBe(303)
    expect(mapped.headers.get('location')).toBe('/settings/github?notice=github_mapped')
    const [mapping] = await fx.store.listGithubMappings(fx.project.id)
    expect(mapping).toMatchObject({ repository: 'acme/web', environment: 'production', installation_id: null })
    expect((await client.request('GET', '/settings/github')).text).toContain('acme/web')

    const confirm = await client.request('GET', `/settings/github/${mapping.id}/unmap`)
    expect(confirm.text).toContain('Unmap acme/web?')
    const unmapped = await client.request('POST', `/settings/github/${mapping.id}/unmap`, { form: { _csrf: csrf }, headers: { origin: fx.url } })
    expect(unmapped.headers.get('location')).toBe('/settings/github?notice=github_unmapped')
    expect(await fx.store.listGithubMappings(fx.project.id)).toEqual([])

    const events = (await fx.store.listAudit(fx.project.id)).items.filter((event) => event.type.startsWith('github_'))
    expect(events.map((event) => [event.type, event.action, event.actor])).toEqual([
      ['github_unmapped', 'github:acme/web', ADMIN.email],
      ['github_mapped', 'github:acme/web', ADMIN.email],
    ])
  })

  it('refuses bad input on the page with what was typed, and a repository another project gates', async () => {
    const fx = await startDashboard()
    const other = await fx.newProject('other')
    await fx.store.createGithubMapping({ project_id: other.project.id, repository: 'acme/taken' })
    const client = await signedInClient(fx, ADMIN)
    const csrf = await client.csrf('/settings/github')
    const bad = await client.request('POST', '/settings/github', { form: { _csrf: csrf, repository: 'not/a/repo"><script>', environment: '', installation: '' }, headers: { origin: fx.url } })
    expect(bad.status).toBe(400)
    expect(bad.text).toContain('Repository must be owner/repo')
    expect(bad.text).toContain('value="not/a/repo&quot;&gt;&lt;script&gt;"')
    const taken = await client.request('POST', '/settings/github', { form: { _csrf: csrf, repository: 'acme/taken', environment: '', installation: '' }, headers: { origin: fx.url } })
    expect(taken.status).toBe(400)
    expect(taken.text).toContain('already mapped')
    expect(await fx.store.listGithubMappings(fx.project.id)).toEqual([])
  })

  it('refuses members, a missing CSRF token, and another project\'s mapping id', async () => {
    const fx = await startDashboard()
    const other = await fx.newProject('theirs')
    const theirs = await fx.store.createGithubMapping({ project_id: other.project.id, repository: 'acme/theirs' })
    const member = await signedInClient(fx, MEMBER)
    expect((await member.request('GET', '/settings/github')).status).toBe(200)
    const memberCsrf = await member.csrf('/settings/github')
    expect((await member.request('POST', '/settings/github', { form: { _csrf: memberCsrf, repository: 'acme/web' }, headers: { origin: fx.url } })).status).toBe(403)

    const admin = await signedInClient(fx, ADMIN)
    expect((await admin.request('POST', '/settings/github', { form: { repository: 'acme/web' }, headers: { origin: fx.url } })).status).toBe(403)
    const csrf = await admin.csrf('/settings/github')
    const crossProject = await admin.request('POST', `/settings/github/${theirs.id}/unmap`, { form: { _csrf: csrf }, headers: { origin: fx.url } })
    expect(crossProject.headers.get('location')).toBe('/settings/github?notice=no_such_mapping')
    expect(await fx.store.listGithubMappings(other.project.id)).toEqual([theirs])
    expect(await fx.store.listGithubMappings(fx.project.id)).toEqual([])
  })
})
