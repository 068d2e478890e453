/**
 * Email channels end to end: a real server sends through a real SMTP server on loopback
 * (`smtp-server`), to the channel's addresses or to the members who may decide each request
 * under its applied policy (not its requester when self-approval is blocked, not who already
 * voted when reminding), with the request and a link to its page only — and an SMTP server
 * refusing for a while, then for good.
 */
import { afterEach, describe, expect, it } from '@jest/globals'
import { mkdtemp, rm } from 'node:fs/promises'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { SMTPServer } from 'smtp-server'
import { startServer, type RunningServer } from '../../src/server/server.js'
import type { Project } from '../../src/server/store/types.js'
import { waitUntil } from '../helpers/wait-until.js'
import { call, createKey } from '../server/helpers.js'
import { projectWithVoters, setPolicy, voteAs } from '../server/votes-helpers.js'

interface Mail {
  to: string[]
  raw: string
}

interface Smtp {
  url: string
  mails: Mail[]
  /** An SMTP error code to refuse the next message with, or null to accept. */
  refuse: (index: number) => number | null
  close(): Promise<void>
}

async function startSmtp(): Promise<Smtp> {
  let attempts = 0
  const smtp: Smtp = { url: '', mails: [], refuse: () => null, close: async () => {} }
  const server = new SMTPServer({
    authOptional: true,
    disabledCommands: ['STARTTLS'],
    logger: false,
    onData(stream, session, callback) {
      const chunks: Buffer[] = []
      stream.on('data', (chunk: Buffer) => chunks.push(chunk))
      stream.on('end', () => {
        const code = smtp.refuse(attempts++)
        if (code !== null) return callback(Object.assign(new Error(code >= 500 ? 'mailbox unavailable' : 'try again later'), { responseCode: code }))
        smtp.mails.push({ to: session.envelope.rcptTo.map((r) => r.address), raw: Buffer.concat(chunks).toString('utf8') })
        callback()
      })
    },
  })
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve))
  smtp.url = `smtp://127.0.0.1:${(server.server.address() as AddressInfo).port}`
  smtp.close = () => new Promise<void>((resolve) => server.close(() => resolve()))
  return smtp
}

describe('email channels on a real server', () => {
  const cleanups: Array<() => Promise<void>> = []
  afterEach(async () => {
    for (const cleanup of cleanups.splice(0).reverse()) await cleanup()
  })

  async function setup(): Promise<{ server: RunningServer; smtp: Smtp; project: Project; requestKey: string; decideKey: string }> {
    const smtp = await startSmtp()
    cleanups.push(() => smtp.close())
    const dataDir = await mkdtemp(join(tmpdir(), 'ag-email-'))
    const server = await startServer({
      dataDir,
      port: 0,
      publicUrl: 'https://gate.example.test',
      notifications: { email: { smtpUrl: smtp.url, from: 'gate@example.test' }, worker: { retry: { baseDelayMs: 50, maxDelayMs: 200, giveUpAfterMs: 60_000 }, pollMs: 100, reminderCheckMs: 50 } },
    })
    cleanups.push(async () => {
      await server.close()
      await rm(dataDir, { recursive: true, force: true })
    })
    const project = await server.store.createProject('web')
    return { server, smtp, project, requestKey: await createKey(server.store, project.id, ['request'], 'ci'), decideKey: await createKey(server.store, project.id, ['decide'], 'bot') }
  }

  it('mails the request and its page link to the named addresses, then the decision in the same thread', async () => {
    const s = await setup()
    await s.server.notifications.channels.addEmail(s.project, 'cli', ['ops@example.com', 'dev@example.com'])
    const created = await call(s.server.url, 'POST', '/v1/approvals', { key: s.requestKey, json: { action: 'deploy production', context: { sha: 'abc123', note: '<b>hi</b>' } } })
    const id = created.body.id as string
    const [first] = await waitUntil(() => (s.smtp.mails.length >= 1 ? s.smtp.mails : null), { what: 'the first mail' })
    expect(first.to.sort()).toEqual(['dev@example.com', 'ops@example.com'])
    expect(first.raw).toMatch(/^Subject: \[approval-gate\] Approval requested: deploy production in web/m)
    expect(first.raw).toMatch(/^From: gate@example.test/m)
    expect(first.raw).toContain(`https://gate.example.test/approvals/${id}`)
    expect(first.raw).toContain('abc123')
    // One link only: the page, where the approver signs in. No link that decides.
    expect(first.raw.match(/https?:\/\/[^\s"]+/g)).toEqual([`https://gate.example.test/approvals/${id}`])
    expect(first.raw).not.toMatch(/decision|approve\?|token=/i)
    expect(first.raw).toMatch(/^Content-Type: text\/plain/m)
    const messageId = /^Message-ID: (<[^>]+>)/m.exec(first.raw)?.[1]
    expect(messageId).toMatch(/^<dlv_/)
    await call(s.server.url, 'POST', `/v1/approvals/${id}/decision`, { key: s.decideKey, json: { decision: 'reject', reason: 'not now' } })
    const second = await waitUntil(() => s.smtp.mails[1], { what: 'the decision mail' })
    expect(second.raw).toMatch(/^Subject: \[approval-gate\] Decided \(rejected\): deploy production in web/m)
    expect(second.raw).toContain(`In-Reply-To: ${messageId}`)
    expect(second.raw).toContain('not now')
  })

  it("mails every member when the channel names no address and the project has no policy", async () => {
    const s = await setup()
    for (const email of ['ana@example.com', 'bo@example.com']) {
      const user = await s.server.store.createUser({ email, password_hash: 'x' })
      await s.server.store.setMembership(s.project.id, user.id, 'member')
    }
    await s.server.notifications.channels.addEmail(s.project, 'cli', [], { events: ['approval.created'] })
    await call(s.server.url, 'POST', '/v1/approvals', { key: s.requestKey, json: { action: 'deploy', context: {} } })
    const mail = await waitUntil(() => s.smtp.mails[0], { what: 'a mail' })
    expect(mail.to.sort()).toEqual(['ana@example.com', 'bo@example.com'])
  })

  /** The recipients of the mails about approval `id` whose subject starts with `headline`. */
  function recipientsOf(smtp: Smtp, id: string, headline: string): string[][] {
    return smtp.mails.filter((mail) => mail.raw.includes(`/approvals/${id}`) && mail.raw.includes(`Subject: [approval-gate] ${headline}`)).map((mail) => mail.to.sort())
  }

  it('mails only the members the applied rule counts: a rule requiring sre reaches sre, the document default every member', async () => {
    const s = await setup()
    const { project, email } = await projectWithVoters(s.server, 'sre-mail', ['ana', 'ben', 'cy'])
    // dora is in the group but not a member of the project: she cannot vote, so gets no mail.
    await setPolicy(s.server.store, project.id, `groups:\n  sre: [${email('ana')}, ${email('ben')}, dora@example.com]\nrules:\n  - name: production\n    match: { action: ["deploy-prod*"] }\n    approvers: { required: 1, groups: [sre] }\n`)
    const requestKey = await createKey(s.server.store, project.id, ['request'], 'ci')
    await s.server.notifications.channels.addEmail(project, 'cli', [], { events: ['approval.created'] })
    const prod = await call(s.server.url, 'POST', '/v1/approvals', { key: requestKey, json: { action: 'deploy-prod-eu', context: {} } })
    const staging = await call(s.server.url, 'POST', '/v1/approvals', { key: requestKey, json: { action: 'deploy-staging', context: {} } })
    await waitUntil(() => s.smtp.mails.length >= 2, { what: 'both mails' })
    expect(recipientsOf(s.smtp, prod.body.id as string, 'Approval requested')).toEqual([[email('ana'), email('ben')]])
    expect(recipientsOf(s.smtp, staging.body.id as string, 'Approval requested')).toEqual([[email('ana'), email('ben'), email('cy')]])
  })

  it('leaves the requester out when the rule blocks self-approval, and only then; with nobody left the delivery fails saying so', async () => {
    const s = await setup()
    const { project, email } = await projectWithVoters(s.server, 'self-mail', ['ana', 'ben'], { githubLogins: { ana: 'ana-gh', ben: 'ben-gh' } })
    await setPolicy(
      s.server.store,
      project.id,
      `rules:\n  - name: strict\n    match: { action: deploy }\n    approvers: { required: 1, members: [${email('ana')}, ${email('ben')}] }\n    block_self_approval: true\n` +
        `  - name: solo\n    match: { action: hotfix }\n    approvers: { required: 1, members: [${email('ana')}] }\n    block_self_approval: true\n`,
    )
    const requestKey = await createKey(s.server.store, project.id, ['request'], 'ci')
    const { channel } = await s.server.notifications.channels.addEmail(project, 'cli', [], { events: ['approval.created'] })
    const byAna = await call(s.server.url, 'POST', '/v1/approvals', { key: requestKey, json: { action: 'deploy', context: { github: { actor: 'ANA-GH' } } } })
    const loose = await call(s.server.url, 'POST', '/v1/approvals', { key: requestKey, json: { action: 'build', context: { github: { actor: 'ana-gh' } } } })
    await waitUntil(() => s.smtp.mails.length >= 2, { what: 'both mails' })
    expect(recipientsOf(s.smtp, byAna.body.id as string, 'Approval requested')).toEqual([[email('ben')]])
    // The document's default does not block self-approval (nor does the project): ana may decide her own build.
    expect(recipientsOf(s.smtp, loose.body.id as string, 'Approval requested')).toEqual([[email('ana'), email('ben')]])
    // Only ana may approve her own hotfix, and she may not: nobody to mail, said on the channel's log.
    const hotfix = await call(s.server.url, 'POST', '/v1/approvals', { key: requestKey, json: { action: 'hotfix', context: { github: { triggering_actor: 'ana-gh' } } } })
    const failed = await waitUntil(async () => (await s.server.store.listDeliveries(project.id, channel.id)).find((d) => d.approval_id === hotfix.body.id && d.status === 'failed'), { what: 'the hotfix delivery given up' })
    expect(failed.last_error).toBe('no recipients: the channel names none and no member of the project may decide this request')
    expect(recipientsOf(s.smtp, hotfix.body.id as string, 'Approval requested')).toEqual([])
  })

  it('reminds and escalates to those who may still vote: not the member who already voted', async () => {
    const s = await setup()
    const { project, voters, email } = await projectWithVoters(s.server, 'remind-mail', ['ana', 'ben', 'cy'])
    await setPolicy(s.server.store, project.id, `rules:\n  - name: two\n    match: { action: deploy }\n    approvers: { required: 2, members: [${email('ana')}, ${email('ben')}, ${email('cy')}] }\n`)
    const requestKey = await createKey(s.server.store, project.id, ['request'], 'ci')
    const created = await call(s.server.url, 'POST', '/v1/approvals', { key: requestKey, json: { action: 'deploy', context: {} } })
    const id = created.body.id as string
    expect(await voteAs(voters.ana, id, 'approve')).toMatchObject({ status: 200, body: { result: 'voted', status: 'pending' } })
    // Channels made after the vote: every reminder and escalation they send is about a request ana voted on.
    const oncall = await s.server.store.createChannel({ project_id: project.id, kind: 'email', name: 'oncall', config: {}, events: ['approval.escalated'], remind_after_ms: null, escalate_after_ms: null, escalate_to: null, secret: null })
    await s.server.store.createChannel({ project_id: project.id, kind: 'email', name: 'team', config: {}, events: ['approval.reminder'], remind_after_ms: 60_000, escalate_after_ms: 50, escalate_to: oncall.id, secret: null })
    await s.server.store.createChannel({ project_id: project.id, kind: 'email', name: 'nag', config: {}, events: ['approval.reminder'], remind_after_ms: 50, escalate_after_ms: null, escalate_to: null, secret: null })
    await waitUntil(() => recipientsOf(s.smtp, id, 'Reminder').length >= 1 && recipientsOf(s.smtp, id, 'Escalated').length >= 1, { what: 'a reminder and the escalation' })
    expect(recipientsOf(s.smtp, id, 'Reminder')[0]).toEqual([email('ben'), email('cy')])
    expect(recipientsOf(s.smtp, id, 'Escalated')).toEqual([[email('ben'), email('cy')]])
  })

  it('retries while the SMTP server answers 4xx and gives up on 5xx', async () => {
    const s = await setup()
    s.smtp.refuse = (index) => (index < 2 ? 451 : index === 2 ? null : 550)
    const { channel } = await s.server.notifications.channels.addEmail(s.project, 'cli', ['ops@example.com'], { events: ['approval.created'] })
    await call(s.server.url, 'POST', '/v1/approvals', { key: s.requestKey, json: { action: 'first', context: {} } })
    await waitUntil(() => s.smtp.mails.length === 1, { what: 'the mail after two refusals' })
    await call(s.server.url, 'POST', '/v1/approvals', { key: s.requestKey, json: { action: 'second', context: {} } })
    const log = await waitUntil(async () => {
      const deliveries = await s.server.store.listDeliveries(s.project.id, channel.id)
      return deliveries.length === 2 && deliveries[0].status === 'failed' ? deliveries : null
    }, { what: 'the second mail given up' })
    expect(log.map((d) => [d.status, d.attempts, d.response_code])).toEqual([
      ['failed', 1, 550],
      ['delivered', 3, null],
    ])
    expect(log[0].last_error).toMatch(/^SMTP: .*mailbox unavailable/)
  })
})
