/**
 * Who an email channel that names no addresses writes to about one approval: the project's
 * members who may decide it under the policy applied to it — judged by the same functions the
 * approval service uses for a vote (the engine's `eligibility`, the self-approval rule), so
 * a mail never goes to someone whose vote would be refused. Approval windows do not narrow it:
 * a member outside a window may still reject, and approve once it opens.
 */
import { appliedPolicyOf, voterEmail } from '../approvals/vote-rules.js'
import { isSelfApproval } from '../approvals/approval-service.js'
import { eligibility } from '../policies/index.js'
import type { Actor } from '../approvals/contracts.js'
import type { Approval, Member, Project, Store } from '../store/types.js'
import type { NotificationEventType } from './types.js'

/** Events that ask for a vote again: whoever already voted has nothing left to do. */
const ASKS_AGAIN: ReadonlySet<NotificationEventType> = new Set(['approval.reminder', 'approval.escalated'])

/**
 * The addresses of the members who may vote on `approvalId`: eligible under its applied policy,
 * not the requester when self-approval is blocked, and — for reminders and escalations — not
 * those who already voted. An approval that does not exist (a test notification) goes to
 * every member.
 */
export async function membersWhoMayDecide(
  store: Pick<Store, 'listMembers' | 'getProject' | 'getApproval'>,
  projectId: string,
  approvalId: string,
  type: NotificationEventType,
): Promise<string[]> {
  const [members, project, approval] = await Promise.all([store.listMembers(projectId), store.getProject(projectId), store.getApproval(projectId, approvalId)])
  if (!project || !approval) return members.map((member) => member.email)
  const voted = new Set((approval.votes ?? []).map((vote) => vote.by.toLowerCase()))
  return members
    .filter((member) => mayDecide(project, approval, member))
    .filter((member) => !ASKS_AGAIN.has(type) || !voted.has(member.email.toLowerCase()))
    .map((member) => member.email)
}

function mayDecide(project: Project, approval: Approval, member: Member): boolean {
  // The member as the approval service sees them when they vote from the dashboard.
  const actor: Actor = { label: member.email, email: member.email, githubLogin: member.github_login }
  if (!eligibility(appliedPolicyOf(project, approval), { by: actor.label, email: voterEmail(actor) }).eligible) return false
  return !isSelfApproval(project, approval, actor)
}
