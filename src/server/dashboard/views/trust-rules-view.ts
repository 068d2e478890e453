/** Settings → Trust rules: which workflow identities (verified OIDC tokens) may request approvals, for admins. */
import { GITHUB_ACTIONS_ISSUER } from '../../../contract/issuers.js'
import { describeTrustRule } from '../../admin/rules.js'
import type { TrustRule } from '../../store/types.js'
import { html, type SafeHtml } from '../html.js'
import { timeTag } from './format.js'
import { cellLabel, confirmPage, csrfField, settingsTabs } from './settings-view.js'

/** What the add form held when it was refused, so nothing typed is lost. */
export type TrustRuleForm = Partial<Record<'issuer' | 'audience' | 'repository' | 'ref' | 'environment' | 'workflow_ref', string>>

const any = html`<span class="muted">any</span>`

export function trustRulesPage(input: { rules: TrustRule[]; csrf: string; form?: TrustRuleForm; audienceHint: string }): SafeHtml {
  const form = input.form ?? {}
  return html`${settingsTabs('trust')}
<section class="panel" aria-labelledby="trust-title">
<h2 id="trust-title">Trust rules</h2>
<p class="muted">A workflow whose OIDC token is verified and matches a rule may ask for approvals without a stored key (the <code>request</code> scope: it can never decide). Removing a rule refuses its workflows from their next request.</p>
${input.rules.length === 0
    ? html`<p class="empty-small">No trust rules: workflows need an API key.</p>`
    : html`<div class="table-wrap"><table class="trust-rules settings-table">
<thead><tr><th scope="col">Repository</th><th scope="col">Ref</th><th scope="col">Environment</th><th scope="col">Workflow</th><th scope="col">Issuer and audience</th><th scope="col">Created</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${input.rules.map(
        (r) => html`<tr><td class="row-title"><code>${r.repository}</code></td><td>${cellLabel('Ref')}${r.ref ?? any}</td><td>${cellLabel('Environment')}${r.environment ?? any}</td><td>${cellLabel('Workflow')}${r.workflow_ref ?? any}</td><td>${cellLabel('Issuer and audience')}${r.issuer}<br><span class="muted">${r.audience}</span></td><td>${cellLabel('Created')}${timeTag(r.created_at)}</td>
<td class="row-actions"><a class="btn btn-danger" href="/settings/trust/${r.id}/remove" aria-label="Remove trust rule for ${r.repository}">Remove</a></td></tr>`,
      )}</tbody></table></div>`}
</section>
<section class="panel" aria-labelledby="addtrust-title">
<h2 id="addtrust-title">Add a trust rule</h2>
<form method="post" action="/settings/trust" class="stack">
${csrfField(input.csrf)}
<label for="trust-repository">Repository <span class="muted">(owner/repo)</span></label>
<input id="trust-repository" name="repository" type="text" required maxlength="500" placeholder="acme/web" value="${form.repository ?? ''}">
<label for="trust-audience">Audience <span class="muted">(the action's oidc-audience; by default your API URL's origin)</span></label>
<input id="trust-audience" name="audience" type="text" required maxlength="500" value="${form.audience ?? input.audienceHint}">
<label for="trust-issuer">Issuer</label>
<input id="trust-issuer" name="issuer" type="text" maxlength="500" value="${form.issuer ?? GITHUB_ACTIONS_ISSUER}">
<label for="trust-ref">Only this ref <span class="muted">(optional, e.g. refs/heads/main)</span></label>
<input id="trust-ref" name="ref" type="text" maxlength="500" value="${form.ref ?? ''}">
<label for="trust-environment">Only this environment <span class="muted">(optional)</span></label>
<input id="trust-environment" name="environment" type="text" maxlength="500" value="${form.environment ?? ''}">
<label for="trust-workflow">Only this workflow <span class="muted">(optional, owner/repo/.github/workflows/deploy.yml@refs/heads/main)</span></label>
<input id="trust-workflow" name="workflow_ref" type="text" maxlength="500" value="${form.workflow_ref ?? ''}">
<button type="submit" class="btn btn-primary">Add trust rule</button>
</form>
</section>`
}

export function removeTrustRuleConfirm(input: { rule: TrustRule; csrf: string }): SafeHtml {
  return confirmPage({
    tab: 'trust',
    title: `Remove the trust rule for ${input.rule.repository}?`,
    consequences: html`<p>${describeTrustRule(input.rule)}.</p><p>Workflows it lets in are refused (<code>401 oidc_untrusted</code>) from their next request, unless another rule matches them.</p>`,
    action: `/settings/trust/${input.rule.id}/remove`,
    button: 'Remove trust rule',
    cancel: '/settings/trust',
    csrf: input.csrf,
  })
}
