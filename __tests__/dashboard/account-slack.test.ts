/**
 * The account page's Slack field: each member links their own Slack user id per project
 * (audited), and nothing else — not another project, not without the CSRF token, not an id
 * another member of the project holds, not a malformed id.
 */
import { describe, expect, it } from '@jest/globals'
import { ADMIN, MEMBER, dashboardsClosedAfterEach, signedInClient } from './fixture.js'

const dashboard = dashboardsClosedAfterEach()

describe('account page: Slack user per project', () => {
  it('shows one field per project and links the signed-in member in that project only, in the audit trail', async () => {
    const fx = await dashboard()
    const other = await fx.store.createProject('other')
    await fx.store.setMembership(other.id, fx.member.id, 'member')
    const bob = await signedInClient(fx, MEMBER)
    const page = await bob.request('GET', '/account')
    expect(page.text).toContain(`name="project_id" value="${fx.project.id}"`)
    expect(page.text).toContain(`name="project_id" value="${other.id}"`)

    const saved = await bob.request('POST', '/account/slack', { form: { _csrf: await bob.csrf('/account'), project_id: fx.project.id, slack_user_id: 'U0BOB1234' } })
    expect(saved.status).toBe(303)
    expect(saved.headers.get('location')).toBe('/account?notice=slack_linked')
    expect((await fx.store.getMemberBySlackUser(fx.project.id, 'U0BOB1234'))?.email).toBe(MEMBER.email)
    expect(await fx.store.getMemberBySlackUser(other.id, 'U0BOB1234')).toBeNull()
    expect((await bob.request('GET', '/account')).text).toContain('value="U0BOB1234"')
    const events = await fx.store.listAudit(fx.project.id, { outcome: 'member_changed' })
    expect(events.items.map((event) => [event.actor, event.action, event.reason])).toContainEqual([MEMBER.email, `member:${MEMBER.email}`, 'Slack U0BOB1234'])

    // Empty unlinks.
    expect((await bob.request('POST', '/account/slack', { form: { _csrf: await bob.csrf('/account'), project_id: fx.project.id, slack_user_id: '' } })).status).toBe(303)
    expect(await fx.store.getMemberBySlackUser(fx.project.id, 'U0BOB1234')).toBeNull()
  })

  it('refuses a malformed id, an id another member holds, a project the person is not in, and a missing CSRF token, changing nothing', async () => {
    const fx = await dashboard()
    const elsewhere = await fx.store.createProject('elsewhere')
    await fx.store.setMemberSlackUser(fx.project.id, fx.admin.id, 'U0ALICE')
    const bob = await signedInClient(fx, MEMBER)
    const post = async (fields: Record<string, string>, csrf = true) =>
      bob.request('POST', '/account/slack', { form: { ...(csrf ? { _csrf: await bob.csrf('/account') } : {}), ...fields } })

    const malformed = await post({ project_id: fx.project.id, slack_user_id: '<@U0ALICE>' })
    expect(malformed.status).toBe(400)
    expect(malformed.text).toContain('a Slack user id is U or W')
    const taken = await post({ project_id: fx.project.id, slack_user_id: 'U0ALICE' })
    expect(taken.status).toBe(409)
    expect(taken.text).toContain('another member of project')
    expect((await post({ project_id: elsewhere.id, slack_user_id: 'U0BOB' })).status).toBe(404)
    expect((await post({ project_id: fx.project.id, slack_user_id: 'U0BOB' }, false)).status).toBe(403)

    expect((await fx.store.getMemberBySlackUser(fx.project.id, 'U0ALICE'))?.email).toBe(ADMIN.email)
    expect((await fx.store.listMembers(fx.project.id)).find((member) => member.email === MEMBER.email)?.slack_user_id).toBeNull()
    expect(await fx.store.listMembers(elsewhere.id)).toEqual([])
  })
})
