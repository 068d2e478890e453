/** The Approvals home (pending cards, or how to send a first request) and one approval's page. */
import type { Approval, GithubGate } from '../../store/types.js'
import { html, type SafeHtml } from '../html.js'
import type { VoteStanding } from '../../approvals/contracts.js'
import { approvalCard } from './approval-card.js'
import { githubAnswerSection } from './github-answer-view.js'

export function emptyState(publicUrl: string, hidden: boolean): SafeHtml {
  const base = publicUrl.replace(/\/+$/, '')
  const curl = `curl -X POST ${base}/v1/approvals \\
  -H "Authorization: Bearer $APPROVAL_GATE_API_KEY" \\
  -H "Content-Type: application/json" \\
  -d '{"action":"production_deploy","context":{"service":"auth-api","version":"2.3.1"}}'`
  const cli = `APPROVAL_GATE_API_URL=${base} APPROVAL_GATE_API_KEY=… \\
  npx approval-gate request production_deploy --context '{"service":"auth-api"}' --timeout 10m`
  return html`<section class="empty" data-empty${hidden ? html` hidden` : ''} aria-labelledby="empty-title">
<h2 id="empty-title">Nothing is waiting for a decision</h2>
<p>When a workflow or a script asks for approval, its request appears here at once — no reload needed.</p>
<p>Send a first request with an API key of this project (create one under <a href="/settings/keys">Settings → API keys</a>):</p>
<pre class="code"><code>${curl}</code></pre>
<p>or from any CI job with the CLI:</p>
<pre class="code"><code>${cli}</code></pre>
<p>In GitHub Actions, use the <code>approval-gate</code> action with <code>api-url: ${base}</code>.</p>
</section>`
}

export function approvalsHome(input: { approvals: Approval[]; csrfToken: string; publicUrl: string; nextCursor: string | null; standingOf?: (approval: Approval) => VoteStanding }): SafeHtml {
  const { approvals } = input
  return html`<div class="page-head"><h1>Approvals</h1><p class="muted">Requests waiting for a decision, newest first.</p></div>
<div class="cards" data-cards aria-live="off">
${approvals.map((approval) => approvalCard(approval, { csrfToken: input.csrfToken, standing: input.standingOf?.(approval) }))}
</div>
${emptyState(input.publicUrl, approvals.length > 0)}
${input.nextCursor ? html`<p class="pager"><a href="/?cursor=${encodeURIComponent(input.nextCursor)}">Older pending requests →</a></p>` : ''}`
}

/**
 * One approval's page; for a deployment the GitHub App gates, how its answer to GitHub stands,
 * beside the card (live updates replace the card only, so it is not lost when they arrive).
 */
export function approvalPage(approval: Approval, csrfToken: string, standing?: VoteStanding, githubGate?: GithubGate | null): SafeHtml {
  return html`<p class="crumbs"><a href="/">← All pending approvals</a></p>
<div class="cards cards-single" data-cards>${approvalCard(approval, { csrfToken, standalone: true, standing })}</div>
${githubGate ? githubAnswerSection(githubGate, approval) : ''}`
}
