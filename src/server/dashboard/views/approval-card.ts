/**
 * One approval as a card: action, status, timing, agent, the workflow that asked (from
 * `context.github`), the context table, the votes and the progress under its policy rule,
 * and — while pending — the Approve/Reject form for a viewer who may vote, or why not.
 * The same markup is sent over the event stream, so live cards match server-rendered ones.
 */
import { MAX_REASON_CHARS } from '../../../contract/index.js'
import type { VoteStanding } from '../../approvals/contracts.js'
import type { Approval, RequesterClaims } from '../../store/types.js'
import { html, type SafeHtml } from '../html.js'
import { contextTable } from './context.js'
import { breakable, safeHttpUrl, sinceTag, statusBadge, timeTag, untilTag } from './format.js'

/** The `context.github` fields a workflow request carries (all optional, all untrusted). */
interface WorkflowInfo {
  repository: string | null
  workflow: string | null
  job: string | null
  runUrl: string | null
  runId: string | null
  runAttempt: string | null
  sha: string | null
  ref: string | null
  actor: string | null
  event: string | null
}

function text(value: unknown): string | null {
  if (typeof value === 'string' && value !== '') return value
  if (typeof value === 'number' && Number.isFinite(value)) return String(value)
  return null
}

/** Reads `context.github` when it is an object; anything else is left to the generic table. */
export function workflowInfo(context: Record<string, unknown>): WorkflowInfo | null {
  const gh = context.github
  if (!gh || typeof gh !== 'object' || Array.isArray(gh)) return null
  const g = gh as Record<string, unknown>
  return {
    repository: text(g.repository),
    workflow: text(g.workflow),
    job: text(g.job),
    runUrl: safeHttpUrl(g.run_url),
    runId: text(g.run_id),
    runAttempt: text(g.run_attempt),
    sha: text(g.sha),
    ref: text(g.ref),
    actor: text(g.actor),
    event: text(g.event),
  }
}

const REPO_NAME = /^[A-Za-z0-9_.-]+\/[A-Za-z0-9_.-]+$/
const COMMIT_SHA = /^[0-9a-f]{7,64}$/i

/** Link to the commit on the same GitHub host as the run, when every part is well-formed. */
function commitUrl(info: WorkflowInfo): string | null {
  if (!info.runUrl || !info.repository || !info.sha) return null
  if (!REPO_NAME.test(info.repository) || !COMMIT_SHA.test(info.sha)) return null
  return `${new URL(info.runUrl).origin}/${info.repository}/commit/${info.sha}`
}

function workflowBlock(info: WorkflowInfo): SafeHtml {
  const commitHref = commitUrl(info)
  const shortSha = info.sha ? info.sha.slice(0, 12) : null
  const runLabel = info.runId ? `Run ${info.runId}${info.runAttempt && info.runAttempt !== '1' ? ` (attempt ${info.runAttempt})` : ''}` : 'Open run'
  const rows: Array<[string, SafeHtml | string | null]> = [
    ['Repository', info.repository],
    ['Workflow', [info.workflow, info.job].filter(Boolean).join(' › ') || null],
    ['Run', info.runUrl ? html`<a href="${info.runUrl}" rel="noopener noreferrer" target="_blank">${runLabel}</a>` : info.runId],
    ['Commit', shortSha ? (commitHref ? html`<a href="${commitHref}" rel="noopener noreferrer" target="_blank"><code>${shortSha}</code></a>` : html`<code>${shortSha}</code>`) : null],
    ['Ref', info.ref],
    ['Triggered by', info.actor],
    ['Event', info.event],
  ]
  const shown = rows.filter(([, value]) => value !== null && value !== '')
  if (shown.length === 0) return html``
  return html`<section class="workflow" aria-label="Workflow run"><h3>Workflow run</h3><dl class="facts">${shown.map(
    ([label, value]) => html`<div><dt>${label}</dt><dd>${value}</dd></div>`,
  )}</dl></section>`
}

const GITHUB_ACTIONS_ISSUER = 'https://token.actions.githubusercontent.com'
/** The issuer of approvals the GitHub App created (`github/deployment-request.ts`). */
const GITHUB_APP_ISSUER = 'github-app'

/**
 * Who asked, as the workflow's OIDC token proved it (not the free context): a "verified by
 * GitHub" mark for GitHub's issuer, else the issuer's host.
 */
function verifiedBlock(claims: RequesterClaims): SafeHtml {
  let by = claims.issuer
  try {
    by = claims.issuer === GITHUB_ACTIONS_ISSUER || claims.issuer === GITHUB_APP_ISSUER ? 'GitHub' : new URL(claims.issuer).host
  } catch {
    // shown as stored
  }
  const how = claims.issuer === GITHUB_APP_ISSUER ? 'from a deployment request GitHub signed (GitHub App)' : `from an OIDC token signed by ${claims.issuer}`
  const run = claims.run_id ? `${claims.run_id}${claims.run_attempt && claims.run_attempt !== '1' ? ` (attempt ${claims.run_attempt})` : ''}` : null
  const rows: Array<[string, SafeHtml | string | null]> = [
    ['Repository', claims.repository],
    ['Ref', claims.ref],
    ['Commit', claims.sha ? html`<code>${claims.sha.slice(0, 12)}</code>` : null],
    ['Workflow', claims.workflow_ref],
    ['Run', run],
    ['Actor', claims.actor],
    ['Triggered by', claims.triggering_actor],
    ['Environment', claims.environment],
    ['Event', claims.event_name],
  ]
  const shown = rows.filter(([, value]) => value !== null && value !== '')
  return html`<section class="workflow verified" aria-label="Verified requester"><h3>Verified requester <span class="verified-mark" title="${how}">✓ verified by ${by}</span></h3><dl class="facts">${shown.map(
    ([label, value]) => html`<div${typeof value === 'string' && value.length > WIDE_NAME_CHARS ? html` class="fact-wide"` : ''}><dt>${label}</dt><dd>${typeof value === 'string' ? breakable(value) : value}</dd></div>`,
  )}</dl></section>`
}

export interface CardOptions {
  csrfToken: string
  /** Heading level 2 on the list page, 1 on the approval's own page. */
  standalone?: boolean
  now?: number
  /** Whether the viewer may vote; without it the form is drawn (the page script then asks nothing more). */
  standing?: VoteStanding
}

/** What the rule asks of the reason field. */
const REASON_HINTS: Record<NonNullable<Approval['applied_policy']>['require_reason'], string> = { none: 'optional', approve: 'required to approve', reject: 'required to reject', both: 'required' }

/** The decision form; works as a plain POST without the script. */
function decisionForm(approval: Approval, csrfToken: string): SafeHtml {
  const reasonId = `reason-${approval.id}`
  return html`<form class="decide" method="post" action="/approvals/${approval.id}/decision" data-decide>
<input type="hidden" name="_csrf" value="${csrfToken}">
<label for="${reasonId}">Reason <span class="muted">(${REASON_HINTS[approval.applied_policy?.require_reason ?? 'none']}, shown to the requester)</span></label>
<textarea id="${reasonId}" name="reason" rows="2" maxlength="${MAX_REASON_CHARS}"></textarea>
<div class="buttons">
<button type="submit" name="decision" value="approve" class="btn btn-approve">Approve</button>
<button type="submit" name="decision" value="reject" class="btn btn-reject">Reject</button>
</div>
<p class="decide-status" role="status" aria-live="polite"></p>
</form>`
}

/** Names listed under "May still approve" before "and N more". */
const MAY_STILL_SHOWN = 6

/** Where a policy's requirements stand: "1 of 2 — sre ✓, security waiting" (nothing for the seed's one-approval rule). */
export function progressLine(approval: Approval): SafeHtml {
  const applied = approval.applied_policy
  if (!applied || approval.status !== 'pending') return html``
  const approvals = (approval.votes ?? []).filter((vote) => vote.decision === 'approve')
  const parts = applied.requirements.map((requirement) => {
    const have = approvals.filter((vote) => vote.groups.includes(requirement.name)).length
    return { name: requirement.name, have: Math.min(have, requirement.required), required: requirement.required }
  })
  const have = parts.reduce((sum, part) => sum + part.have, 0)
  const required = parts.reduce((sum, part) => sum + part.required, 0)
  const detail =
    parts.length > 1 || parts[0]?.name !== 'approvers'
      ? ` — ${parts.map((part) => (part.have >= part.required ? `${part.name} ✓` : part.have === 0 ? `${part.name} waiting` : `${part.name} ${part.have} of ${part.required}`)).join(', ')}`
      : ''
  const voted = new Set((approval.votes ?? []).map((vote) => vote.by.toLowerCase()))
  const stillMay = [...new Set(applied.requirements.filter((requirement, index) => parts[index].have < requirement.required).flatMap((requirement) => requirement.members ?? []))].filter(
    (member) => !voted.has(member),
  )
  return html`<p class="progress" data-progress>${`${have} of ${required}${detail}`} <span class="muted">(rule “${applied.rule}”)</span></p>${
    stillMay.length > 0 ? html`<p class="may-still muted" data-may-still>May still approve: ${stillMay.slice(0, MAY_STILL_SHOWN).join(', ')}${stillMay.length > MAY_STILL_SHOWN ? ` and ${stillMay.length - MAY_STILL_SHOWN} more` : ''}</p>` : ''
  }`
}

/** Who has voted so far, and toward which requirement. */
function votesList(approval: Approval): SafeHtml {
  const votes = approval.votes ?? []
  if (votes.length === 0 || (!approval.applied_policy && approval.status !== 'pending')) return html``
  return html`<section class="votes" aria-label="Votes"><h3>Votes</h3><ul>${votes.map(
    (vote) =>
      html`<li data-vote="${vote.decision}"><strong>${breakable(vote.by)}</strong> ${vote.decision === 'approve' ? 'approved' : 'rejected'}${vote.groups.length > 0 ? ` (${vote.groups.join(', ')})` : ''} ${timeTag(vote.at)}${
        vote.reason ? html` <span class="outcome-reason">Reason: ${vote.reason}</span>` : ''
      }</li>`,
  )}</ul></section>`
}

/** The form for a viewer who may vote, else why they may not ("you requested this run"). */
function voteControls(approval: Approval, options: CardOptions): SafeHtml {
  const standing = options.standing
  if (!standing || standing.may) return decisionForm(approval, options.csrfToken)
  return html`<p class="vote-blocked muted" data-why="${standing.why}">You cannot vote: ${standing.message}.</p>`
}

/** How it ended: who decided (or withdrew) it, when, and why. */
export function outcomeLine(approval: Approval): SafeHtml {
  const by = approval.decided_by ?? 'unknown'
  const verb: Record<string, string> = {
    approved: 'Approved by',
    rejected: 'Rejected by',
    cancelled: 'Cancelled by',
    expired: 'Expired without a decision',
  }
  const who = approval.status === 'expired' ? html`` : html` <strong>${by}</strong>`
  return html`<p class="outcome outcome-${approval.status}">${verb[approval.status] ?? approval.status}${who} ${timeTag(approval.decided_at)}${
    approval.reason ? html`<span class="outcome-reason">Reason: ${approval.reason}</span>` : ''
  }</p>`
}

/** Names longer than this take a whole row of the facts grid, so they wrap between their parts, not letter by letter. */
const WIDE_NAME_CHARS = 22

function nameFact(label: string, name: string | null): SafeHtml {
  const wide = name !== null && name.length > WIDE_NAME_CHARS
  return html`<div${wide ? html` class="fact-wide"` : ''}><dt>${label}</dt><dd>${name === null ? html`<span class="muted">not given</span>` : breakable(name)}</dd></div>`
}

export function approvalCard(approval: Approval, options: CardOptions): SafeHtml {
  const now = options.now ?? Date.now()
  const info = workflowInfo(approval.context)
  const titleId = `title-${approval.id}`
  const heading = options.standalone
    ? html`<h1 id="${titleId}" class="card-title">${breakable(approval.action)}</h1>`
    : html`<h2 id="${titleId}" class="card-title"><a href="/approvals/${approval.id}">${breakable(approval.action)}</a></h2>`
  const pending = approval.status === 'pending'
  return html`<article class="card card-${approval.status}" id="card-${approval.id}" data-approval-id="${approval.id}" data-status="${approval.status}" aria-labelledby="${titleId}">
<header class="card-head">${heading}${statusBadge(approval.status)}</header>
<dl class="facts facts-inline">
<div><dt>Requested</dt><dd>${timeTag(approval.created_at)}</dd></div>
${pending ? html`<div><dt>Pending for</dt><dd>${sinceTag(approval.created_at, now)}</dd></div>` : ''}
${pending ? html`<div><dt>Expires</dt><dd>${untilTag(approval.expires_at, now)}</dd></div>` : ''}
${nameFact('Agent', approval.agent)}
${nameFact('Requested by', approval.requested_by)}
</dl>
${approval.requester_claims ? verifiedBlock(approval.requester_claims) : ''}
${info ? workflowBlock(info) : ''}
<section class="context" aria-label="Context"><h3>Context</h3>${contextTable(approval.context, info ? new Set(['github']) : new Set())}</section>
${progressLine(approval)}
${votesList(approval)}
${pending ? voteControls(approval, options) : outcomeLine(approval)}
<p class="card-id muted">ID <code>${approval.id}</code></p>
</article>`
}
