import { beforeEach, describe, expect, it, jest } from '@jest/globals'
import * as core from '../../__fixtures__/core.js'

jest.unstable_mockModule('@actions/core', () => core)
const { flattenContext, MAX_CONTEXT_ROWS, renderSummary, writeSummary } = await import('../../src/action/summary.js')
const { htmlText, MAX_CELL_LENGTH } = await import('../../src/action/outcome-html.js')

const APPROVED = { decision: 'approved' as const, approvalId: 'apr_1', approver: 'alice@example.com', reason: 'ok', url: 'https://approvals.example.com/approvals/apr_1', waitedMs: 90_000 }

describe('htmlText', () => {
  it('escapes markup and quotes and turns line breaks into <br>', () => {
    expect(htmlText(`<a href="x" onclick='y'>&amp;</a>`)).toBe('&lt;a href=&quot;x&quot; onclick=&#39;y&#39;&gt;&amp;amp;&lt;/a&gt;')
    expect(htmlText('a\n\nb\r\nc\rd')).toBe('a<br><br>b<br>c<br>d')
  })
})

describe('renderSummary', () => {
  it('shows the decision, approver, reason, id, waited time and link', () => {
    const html = renderSummary('deploy', APPROVED, {})
    expect(html).toContain('<h2>✅ Approved: deploy</h2>')
    expect(html).toContain('<td>alice@example.com</td>')
    expect(html).toContain('<code>apr_1</code>')
    expect(html).toContain('<td>1m30s</td>')
    expect(html).toContain('<a href="https://approvals.example.com/approvals/apr_1" rel="noopener noreferrer">https://approvals.example.com/approvals/apr_1</a>')
    expect(html).toContain('<p>(empty)</p>')
  })

  it('escapes every untrusted value: action, approver, reason, id, context keys and values', () => {
    const html = renderSummary(
      '<i>deploy</i>',
      { ...APPROVED, approver: '<b>eve</b>', reason: '<script>x</script>', approvalId: '"><svg onload=1>' },
      { '<k>': '<script>alert(1)</script>', nested: { '<deep>': ['<arr>'] } },
    )
    expect(html).not.toMatch(/<(script|svg|b>|i>|k>|deep|arr)/)
    expect(html).toContain('&lt;script&gt;alert(1)&lt;/script&gt;')
    expect(html).toContain('<code>nested.&lt;deep&gt;</code>')
    expect(html).toContain('[&quot;&lt;arr&gt;&quot;]')
  })

  it('keeps the HTML block free of blank lines, so no value escapes into Markdown', () => {
    const html = renderSummary('deploy', { ...APPROVED, reason: 'one\n\n# two' }, { text: 'a\n\n\n[link](https://evil.example)' })
    expect(html.trimEnd()).not.toMatch(/\n\s*\n/)
  })

  it('links only http(s) dashboard URLs', () => {
    expect(renderSummary('d', { ...APPROVED, url: 'javascript:alert(1)' }, {})).not.toContain('<a ')
    expect(renderSummary('d', { ...APPROVED, url: 'javascript:alert(1)' }, {})).toContain('javascript:alert(1)')
    expect(renderSummary('d', { ...APPROVED, url: undefined }, {})).toContain('<th align="left">Dashboard</th><td>—</td>')
  })

  it('links http(s) URLs in context, showing the URL they open; other schemes and markup stay text', () => {
    const html = renderSummary('d', APPROVED, {
      pr: 'https://github.com/acme/auth-api/pull/7',
      nested: { docs: 'http://docs.example.com/runbooks?a=1&b=2' },
      script: 'javascript:alert(1)',
      upper: 'JaVaScRiPt:alert(2)',
      data: 'data:text/html,<script>alert(3)</script>',
      relative: '//evil.example/x',
      sloppy: 'https:evil.example',
      spaced: ' https://evil.example',
      bidi: 'https://evil.example/\u202Etxt.exe',
      creds: 'https://github.com@evil.example/',
      quoted: 'https://example.com/"><img/src=x/onerror=alert(4)>',
      huge: `https://example.com/${'a'.repeat(MAX_CELL_LENGTH)}`,
      list: ['https://example.com/in-a-list'],
    })
    expect(html).toContain('<td><a href="https://github.com/acme/auth-api/pull/7" rel="noopener noreferrer">https://github.com/acme/auth-api/pull/7</a></td>')
    expect(html).toContain('<a href="http://docs.example.com/runbooks?a=1&amp;b=2" rel="noopener noreferrer">http://docs.example.com/runbooks?a=1&amp;b=2</a>')
    // Markup in a URL is percent-encoded by the URL parser, and escaped anyway.
    expect(html).toContain('<a href="https://example.com/%22%3E%3Cimg/src=x/onerror=alert(4)%3E" rel="noopener noreferrer">')
    const links = [...html.matchAll(/<a href="([^"]*)"/g)].map((m) => m[1])
    expect(links).toEqual([
      'https://approvals.example.com/approvals/apr_1',
      'https://github.com/acme/auth-api/pull/7',
      'http://docs.example.com/runbooks?a=1&amp;b=2',
      'https://example.com/%22%3E%3Cimg/src=x/onerror=alert(4)%3E',
    ])
    expect(html).toContain('<td>javascript:alert(1)</td>')
    expect(html).toContain('<td>data:text/html,&lt;script&gt;alert(3)&lt;/script&gt;</td>')
    expect(html).toContain('<td>https://github.com@evil.example/</td>')
    expect(html).not.toMatch(/<(script|img)/)
    expect(html.trimEnd()).not.toMatch(/\n\s*\n/)
  })

  it('shows the other decisions and a failure without decision', () => {
    expect(renderSummary('d', { decision: 'rejected', waitedMs: 1 }, {})).toContain('❌ Rejected')
    expect(renderSummary('d', { decision: 'timed_out', waitedMs: 1 }, {})).toContain('⏱️ Timed out')
    expect(renderSummary('d', { decision: 'cancelled', waitedMs: 1 }, {})).toContain('🚫 Cancelled')
    expect(renderSummary('d', { waitedMs: 1 }, {})).toContain('Approval gate failed')
  })

  it('bounds huge contexts: long values are cut, extra rows summarised', () => {
    const context = Object.fromEntries(Array.from({ length: MAX_CONTEXT_ROWS + 5 }, (_, i) => [`k${i}`, 'v'.repeat(MAX_CELL_LENGTH + 50)]))
    const html = renderSummary('d', APPROVED, context)
    expect(html).toContain(`${'v'.repeat(MAX_CELL_LENGTH)}…`)
    expect(html).not.toContain('v'.repeat(MAX_CELL_LENGTH + 1))
    expect(html).toContain('… and 5 more entries, not shown.')
  })
})

describe('flattenContext', () => {
  it('flattens objects into dotted keys and shows other values as JSON', () => {
    expect(flattenContext({ github: { actor: 'mona', run: { id: 1 } }, list: [1, 'a'], n: null, flag: true, empty: {} })).toEqual([
      ['github.actor', 'mona'],
      ['github.run.id', '1'],
      ['list', '[1,"a"]'],
      ['n', 'null'],
      ['flag', 'true'],
      ['empty', '{}'],
    ])
  })
})

describe('writeSummary', () => {
  beforeEach(() => core.resetCore())

  it('skips quietly outside a runner', async () => {
    expect(await writeSummary('d', APPROVED, {}, {})).toBe(false)
    expect(core.summary.write).not.toHaveBeenCalled()
    expect(core.warning).not.toHaveBeenCalled()
  })

  it('writes the rendered HTML', async () => {
    expect(await writeSummary('d', APPROVED, { a: 1 }, { GITHUB_STEP_SUMMARY: '/tmp/x' })).toBe(true)
    expect(core.summaryWrites).toEqual([renderSummary('d', APPROVED, { a: 1 })])
  })

  it('only warns when writing fails', async () => {
    core.summary.write.mockRejectedValueOnce(new Error('disk full'))
    expect(await writeSummary('d', APPROVED, {}, { GITHUB_STEP_SUMMARY: '/tmp/x' })).toBe(false)
    expect(core.warning).toHaveBeenCalledWith('Could not write the job summary: disk full')
  })
})
