/** Unit tests of the dashboard's escaping template, context rendering, URL/next-path guards and login limiter. */
import { describe, expect, it } from '@jest/globals'
import { escapeHtml, html, raw } from '../../src/server/dashboard/html.js'
import { LoginLimiter } from '../../src/server/dashboard/rate-limit.js'
import { safeNextPath } from '../../src/server/dashboard/session.js'
import { contextTable } from '../../src/server/dashboard/views/context.js'
import { safeHttpUrl } from '../../src/server/dashboard/views/format.js'
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
    expect(out).toContain('<ol class="v-list" start="0"><li><code class="v-scalar">true</code></li><li><code class="v-null">null</code></li>')
    expect(out.match(/<details class="fold">/g)?.length).toBe(3) // long, lines, deep
    expect(out).toContain('(500 characters)')
    expect(out).not.toContain('<v>')
  })

  it('says when there is no context', () => {
    expect(contextTable({}).value).toContain('No context was sent')
    expect(contextTable({ github: {} }, new Set(['github'])).value).toContain('No context was sent')
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
