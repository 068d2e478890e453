/**
 * `approval-gate user slack`: links a member's Slack user id in one project, through the admin
 * service (one Slack user per member of a project, recorded in the audit trail); bad input is
 * refused with a message naming it and changes nothing.
 */
import { mkdtemp, rm } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { openDataDir } from '../../src/server/server.js'
import { runCli } from './helpers.js'

let dir: string
let data: string
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-user-slack-'))
  data = join(dir, 'data')
  for (const name of ['web', 'api']) expect((await runCli(['project', 'create', name, '--data', data])).code).toBe(0)
  for (const email of ['ada@example.com', 'bob@example.com']) {
    expect((await runCli(['user', 'add', email, '--project', 'web', '--password-stdin', '--data', data], { input: 'a long enough password' })).code).toBe(0)
  }
}, 60_000)
afterAll(async () => {
  await rm(dir, { recursive: true, force: true })
})

async function slackLinks(project: string): Promise<Record<string, string | null>> {
  const store = await openDataDir(data)
  try {
    const found = await store.getProjectByName(project)
    return Object.fromEntries((await store.listMembers(found!.id)).map((member) => [member.email, member.slack_user_id]))
  } finally {
    await store.close()
  }
}

describe('approval-gate user slack', () => {
  it('links, refuses a second member for the same Slack user, unlinks, and records each change', async () => {
    const linked = await runCli(['user', 'slack', '--project', 'web', '--email', 'ada@example.com', '--slack-user', 'U024BE7LH', '--data', data])
    expect(linked).toMatchObject({ code: 0 })
    expect(linked.stdout).toContain('Linked ada@example.com to the Slack user U024BE7LH in web.')
    expect(await slackLinks('web')).toEqual({ 'ada@example.com': 'U024BE7LH', 'bob@example.com': null })

    const taken = await runCli(['user', 'slack', '--project', 'web', '--email', 'bob@example.com', '--slack-user', 'U024BE7LH', '--data', data])
    expect(taken.code).not.toBe(0)
    expect(taken.stderr).toContain('another member of project web is linked to the Slack user U024BE7LH')
    expect(await slackLinks('web')).toEqual({ 'ada@example.com': 'U024BE7LH', 'bob@example.com': null })

    const unlinked = await runCli(['user', 'slack', '--project', 'web', '--email', 'ada@example.com', '--unlink', '--data', data])
    expect(unlinked.code).toBe(0)
    expect(await slackLinks('web')).toEqual({ 'ada@example.com': null, 'bob@example.com': null })

    const audit = await runCli(['audit', 'export', '--project', 'web', '--data', data])
    expect(audit.stdout).toContain('Slack U024BE7LH')
    expect(audit.stdout).toContain('Slack user unlinked')
  }, 60_000)

  it('refuses malformed ids, missing flags, non-members and unknown emails, changing nothing', async () => {
    const cases: Array<[string[], string]> = [
      [['--email', 'ada@example.com', '--slack-user', '<@U1>'], 'a Slack user id is U or W'],
      [['--email', 'ada@example.com', '--slack-user', 'u024be7lh'], 'a Slack user id is U or W'],
      [['--email', 'ada@example.com'], 'give either --slack-user ID or --unlink'],
      [['--email', 'ada@example.com', '--slack-user', 'U1AA', '--unlink'], 'give either --slack-user ID or --unlink'],
      [['--slack-user', 'U1AA'], '--email is required'],
      [['--email', 'nobody@example.com', '--slack-user', 'U1AA'], 'no account has the email nobody@example.com'],
    ]
    for (const [flags, message] of cases) {
      const result = await runCli(['user', 'slack', '--project', 'web', ...flags, '--data', data])
      expect([flags, result.code === 0]).toEqual([flags, false])
      expect(result.stderr).toContain(message)
    }
    // ada has an account but is not a member of api.
    const outsider = await runCli(['user', 'slack', '--project', 'api', '--email', 'ada@example.com', '--slack-user', 'U1AA', '--data', data])
    expect(outsider.code).not.toBe(0)
    expect(outsider.stderr).toContain('not a member of this project')
    expect(await slackLinks('web')).toEqual({ 'ada@example.com': null, 'bob@example.com': null })
  }, 60_000)
})
