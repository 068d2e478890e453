/**
 * Deciding from Slack: a click (or a reason modal's submission) by a Slack user becomes a
 * decision by the member linked to that Slack user in the channel's project, through the
 * approval service with every rule a dashboard decision obeys. The outcome is shown where
 * the person is: the message is updated, refusals come back as a message only they see.
 * Reads (the member, the approval) come from the store; every change goes through the service.
 */
import { ApprovalRuleError, type Actor, type ApprovalService } from '../approvals/contracts.js'
import { selfApproval } from '../approvals/approval-service.js'
import { lostRaceMessage, selfApprovalMessage } from '../approvals/decision-messages.js'
import { provenWire } from '../http/wire.js'
import type { Approval, Decision, Member, Project, Store } from '../store/types.js'
import type { MessageAt } from './interaction-payload.js'
import { approvalMessage } from './message.js'
import { escapeMrkdwn, mrkdwn, slackText } from './mrkdwn.js'
import { reasonModal } from './reason-modal.js'
import { SlackApi } from './slack-api.js'

export interface SlackDecisionDeps {
  store: Store
  approvals: ApprovalService
  /** The server's public URL, without a trailing slash (links to the account page). */
  publicUrl: string
  slackApiUrl: string
  /** Where failures of the follow-up Slack calls are reported (one line, no secrets). */
  warn: (message: string) => void
}

/** What became of one decision attempt. */
type Attempt =
  | { kind: 'unlinked' }
  | { kind: 'not_found' }
  | { kind: 'needs_reason'; why: string; approval: Approval }
  | { kind: 'refused'; message: string; approval: Approval }
  | { kind: 'lost'; message: string; approval: Approval }
  | { kind: 'decided'; approval: Approval }
  /** The check before a modal: this member may decide it now. */
  | { kind: 'may_decide'; approval: Approval }

export class SlackDecisions {
  constructor(private readonly deps: SlackDecisionDeps) {}

  /**
   * A button click: Approve decides at once (a modal opens when the rules ask for a reason);
   * Reject checks the member may decide and opens the modal, so the requester learns why.
   * Returns what to tell Slack afterwards (the message update, a private answer, the modal),
   * to run once Slack has had its answer.
   */
  async click(project: Project, botToken: string, click: { user: string; decision: Decision; approvalId: string; message: MessageAt; triggerId: string | null }): Promise<() => Promise<void>> {
    const api = new SlackApi(botToken, this.deps.slackApiUrl)
    const attempt = click.decision === 'reject' ? await this.check(project, click.user, click.approvalId) : await this.decide(project, click.user, click.approvalId, 'approve', null)
    if (attempt.kind === 'needs_reason' || attempt.kind === 'may_decide') {
      if (!click.triggerId) return () => this.tell(api, click.message, click.user, 'Slack sent no trigger to open the reason form; decide on the dashboard.')
      const required = attempt.kind === 'needs_reason'
      const view = reasonModal({ decision: click.decision, approvalId: click.approvalId, action: attempt.approval.action, message: click.message, required, why: required ? attempt.why : null })
      return () => this.quietly('views.open', api.openView(click.triggerId!, view))
    }
    return () => this.show(api, project, click.message, click.user, attempt)
  }

  /** A reason modal's submission: `error` (shown under the reason field) when the decision did not land. */
  async submitReason(project: Project, botToken: string, input: { user: string; decision: Decision; approvalId: string; message: MessageAt | null; reason: string }): Promise<{ error: string | null }> {
    const attempt = await this.decide(project, input.user, input.approvalId, input.decision, input.reason === '' ? null : input.reason)
    if (attempt.kind === 'decided' || attempt.kind === 'lost') {
      if (input.message) void this.show(new SlackApi(botToken, this.deps.slackApiUrl), project, input.message, input.user, attempt)
      return { error: attempt.kind === 'lost' ? attempt.message : null }
    }
    return { error: this.sentence(project, input.user, attempt) }
  }

  /** Whether this Slack user could decide the approval now, without deciding (the Reject path before its modal). */
  private async check(project: Project, slackUser: string, approvalId: string): Promise<Attempt> {
    const member = await this.deps.store.getMemberBySlackUser(project.id, slackUser)
    if (!member) return { kind: 'unlinked' }
    const approval = await this.deps.store.getApproval(project.id, approvalId)
    if (!approval) return { kind: 'not_found' }
    if (approval.status !== 'pending' || Date.parse(approval.expires_at) <= Date.now()) return { kind: 'lost', message: lostRaceMessage(approval), approval }
    const actor = actorOf(member)
    const refusal = selfApproval(project, approval, actor)
    if (refusal) return { kind: 'refused', message: selfApprovalMessage(approval, refusal.login), approval }
    // The rest of the request's policy (eligibility, one vote per person); a reject is allowed outside approval windows.
    const standing = this.deps.approvals.standing(project, approval, actor)
    if (!standing.may && standing.why !== 'outside_window') return { kind: 'refused', message: standing.message, approval }
    // Not decided yet: the modal collects the reason, and the submission decides.
    return { kind: 'may_decide', approval }
  }

  private async decide(project: Project, slackUser: string, approvalId: string, decision: Decision, reason: string | null): Promise<Attempt> {
    const member = await this.deps.store.getMemberBySlackUser(project.id, slackUser)
    if (!member) return { kind: 'unlinked' }
    let outcome
    try {
      outcome = await this.deps.approvals.decide(project, approvalId, { decision, reason, actor: actorOf(member) })
    } catch (error) {
      if (!(error instanceof ApprovalRuleError)) throw error
      const approval = await this.deps.store.getApproval(project.id, approvalId)
      if (!approval) return { kind: 'not_found' }
      return reason === null ? { kind: 'needs_reason', why: error.message, approval } : { kind: 'refused', message: error.message, approval }
    }
    if (!outcome) return { kind: 'not_found' }
    if ('refused' in outcome) return { kind: 'refused', message: refusalMessage(outcome), approval: outcome.approval }
    if (!outcome.changed) return { kind: 'lost', message: lostRaceMessage(outcome.approval), approval: outcome.approval }
    return { kind: 'decided', approval: outcome.approval }
  }

  /** The message updated to the approval's state, and anything but success told to the person alone. */
  private async show(api: SlackApi, project: Project, message: MessageAt, slackUser: string, attempt: Attempt): Promise<void> {
    if (attempt.kind === 'decided' || attempt.kind === 'lost') {
      try {
        const record = await provenWire(this.deps.store, attempt.approval, this.deps.publicUrl)
        const event = record.status === 'pending' ? 'approval.voted' : 'approval.decided'
        await this.quietly('chat.update', api.update(message.channel, message.ts, approvalMessage(record, project, event)))
      } catch (error) {
        this.deps.warn(`slack: not updating the message of ${attempt.approval.id}: ${error instanceof Error ? error.message : String(error)}`)
      }
      if (attempt.kind === 'decided') return
    }
    await this.tell(api, message, slackUser, this.sentence(project, slackUser, attempt))
  }

  /** What to tell a person whose decision did not land (mrkdwn, escaped). */
  private sentence(project: Project, slackUser: string, attempt: Attempt): string {
    switch (attempt.kind) {
      case 'unlinked':
        return (
          `Your Slack user (${slackUser}) is not linked to a member of the project ${slackText(project.name)}, so Approval Gate cannot tell who you are. ` +
          `Sign in at ${escapeMrkdwn(`${this.deps.publicUrl}/account`)} and enter ${slackUser} as your Slack user id for ${slackText(project.name)}, ` +
          `or ask an admin to run: approval-gate user slack --project ${slackText(project.name)} --email YOUR_EMAIL --slack-user ${slackUser}`
        )
      case 'not_found':
        return `This request is not part of the project ${slackText(project.name)}.`
      case 'needs_reason':
        return slackText(attempt.why, 500)
      case 'refused':
      case 'lost':
        return slackText(attempt.message, 500)
      case 'decided':
      case 'may_decide':
        return 'Decided.'
    }
  }

  private async tell(api: SlackApi, message: MessageAt, slackUser: string, text: string): Promise<void> {
    await this.quietly('chat.postEphemeral', api.ephemeral(message.channel, slackUser, { text, blocks: [{ type: 'section', text: mrkdwn(text) }] }))
  }

  /** Follow-up Slack calls happen after Slack has its answer: a failure is logged, never thrown. */
  private async quietly(what: string, call: Promise<void>): Promise<void> {
    try {
      await call
    } catch (error) {
      this.deps.warn(`slack: ${what} failed: ${error instanceof Error ? error.message : String(error)}`)
    }
  }
}

/** Why the service refused: its own sentence when it gives one (policy refusals), else the self-approval rule's. */
function refusalMessage(outcome: { approval: Approval; login?: string }): string {
  const message = (outcome as { message?: unknown }).message
  return typeof message === 'string' ? message : selfApprovalMessage(outcome.approval, outcome.login)
}

/** A member deciding from Slack is the same actor as on the dashboard. */
function actorOf(member: Member): Actor {
  return { label: member.email, githubLogin: member.github_login, email: member.email }
}
