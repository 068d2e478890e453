/** The page shell: head (CSP-friendly: external CSS and script only), top bar, project switcher, notices. */
import { html, type SafeHtml } from '../html.js'
import type { Viewer } from '../session.js'

export type NavSection = 'approvals' | 'audit' | 'settings' | 'none'

export interface Notice {
  kind: 'ok' | 'error' | 'info'
  text: string
  /** Optional trusted fragment after the text (a link, a detail built with `html`). */
  extra?: SafeHtml
}

export interface PageInput {
  title: string
  viewer: Viewer | null
  /** Pending requests of the viewer's project: shown in the tab title and the nav. */
  pending?: number
  section: NavSection
  /** Project whose live events the page follows (`data-stream`), if any. */
  streamProject?: string
  /** `home` adds cards live; `approval` updates one card in place. */
  live?: 'home' | 'approval'
  /** How long a decided card stays on the live home page (`data-linger-ms`); absent: the script's 6 s. */
  resolvedCardLingerMs?: number
  notices?: Notice[]
  /** Wide tables (the audit trail) get more room. */
  wide?: boolean
  main: SafeHtml
}

/** "(3) Approvals · approval-gate" — the count leads so it shows in a narrow tab. */
export function documentTitle(title: string, pending: number | undefined): string {
  return `${pending ? `(${pending}) ` : ''}${title} · approval-gate`
}

export function page(input: PageInput): SafeHtml {
  const { viewer } = input
  const csrf = viewer?.session.csrf_token ?? ''
  return html`<!doctype html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<meta name="referrer" content="same-origin">
<title>${documentTitle(input.title, input.pending)}</title>
<link rel="stylesheet" href="/assets/dashboard.css">
<link rel="icon" href="data:,">
<script type="module" src="/assets/live.js"></script>
</head>
<body data-title="${input.title}" data-pending="${input.pending ?? ''}" data-stream="${input.streamProject ?? ''}" data-live="${input.live ?? ''}"${input.resolvedCardLingerMs === undefined ? '' : html` data-linger-ms="${String(input.resolvedCardLingerMs)}"`}>
<a class="skip-link" href="#main">Skip to content</a>
${viewer ? topBar(input, viewer, csrf) : html`<header class="topbar"><span class="brand">approval-gate</span></header>`}
<main id="main" tabindex="-1"${input.wide ? html` class="wide"` : ''}>
${(input.notices ?? []).map(noticeView)}
${input.main}
</main>
</body>
</html>`
}

function topBar(input: PageInput, viewer: Viewer, csrf: string): SafeHtml {
  const link = (section: NavSection, href: string, label: string, badge?: SafeHtml) =>
    html`<a href="${href}"${input.section === section ? html` aria-current="page"` : ''}>${label}${badge ?? ''}</a>`
  const pendingBadge = html` <span class="count" data-pending-count${input.pending ? '' : html` hidden`}>${String(input.pending ?? 0)}</span>`
  return html`<header class="topbar">
<a class="brand" href="/">approval-gate</a>
<nav aria-label="Main">${link('approvals', '/', 'Approvals', pendingBadge)}${link('audit', '/audit', 'Audit trail')}${link('settings', '/settings', 'Settings')}</nav>
<div class="topbar-end">
${viewer.projects.length > 1 ? projectSwitcher(viewer, csrf) : viewer.project ? html`<span class="project-name" title="Project">${viewer.project.name}</span>` : ''}
<form method="post" action="/logout" class="inline-form">
<input type="hidden" name="_csrf" value="${csrf}">
<a class="who" href="/account" title="Your account: password, sign out everywhere">${viewer.user.email}</a>
<button type="submit" class="btn btn-quiet">Sign out</button>
</form>
</div>
</header>`
}

function projectSwitcher(viewer: Viewer, csrf: string): SafeHtml {
  return html`<form method="post" action="/project" class="inline-form project-switcher" data-autosubmit>
<input type="hidden" name="_csrf" value="${csrf}">
<label for="project-select">Project</label>
<select id="project-select" name="project_id">${viewer.projects.map(
    (p) => html`<option value="${p.id}"${p.id === viewer.project?.id ? html` selected` : ''}>${p.name}</option>`,
  )}</select>
<button type="submit" class="btn btn-quiet">Switch</button>
</form>`
}

export function noticeView(notice: Notice): SafeHtml {
  const role = notice.kind === 'error' ? 'alert' : 'status'
  return html`<div class="notice notice-${notice.kind}" role="${role}">${notice.text}${notice.extra ? html` ${notice.extra}` : ''}</div>`
}
