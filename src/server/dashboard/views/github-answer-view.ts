/**
 * On an approval's page, for a deployment the GitHub App gates: the repository, environment
 * and run it holds, and whether GitHub was answered — waiting, answering, retrying after a
 * failed attempt (and when), answered, or given up. The error text comes from the network and
 * is escaped like every other value.
 */
import { describeGithubAnswer, githubAnswerStatus } from '../../github/answer-status.js'
import type { Approval, GithubGate } from '../../store/types.js'
import { html, type SafeHtml } from '../html.js'
import { breakable, timeTag } from './format.js'

function sentence(gate: GithubGate, approval: Approval): SafeHtml {
  const status = githubAnswerStatus(gate, approval.status)
  switch (status.state) {
    case 'retrying':
      return html`Answering GitHub: attempt ${status.attempts} failed: <span class="github-error">${status.error}</span>, retrying at ${timeTag(status.retryAt)}.`
    case 'failed':
      return status.error === null ? html`GitHub could not be answered.` : html`GitHub could not be answered: <span class="github-error">${status.error}</span>`
    case 'answered':
      return html`GitHub answered ${timeTag(status.at)}.`
    default: {
      const text = describeGithubAnswer(status)
      return html`${text.charAt(0).toUpperCase()}${text.slice(1)}.`
    }
  }
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
