/** Settings → GitHub: which repositories' deployments this project gates through the GitHub App (admins map and unmap). */
import { describeGithubMapping } from '../../admin/github-mappings.js'
import type { GithubMapping } from '../../store/types.js'
import { html, type SafeHtml } from '../html.js'
import { timeTag } from './format.js'
import { ADMIN_ONLY, cellLabel, confirmPage, csrfField, settingsTabs } from './settings-view.js'

/** What the add form echoes after a refusal. */
export interface GithubMappingForm {
  repository: string
  environment: string
  installation: string
}

export function githubSettingsPage(input: { mappings: GithubMapping[]; isAdmin: boolean; csrf: string; webhookUrl: string; form?: GithubMappingForm }): SafeHtml {
  const form = input.form ?? { repository: '', environment: '', installation: '' }
  return html`${settingsTabs('github')}
<section class="panel" aria-labelledby="github-title">
<h2 id="github-title">GitHub deployments</h2>
<p class="muted">With the approval-gate GitHub App installed and required on an environment, a deployment waiting on it becomes a request here (action <code>deploy:ENVIRONMENT</code>) and proceeds when it is approved — no runner waits meanwhile. The App's webhook URL is <code>${input.webhookUrl}</code>.</p>
${input.mappings.length === 0
    ? html`<p class="empty-small">No repositories are mapped to this project.</p>`
    : html`<div class="table-wrap"><table class="settings-table">
<thead><tr><th scope="col">Repository</th><th scope="col">Environment</th><th scope="col">Installation</th><th scope="col">Mapped</th><th scope="col"><span class="visually-hidden">Actions</span></th></tr></thead>
<tbody>${input.mappings.map(
        (m) => html`<tr><td class="row-title">${m.repository}</td><td>${cellLabel('Environment')}${m.environment ?? html`<span class="muted">every</span>`}</td><td>${cellLabel('Installation')}${m.installation_id ?? html`<span class="muted">any</span>`}</td><td>${cellLabel('Mapped')}${timeTag(m.created_at)}</td>
<td class="row-actions">${input.isAdmin ? html`<a class="btn btn-danger" href="/settings/github/${m.id}/unmap" aria-label="Unmap ${m.repository}">Unmap</a>` : ''}</td></tr>`,
      )}</tbody></table></div>`}
</section>
${input.isAdmin
    ? html`<section class="panel" aria-labelledby="github-map-title">
<h2 id="github-map-title">Map a repository</h2>
<form method="post" action="/settings/github" class="stack">
${csrfField(input.csrf)}
<label for="github-repository">Repository <span class="muted">(owner/repo)</span></label>
<input id="github-repository" name="repository" type="text" required maxlength="201" placeholder="acme/web" value="${form.repository}">
<label for="github-environment">Environment <span class="muted">(empty: every environment of the repository)</span></label>
<input id="github-environment" name="environment" type="text" maxlength="255" placeholder="production" value="${form.environment}">
<label for="github-installation">Installation id <span class="muted">(empty: any installation of the App)</span></label>
<input id="github-installation" name="installation" type="text" inputmode="numeric" maxlength="20" value="${form.installation}">
<button type="submit" class="btn btn-primary">Map repository</button>
</form>
</section>`
    : html`<section class="panel">${ADMIN_ONLY}</section>`}`
}

export function unmapGithubConfirm(input: { mapping: GithubMapping; csrf: string }): SafeHtml {
  return confirmPage({
    tab: 'github',
    title: `Unmap ${input.mapping.repository}?`,
    consequences: html`<p>${describeGithubMapping(input.mapping)}: new deployments waiting on its environments will create no request here, and GitHub keeps them waiting until another rule answers. Requests already created still answer GitHub when decided.</p>`,
    action: `/settings/github/${input.mapping.id}/unmap`,
    button: 'Unmap repository',
    cancel: '/settings/github',
    csrf: input.csrf,
  })
}
