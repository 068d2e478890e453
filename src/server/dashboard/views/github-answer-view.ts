/**
 * On an approval's page, for a deployment the GitHub App gates: the repository, environment
 * and run it holds, and whether GitHub was answered — waiting, answering, retrying after a
 * failed attempt (and when), answered, or given up. The error text comes from the network and
 * is escaped like every other value.
 */
import { githubAnswerParts, githubAnswerStatus } from '../../github/answer-status.js'
import type { Approval, GithubGate } from '../../store/types.js'
import { html, type SafeHtml } from '../html.js'
import { breakable, timeTag } from './format.js'

/** The shared wording (`githubAnswerParts`) as a sentence: the error in its own span, times as `<time>`. */
function sentence(gate: GithubGate, approval: Approval): SafeHtml {
  const parts = githubAnswerParts(githubAnswerStatus(gate, approval.status))
  const marked = parts.map((part, i) => {
    if (typeof part !== 'string') return 'error' in part ? html`<span class="github-error">${part.error}</span>` : timeTag(part.time)
    return html`${i === 0 ? part.charAt(0).toUpperCase() + part.slice(1) : part}`
  })
  // No full stop after an error: it is someone else's text and may end with anything.
  const last = parts.at(-1)
  return html`${marked}${typeof last === 'object' && 'error' in last ? '' : '.'}`
}

export function githubAnswerSection(gate: GithubGate, approval: Approval): SafeHtml {
  const state = githubAnswerStatus(gate, approval.status).state
  return html`<section class="workflow github-answer github-answer-${state}" aria-label="Answer to GitHub" data-github-answer="${state}">
<h3>GitHub deployment</h3>
<p class="github-answer-status" role="status">${sentence(gate, approval)}</p>
<dl class="facts">
<div><dt>Repository</dt><dd>${breakable(gate.repository)}</dd></div>
<div><dt>Environment</dt><dd>${breakable(gate.environment)}</dd></div>
<div><dt>Run</dt><dd>${gate.run_id}</dd></div>
<div><dt>Attempts</dt><dd>${gate.attempts}</dd></div>
</dl>
</section>`
}
