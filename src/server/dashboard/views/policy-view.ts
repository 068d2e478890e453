/**
 * The policy page (Settings → Policy): the current document, the editor for admins with a
 * refused document's errors shown at their lines, the history of versions, one version with
 * its diff against the one before, and the confirmation of removing the policy.
 */
import { MAX_POLICY_BYTES, type PolicyError, type PolicyVersion } from '../../policies/index.js'
import { lineDiff } from '../../../shared/line-diff.js'
import { html, type SafeHtml } from '../html.js'
import { timeTag } from './format.js'
import { confirmPage, csrfField, settingsTabs } from './settings-view.js'

/** What a new document starts from: the seed rule written out, with a commented example. */
export const STARTER_POLICY = `# Who may approve what, and how many must. See docs/policies.md.
groups:
  sre: [alice@example.com, bob@example.com]
rules:
  - name: production deploys
    match:
      action: "deploy-prod*"
    approvers: { required: 2, groups: [sre] }
default:
  approvers: { required: 1 }
`

export interface PolicyPageInput {
  current: PolicyVersion | null
  /** Newest first. */
  versions: PolicyVersion[]
  isAdmin: boolean
  csrf: string
  /** A refused document, shown again with its errors. */
  refused?: { source: string; errors: readonly PolicyError[] }
}

export function policyPage(input: PolicyPageInput): SafeHtml {
  return html`${settingsTabs('policy')}
${currentSection(input)}
${input.refused ? refusedSection(input.refused) : ''}
${input.isAdmin ? editorSection(input) : ''}
${historySection(input.versions)}`
}

function currentSection(input: PolicyPageInput): SafeHtml {
  const { current } = input
  if (!current) {
    return html`<section class="panel" aria-labelledby="policy-title"><h2 id="policy-title">Approval policy</h2>
<p>This project has no policy: <strong>any one member</strong> (or a decide key) approves or rejects any request.</p></section>`
  }
  return html`<section class="panel" aria-labelledby="policy-title"><h2 id="policy-title">Approval policy</h2>
<dl class="facts">
<div><dt>Version</dt><dd>${String(current.version)}</dd></div>
<div><dt>Set by</dt><dd>${current.created_by}</dd></div>
<div><dt>Set</dt><dd>${timeTag(current.created_at)}</dd></div>
<div><dt>sha256</dt><dd><code class="hash">${current.hash}</code></dd></div>
</dl>
${input.isAdmin ? html`<p><a class="btn btn-danger" href="/settings/policy/clear">Remove the policy</a></p>` : html`<pre class="policy-source" aria-label="Policy document">${current.source}</pre><p class="muted">Only project admins can change the policy.</p>`}
</section>`
}

/** The errors of a refused document, listed and then shown at their lines in the document itself. */
function refusedSection(refused: { source: string; errors: readonly PolicyError[] }): SafeHtml {
  const byLine = new Map<number, PolicyError[]>()
  for (const error of refused.errors) if (error.line !== null) byLine.set(error.line, [...(byLine.get(error.line) ?? []), error])
  const lines = refused.source.split(/\r?\n/)
  const shown = refused.errors.some((error) => error.line !== null) && lines.length <= 5_000
  return html`<section class="panel" aria-labelledby="policy-errors-title">
<div class="notice notice-error" role="alert" id="policy-errors-title">The policy was not saved: ${String(refused.errors.length)} ${refused.errors.length === 1 ? 'error' : 'errors'}. Nothing was changed.</div>
<ol class="policy-errors">${refused.errors.map(
    (error) =>
      html`<li>${error.line === null ? '' : html`<a href="#policy-line-${String(error.line)}">Line ${String(error.line)}</a> · `}<code>${error.path}</code>: ${error.message}</li>`,
  )}</ol>
${shown
    ? html`<ol class="policy-listing" aria-label="The refused document, with its errors">${lines.map((text, index) => {
        const errors = byLine.get(index + 1) ?? []
        return html`<li id="policy-line-${String(index + 1)}"${errors.length > 0 ? html` class="policy-line-error"` : ''}><code>${text}</code>${errors.map((error) => html`<span class="policy-line-message">${error.path}: ${error.message}</span>`)}</li>`
      })}</ol>`
    : ''}
</section>`
}

function editorSection(input: PolicyPageInput): SafeHtml {
  const source = input.refused?.source ?? input.current?.source ?? STARTER_POLICY
  return html`<section class="panel" aria-labelledby="policy-editor-title"><h2 id="policy-editor-title">${input.current ? 'Edit the policy' : 'Set a policy'}</h2>
<form method="post" action="/settings/policy" class="stack">
${csrfField(input.csrf)}
<label for="policy-source">Policy document <span class="muted">(YAML or JSON, at most ${String(MAX_POLICY_BYTES / 1024)} KiB; checked whole before it is saved)</span></label>
<textarea id="policy-source" name="source" class="policy-editor" rows="24" spellcheck="false" autocomplete="off" required>${source}</textarea>
<button type="submit" class="btn btn-primary">Validate and save</button>
</form>
<p class="muted">A saved version applies to requests created from then on; waiting requests keep the rule they were created under.</p>
</section>`
}

function historySection(versions: readonly PolicyVersion[]): SafeHtml {
  if (versions.length === 0) return html``
  return html`<section class="panel" aria-labelledby="policy-history-title"><h2 id="policy-history-title">History</h2>
<table class="table"><thead><tr><th scope="col">Version</th><th scope="col">Set by</th><th scope="col">When</th><th scope="col">Change</th></tr></thead>
<tbody>${versions.map(
    (version) => html`<tr><td class="row-title"><a href="/settings/policy/versions/${String(version.version)}">Version ${String(version.version)}</a></td>
<td>${version.created_by}</td><td>${timeTag(version.created_at)}</td>
<td>${version.cleared ? 'Removed the policy' : html`<code class="hash">${version.hash.slice(0, 12)}…</code>`}</td></tr>`,
  )}</tbody></table></section>`
}

/** One version: its document and what changed from the version before it. */
export function policyVersionPage(input: { version: PolicyVersion; previous: PolicyVersion | null }): SafeHtml {
  const { version, previous } = input
  const diff = lineDiff(previous?.source ?? '', version.source)
  const marks = { same: ' ', removed: '-', added: '+' } as const
  return html`${settingsTabs('policy')}
<section class="panel" aria-labelledby="version-title"><h2 id="version-title">Policy version ${String(version.version)}</h2>
<dl class="facts">
<div><dt>Set by</dt><dd>${version.created_by}</dd></div>
<div><dt>Set</dt><dd>${timeTag(version.created_at)}</dd></div>
<div><dt>sha256</dt><dd>${version.cleared ? html`<span class="muted">— (removed the policy)</span>` : html`<code class="hash">${version.hash}</code>`}</dd></div>
</dl>
<h3>Changes from ${previous ? `version ${previous.version}${previous.cleared ? ' (no policy)' : ''}` : 'no policy'}</h3>
<pre class="policy-diff" aria-label="Changes">${diff.map((line) => html`<span class="diff-${line.kind}">${marks[line.kind]} ${line.text}\n</span>`)}</pre>
<p><a href="/settings/policy">Back to the policy</a></p>
</section>`
}

export function clearPolicyConfirm(input: { projectName: string; version: number; csrf: string }): SafeHtml {
  return confirmPage({
    tab: 'policy',
    title: `Remove the approval policy of ${input.projectName}?`,
    consequences: html`<p>From now on <strong>any one member</strong> (or a decide key) approves or rejects new requests. Requests already waiting keep the rule they were created under.</p>
<p class="muted">Version ${String(input.version)} stays in the history and the audit trail; you can set it again.</p>`,
    action: '/settings/policy/clear',
    button: 'Remove the policy',
    cancel: '/settings/policy',
    csrf: input.csrf,
  })
}
