/**
 * action.yml, the code and the README agree: every input is read by inputs.ts and
 * documented, every output is set by main.ts and documented, everything has a description,
 * and the runtime is node24 with the post step.
 */
import { describe, expect, it } from '@jest/globals'
import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')
const read = (path: string): string => readFileSync(join(root, path), 'utf8')

/** The entries of a top-level section of action.yml (`inputs:`/`outputs:`/`runs:`), with their fields. */
function section(yaml: string, name: string): Map<string, Record<string, string>> {
  const entries = new Map<string, Record<string, string>>()
  const lines = yaml.split('\n')
  let inside = false
  let current: Record<string, string> | undefined
  for (const line of lines) {
    if (/^\S/.test(line)) {
      inside = line.startsWith(`${name}:`)
      continue
    }
    if (!inside) continue
    const entry = /^ {2}([\w-]+):\s*(.*)$/.exec(line)
    const field = /^ {4}([\w-]+):\s*(.*)$/.exec(line)
    if (entry) {
      current = { value: unquote(entry[2]) }
      entries.set(entry[1], current)
    } else if (field && current) {
      current[field[1]] = unquote(field[2])
    }
  }
  return entries
}

function unquote(text: string): string {
  const trimmed = text.trim()
  return trimmed.startsWith("'") && trimmed.endsWith("'") ? trimmed.slice(1, -1).replace(/''/g, "'") : trimmed
}

/** First-column names of the Markdown table under `### heading`. */
function documented(markdown: string, heading: string): string[] {
  const part = markdown.split(`### ${heading}\n`)[1]?.split('\n### ')[0] ?? ''
  return [...part.matchAll(/^\| `([\w-]+)` \|/gm)].map((match) => match[1])
}

const actionYml = read('action.yml')
const inputs = section(actionYml, 'inputs')
const outputs = section(actionYml, 'outputs')
const docs = read('README.md')

describe('action.yml', () => {
  it('runs the bundle on node24, with a post step that always runs', () => {
    const runs = section(actionYml, 'runs')
    expect(runs.get('using')?.value).toBe('node24')
    expect(runs.get('main')?.value).toBe('dist/index.js')
    expect(runs.get('post')?.value).toBe('dist/index.js')
    expect(runs.get('post-if')?.value).toBe('always()')
    expect(actionYml).toMatch(/^branding:\n {2}icon: '[\w-]+'\n {2}color: '\w+'/m)
  })

  it('describes every input and output', () => {
    expect(inputs.size).toBeGreaterThanOrEqual(12)
    for (const [name, fields] of [...inputs, ...outputs]) expect([name, (fields.description ?? '').length > 20]).toEqual([name, true])
    expect(inputs.get('action')?.required).toBe('true')
  })

  it('declares exactly the inputs inputs.ts reads', () => {
    const source = read('src/action/inputs.ts')
    const read_ = new Set([...source.matchAll(/(?:getInput|readName|readBoolean|readDuration)\(\s*'([\w-]+)'/g)].map((match) => match[1]))
    expect([...read_].sort()).toEqual([...inputs.keys()].sort())
  })

  it('declares exactly the outputs main.ts sets', () => {
    const set = [...read('src/action/main.ts').matchAll(/setOutput\('([\w-]+)'/g)].map((match) => match[1])
    expect(set.sort()).toEqual([...outputs.keys()].sort())
  })

  it('matches the action tables in README.md, defaults included', () => {
    expect(documented(docs, 'Inputs')).toEqual([...inputs.keys()])
    expect(documented(docs, 'Outputs')).toEqual([...outputs.keys()])
    for (const [name, fields] of inputs) {
      if (!fields.default) continue
      expect([name, docs.includes(`| \`${name}\` | \`${fields.default}\` |`)]).toEqual([name, true])
    }
  })
})

/** The text of every `run:` script (one-line or block) in a YAML text or a Markdown file's YAML. */
function runScripts(text: string): string[] {
  const scripts: string[] = []
  const lines = text.split('\n')
  for (let i = 0; i < lines.length; i++) {
    const match = /^(\s*)(?:- )?run:\s*(.*)$/.exec(lines[i])
    if (!match) continue
    const indent = match[1].length
    const body = [match[2]]
    while (i + 1 < lines.length && (lines[i + 1].trim() === '' || lines[i + 1].search(/\S/) > indent + 2)) body.push(lines[++i])
    scripts.push(body.join('\n'))
  }
  return scripts
}

describe('examples', () => {
  it('never paste an output (server-sent text) into a run: script; they pass it through env:', () => {
    for (const path of ['README.md', '.github/workflows/ci.yml']) {
      const scripts = runScripts(read(path))
      expect([path, scripts.length > 0]).toEqual([path, true])
      for (const script of scripts) expect([path, script]).not.toEqual([path, expect.stringMatching(/\$\{\{[^}]*outputs\./)])
    }
  })
})
