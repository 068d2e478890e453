/** Unit tests of the dashboard's escaping template, context rendering, card and audit views, URL/next-path guards and login limiter. */
import { describe, expect, it } from '@jest/globals'
import { escapeHtml, html, raw } from '../../src/server/dashboard/html.js'
import { LoginLimiter } from '../../src/server/dashboard/rate-limit.js'
import { safeNextPath } from '../../src/server/dashboard/session.js'
import { linkableUrl } from '../../src/shared/links.js'
import type { Approval, AuditEvent } from '../../src/server/store/types.js'
import { approvalCard } from '../../src/server/dashboard/views/approval-card.js'
import { pendingApproval } from '../helpers/approval-record.js'
import { emptyState } from '../../src/server/dashboard/views/approvals-view.js'
import { auditPage, type AuditFilterForm } from '../../src/server/dashboard/views/audit-view.js'
import { contextTable } from '../../src/server/dashboard/views/context.js'
import { breakable, safeHttpUrl } from '../../src/server/dashboard/views/format.js'
import { documentTitle } from '../../src/server/dashboard/views/layout.js'
import { readAuditFilters } from '../../src/server/dashboard/routes/audit-pages.js'

describe('html', () => {
  it('escapes every interpolation, keeps nested fragments, and only raw() is trusted', () => {
    const evil = `<img src=x onerror="alert('1')">\`&`
    expect(escapeHtml(evil)).toBe('&lt;img src=x onerror=&quot;alert(&#39;1&#39;)&quot;&gt;&#96;&amp;')
    expect(html`<p title="${evil}">${evil}</p>`.value).toBe(`<p title="${escapeHtml(evil)}">${escapeHtml(evil)}</p>`)
    expect(html`<ul>${['<a>', html`<li>${'<b>'}</li>`]}</ul>`.value).toBe('<ul>&lt;a&gt;<li>&lt;b&gt;</li></ul>')
    expect(html`${null}${undefined}${false}${0}`.value).toBe('0')
    expect(html`${raw('<hr>')}`.value).toBe('<hr>')
  })
})

describe('context table', () => {
  it('renders nested values as tables and lists, folds long text, and escapes keys and values', () => {
    const out = contextTable({
      '<k>': '<v>',
      nested: { a: 1, b: [true, null, 'x'] },
      long: 'y'.repeat(500),
      lines: 'a\nb\nc\nd\ne',
      deep: { a: { b: { c: { d: { e: 1 } } } } },
    }).value
    expect(out).toContain('<th scope="row">&lt;k&gt;</th><td><span class="v-text">&lt;v&gt;</span></td>')
    expect(out).toContain('class="kv kv-nested"')
    expect(out).toContain('<ul class="v-list"><li><code class="v-scalar">true</code></li><li><code class="v-null">null</code></li>')
    expect(out.match(/<details class="fold">/g)?.length).toBe(3) // long, lines, deep
    expect(out).toContain('(500 characters)')
    expect(out).not.toContain('<v>')
  })

  it('shows arrays as bulleted lists, nested arrays and objects as groups, never numbered from 0', () => {
    const out = contextTable({ numbers: [1, 2, 3], matrix: [[1, 2], [3, [4, 5]]], objects: [{ a: 1 }], empty: [] }).value
    expect(out).not.toContain('<ol')
    expect(out).not.toContain('start=')
    expect(out).toContain('<ul class="v-list"><li><code class="v-scalar">1</code></li><li><code class="v-scalar">2</code></li><li><code class="v-scalar">3</code></li></ul>')
    expect(out).toContain(
      '<ul class="v-list"><li class="v-group"><ul class="v-list"><li><code class="v-scalar">1</code></li><li><code class="v-scalar">2</code></li></ul></li><li class="v-group"><ul class="v-list"><li><code class="v-scalar">3</code></li><li class="v-group"><ul class="v-list">',
    )
    expect(out).toContain('<li class="v-group"><table class="kv kv-nested">')
    expect(out).toContain('<code class="v-null">[]</code>')
  })

  it('links whole http(s) URL values, with the URL as the text, and leaves every other scheme as text', () => {
    const out = contextTable({
      pr: 'https://github.com/acme/auth-api/pull/7',
      js: 'javascript:alert(1)',
      js_upper: 'JaVaScRiPt:alert(1)',
      js_padded: ' javascript:alert(1)',
      data: 'data:text/html,<script>alert(1)</script>',
      vbscript: 'vbscript:msgbox(1)',
      relative: '//evil.example/x',
      sloppy: 'https:evil.example',
      inside: 'see https://example.com/a for details',
      creds: 'https://github.com@evil.example/',
      quotes: `https://example.com/"'><svg/onload=alert(1)>`,
      nested: { list: ['http://example.com/x?a=1&b=2'] },
    }).value
    expect(out).toContain(
      '<a class="v-link" href="https://github.com/acme/auth-api/pull/7" rel="noopener noreferrer" target="_blank">https://github.com/<wbr>acme/<wbr>auth-api/<wbr>pull/7</a>',
    )
    expect(out).toContain('<a class="v-link" href="http://example.com/x?a=1&amp;b=2" rel="noopener noreferrer" target="_blank">')
    // The URL parser percent-encodes quotes and angle brackets; the template escapes what is left.
    expect(out).toContain('href="https://example.com/%22&#39;%3E%3Csvg/onload=alert(1)%3E"')
    const hrefs = [...out.matchAll(/href="([^"]*)"/g)].map((m) => m[1])
    expect(hrefs).toEqual(['https://github.com/acme/auth-api/pull/7', 'https://example.com/%22&#39;%3E%3Csvg/onload=alert(1)%3E', 'http://example.com/x?a=1&amp;b=2'])
    expect(out).toContain('<span class="v-text">javascript:alert(1)</span>')
    expect(out).toContain('<span class="v-text">data:text/html,&lt;script&gt;alert(1)&lt;/script&gt;</span>')
    expect(out).toContain('<span class="v-text">https://github.com@evil.example/</span>')
    expect(out).not.toMatch(/<(script|svg)/)
  })

  it('stays bounded and escaped with huge hostile values', () => {
    const huge = `<script>${'"'.repeat(200_000)}</script>`
    const out = contextTable({ huge, [`k${'<'.repeat(10_000)}`]: 'x', url: `https://example.com/${'a'.repeat(5_000)}` }).value
    expect(out).not.toContain('<script>')
    expect(out).toContain(`(${huge.length} characters)`)
    expect(out).toContain('&quot;'.repeat(1_000))
    expect(out).not.toContain('<a ') // past the longest linked URL: text (folded)
  })

  it('says when there is no context', () => {
    expect(contextTable({}).value).toContain('No context was sent')
    expect(contextTable({ github: {} }, new Set(['github'])).value).toContain('No context was sent')
  })
})

describe('names and links', () => {
  it('gives long names break opportunities between their parts, and leaves the text as it was', () => {
    expect(breakable('key:ci').value).toBe('key:ci')
    expect(breakable('deploy-orchestrator.payments/eu-west-1_canary@farm').value).toBe('deploy-orchestrator.<wbr>payments/<wbr>eu-west-1_<wbr>canary@<wbr>farm')
    expect(breakable('ReleaseCoordinatorAgent').value).toBe('Release<wbr>Coordinator<wbr>Agent')
    expect(breakable('alice@example.com').value).toBe('alice@<wbr>example.com') // no part shorter than 4 on a line of its own
    const hostile = '<img src=x onerror=alert(1)>_"quoted"/name'
    const out = breakable(hostile).value
    expect(out).not.toContain('<img')
    expect(out.replace(/<wbr>/g, '')).toBe(escapeHtml(hostile))
  })

  it('links only whole http(s) URLs without credentials, invisible characters or whitespace', () => {
    expect(linkableUrl('https://github.com/a/b/pull/7')).toBe('https://github.com/a/b/pull/7')
    expect(linkableUrl('HTTP://Example.COM')).toBe('http://example.com/')
    expect(linkableUrl('https://xn--exmple-4nf.com/')).toBe('https://xn--exmple-4nf.com/')
    expect(linkableUrl('https://exаmple.com/')).toBe('https://xn--exmple-4nf.com/') // Cyrillic "а": the text shows punycode
    for (const bad of [
      'javascript:alert(1)',
      'data:text/html,x',
      'vbscript:x',
      'file:///etc/passwd',
      'https:example.com',
      '//example.com',
      ' https://example.com',
      'https://example.com/a b',
      'https://example.com/\u202Egnp.exe',
      'https://example.com/\u200B',
      'https://user:pw@example.com/',
      'https://github.com@evil.example/',
      `https://example.com/${'a'.repeat(2_000)}`,
      42,
      null,
    ]) {
      expect(linkableUrl(bad)).toBeNull()
    }
  })
})

describe('cards and pages', () => {
  const approval = (overrides: Partial<Approval> = {}): Approval => pendingApproval({ agent: 'bot', ...overrides })

  it('gives a long agent name a whole row and break opportunities; short ones stay in the grid', () => {
    const long = approvalCard(approval({ agent: 'deploy-orchestrator.payments-platform/eu-west-1' }), { csrfToken: 't', now: Date.parse('2030-01-01T12:00:00Z') }).value
    expect(long).toContain('<div class="fact-wide"><dt>Agent</dt><dd>deploy-orchestrator.<wbr>payments-platform/<wbr>eu-west-1</dd></div>')
    const short = approvalCard(approval(), { csrfToken: 't' }).value
    expect(short).toContain('<div><dt>Agent</dt><dd>bot</dd></div>')
    const hostile = approvalCard(approval({ agent: '"><script>alert(1)</script>', action: '<img src=x onerror=alert(1)>_deploy' }), { csrfToken: 't' }).value
    expect(hostile).not.toMatch(/<(script|img)/)
  })

  it('shows the date and the time each on one line', () => {
    const card = approvalCard(approval(), { csrfToken: 't' }).value
    expect(card).toContain('<time datetime="2030-01-01T12:00:00.000Z" data-local><span class="nowrap">2030-01-01</span> <span class="nowrap">12:00:00 UTC</span></time>')
  })

  it('puts the empty state\'s commands in boxes with the public URL escaped', () => {
    const out = emptyState('https://approvals.example.com/"><script>', false).value
    expect(out.match(/<pre class="code"><code>/g)).toHaveLength(2)
    expect(out).not.toContain('<script>')
  })
})

describe('audit page', () => {
  const NO_FILTERS: AuditFilterForm = { action: '', agent: '', approver: '', outcome: '', from: '', to: '' }
  const event = (overrides: Partial<AuditEvent> = {}): AuditEvent => ({
    project_id: 'prj_1',
    seq: 7,
    type: 'rejected',
    approval_id: 'apr_0123456789abcdefghijkl',
    action: 'production_deploy',
    agent: 'deploy-orchestrator.payments-platform/eu-west-1',
    actor: 'key:deployer',
    reason: 'Not during the freeze',
    at: '2030-01-01T12:00:00.000Z',
    context_hash: null,
    prev_hash: 'a',
    hash: 'b',
    prev_mac: null,
    mac: null,
    sealed_at: null,
    ...overrides,
  })
  const render = (events: AuditEvent[], filters = NO_FILTERS) =>
    auditPage({ filters, events, nextCursor: null, isFirstPage: true, verification: { result: { ok: true, events: 7, head: 'f'.repeat(64) }, verifiedAt: 0 }, now: 0 }).value

  it('labels every cell, shows the whole approval id (shortened by CSS) with it as the title', () => {
    const out = render([event()])
    for (const label of ['#', 'Time', 'Event', 'Action', 'Approval', 'Agent', 'By', 'Reason']) expect(out).toContain(`data-label="${label}"`)
    expect(out).toContain('<td class="id" data-label="Approval"><a href="/approvals/apr_0123456789abcdefghijkl" title="apr_0123456789abcdefghijkl"><code class="short-id">apr_0123456789abcdefghijkl</code></a></td>')
    expect(out).toContain('<td class="name" data-label="Agent">deploy-orchestrator.<wbr>payments-platform/<wbr>eu-west-1</td>')
    expect(out).toContain('<td class="reason" data-label="Reason">Not during the freeze</td>')
  })

  it('escapes hostile names and reasons, and leaves an empty reason cell empty (hidden on cards)', () => {
    const out = render([event({ agent: '<script>alert(1)</script>', actor: '"><img src=x>', reason: `${'<b>'.repeat(1000)}\nsecond line` }), event({ reason: null, agent: null })])
    expect(out).not.toMatch(/<(script|img|b>)/)
    expect(out).toContain('<td class="reason" data-label="Reason"></td>')
    expect(out).toContain('<td class="name" data-label="Agent"><span class="muted">—</span></td>')
  })

  it('folds the filter form into a <details>, open and counted when filters are set', () => {
    expect(render([])).toContain('<details class="filter-box">\n<summary>Filters</summary>')
    expect(render([], { ...NO_FILTERS, outcome: 'rejected', agent: 'bot' })).toContain('<details class="filter-box" open>\n<summary>Filters (2 active)</summary>')
  })
})

describe('guards', () => {
  it('only http(s) URLs become links', () => {
    expect(safeHttpUrl('https://github.com/a/b/actions/runs/1')).toBe('https://github.com/a/b/actions/runs/1')
    for (const bad of ['javascript:alert(1)', 'data:text/html,x', 'JaVaScRiPt:alert(1)', '//evil.example', 'not a url', 42]) expect(safeHttpUrl(bad)).toBeNull()
  })

  it('only local paths are used after sign-in', () => {
    expect(safeNextPath('/approvals/apr_1')).toBe('/approvals/apr_1')
    for (const bad of ['//evil.example', 'https://evil.example', '/\\evil.example', 'audit', '/a\r\nLocation: x', undefined]) expect(safeNextPath(bad)).toBe('/')
  })

  it('puts the pending count first in the title', () => {
    expect(documentTitle('Approvals', 3)).toBe('(3) Approvals · approval-gate')
    expect(documentTitle('Approvals', 0)).toBe('Approvals · approval-gate')
  })

  it('reads audit filters and explains a bad date or outcome', () => {
    expect(readAuditFilters({ action: ' deploy ', outcome: 'rejected', from: '2025-01-02', to: '2025-01-03' }).filter).toEqual({
      action: 'deploy',
      outcome: 'rejected',
      from: '2025-01-02T00:00:00.000Z',
      to: '2025-01-03T23:59:59.999Z',
    })
    expect(readAuditFilters({ outcome: 'maybe' }).error).toMatch(/Unknown outcome/)
    expect(readAuditFilters({ from: '02/01/2025' }).error).toBe('"from" must be a date like 2025-01-31.')
  })
})

describe('login limiter', () => {
  it('blocks after the allowed failures for one address+email, then lets it try again after the window', () => {
    const limiter = new LoginLimiter({ maxFailures: 2, windowMs: 1000, maxKeys: 10 })
    limiter.recordFailure('1.2.3.4', 'A@x.com', 0)
    expect(limiter.retryAfterMs('1.2.3.4', 'a@x.com', 10)).toBe(0)
    limiter.recordFailure('1.2.3.4', 'a@x.com', 20)
    expect(limiter.retryAfterMs('1.2.3.4', 'a@x.com', 30)).toBe(970)
    expect(limiter.retryAfterMs('5.6.7.8', 'a@x.com', 30)).toBe(0)
    expect(limiter.retryAfterMs('1.2.3.4', 'a@x.com', 1000)).toBe(0)
  })

  it('stays bounded in memory', () => {
    const limiter = new LoginLimiter({ maxFailures: 1, windowMs: 60_000, maxKeys: 3 })
    for (let i = 0; i < 10; i++) limiter.recordFailure('ip', `user${i}@x.com`, i)
    expect(limiter.retryAfterMs('ip', 'user0@x.com', 20)).toBe(0) // evicted
    expect(limiter.retryAfterMs('ip', 'user9@x.com', 20)).toBeGreaterThan(0)
  })
})
