/**
 * An applied policy in words, for people: the CLI's `policy test` and the dashboard both
 * show a rule this way, so they cannot describe the same rule differently.
 */
import { formatDuration } from '../../shared/duration.js'
import type { ApprovalWindow, AppliedPolicy, Requirement } from './types.js'

/** "2 of alice@example.com, bob@example.com" or "1 from any project member". */
export function describeRequirement(requirement: Requirement): string {
  const who = requirement.members === null ? 'any project member (or decide key)' : requirement.members.join(', ')
  return `${requirement.name}: ${requirement.required} of ${who}`
}

/** "mon, tue 09:00–16:00 Europe/Berlin". */
export function describeWindow(window: ApprovalWindow): string {
  return `${window.days.join(', ')} ${window.from}–${window.to} ${window.time_zone}`
}

/** The lines that say what a rule asks, one fact each. */
export function describeAppliedPolicy(applied: AppliedPolicy, maxTimeoutMs: number | null): string[] {
  const reasons = { none: 'not required', approve: 'required to approve', reject: 'required to reject', both: 'required to approve and to reject' } as const
  return [
    `rule: ${applied.rule === 'default' ? 'default (no rule matched)' : JSON.stringify(applied.rule)}${applied.version === null ? ' — the project has no policy' : ` (policy version ${applied.version})`}`,
    `approvals needed: ${applied.requirements.reduce((sum, requirement) => sum + requirement.required, 0)}${applied.requirements.length > 1 ? ' — every requirement below, one person counting once' : ''}`,
    ...applied.requirements.map((requirement) => `  ${describeRequirement(requirement)}`),
    `self-approval: ${applied.block_self_approval ? 'blocked' : 'allowed'}`,
    `reason: ${reasons[applied.require_reason]}`,
    `rejection: ${applied.reject === 'any' ? 'one eligible reject rejects' : 'rejected once rejects, counted like approvals, would meet the rule'}`,
    `longest wait: ${maxTimeoutMs === null ? 'as the request asks (no max_timeout)' : `at most ${formatDuration(maxTimeoutMs)}`}`,
    applied.windows.length === 0 ? 'windows: none (approvals any time)' : `windows: ${applied.windows.map(describeWindow).join('; ')}`,
  ]
}
