import { describe, expect, it } from '@jest/globals'
import { lineDiff } from '../../src/shared/line-diff.js'

const render = (before: string, after: string): string =>
  lineDiff(before, after)
    .map((line) => `${line.kind === 'same' ? ' ' : line.kind === 'removed' ? '-' : '+'}${line.text}`)
    .join('\n')

describe('lineDiff', () => {
  it('marks changed lines and keeps the rest', () => {
    expect(render('a\nb\nc\nd\n', 'a\nB\nc\nd\ne\n')).toBe(' a\n-b\n+B\n c\n d\n+e')
  })

  it('handles empty texts, identical texts and line endings', () => {
    expect(lineDiff('', '')).toEqual([])
    expect(render('', 'x\n')).toBe('+x')
    expect(render('x\n', '')).toBe('-x')
    expect(render('a\r\nb\r\n', 'a\nb\n')).toBe(' a\n b')
  })

  it('finds the longest common lines inside a changed middle', () => {
    expect(render('1\nx\n2\ny\n3\n', '1\n2\nz\n3\n')).toBe(' 1\n-x\n 2\n-y\n+z\n 3')
  })

  it('shows a middle too large to compare as removed then added, keeping the common start and end', () => {
    const before = ['head', ...Array.from({ length: 3_000 }, (_, i) => `old ${i}`), 'tail'].join('\n')
    const after = ['head', ...Array.from({ length: 3_000 }, (_, i) => `new ${i}`), 'tail'].join('\n')
    const lines = lineDiff(before, after)
    expect(lines[0]).toEqual({ kind: 'same', text: 'head' })
    expect(lines[1]).toEqual({ kind: 'removed', text: 'old 0' })
    expect(lines[3_001]).toEqual({ kind: 'added', text: 'new 0' })
    expect(lines[lines.length - 1]).toEqual({ kind: 'same', text: 'tail' })
    expect(lines).toHaveLength(6_002)
  })
})
