/**
 * Reading a policy document's text (YAML or JSON) into plain values, keeping a way back from
 * any field to the line it was written on, so that validation errors can name the line.
 * JSON is read by the YAML parser as well (JSON is YAML 1.2), after `JSON.parse` has checked
 * that it is strict JSON; duplicate keys are refused in both formats.
 */
import { isMap, isSeq, LineCounter, parseDocument, type Document } from 'yaml'
import { MAX_POLICY_BYTES, MAX_YAML_ALIASES } from './limits.js'
import type { PolicyError } from './types.js'

/** A step into a document: a key of a mapping or an index of a list. */
export type PathSegment = string | number

export type PolicyFormat = 'yaml' | 'json'

/** A document's values, and the line (1-based) each field was written on. */
export interface ReadDocument {
  value: unknown
  lineOf(path: readonly PathSegment[]): number | null
}

/** Guesses the format when none is given: a document starting with `{` is JSON. */
export function detectFormat(source: string): PolicyFormat {
  return /^\s*\{/.test(source) ? 'json' : 'yaml'
}

/** Formats a path as the field names errors show: `rules[0].approvers.required`. */
export function formatPath(path: readonly PathSegment[]): string {
  let text = ''
  for (const segment of path) {
    text += typeof segment === 'number' ? `[${segment}]` : text === '' ? segment : `.${segment}`
  }
  return text === '' ? '(document)' : text
}

/** Reads the text, or says where it is not well-formed. */
export function readDocument(source: string, format: PolicyFormat): { ok: true; document: ReadDocument } | { ok: false; errors: PolicyError[] } {
  const bytes = Buffer.byteLength(source, 'utf8')
  if (bytes > MAX_POLICY_BYTES) {
    return fail(null, `the document is ${bytes} bytes; a policy is at most ${MAX_POLICY_BYTES} bytes`)
  }
  if (source.trim() === '') return fail(null, 'the document is empty')
  if (format === 'json') {
    const jsonProblem = strictJsonProblem(source)
    if (jsonProblem) return { ok: false, errors: [jsonProblem] }
  }

  const lineCounter = new LineCounter()
  const doc = parseDocument(source, { lineCounter, prettyErrors: false, uniqueKeys: true, version: '1.2' })
  if (doc.errors.length > 0) {
    return {
      ok: false,
      errors: doc.errors.map((error) => ({
        line: lineCounter.linePos(error.pos[0]).line,
        path: '(document)',
        message: `not valid ${format === 'json' ? 'JSON' : 'YAML'}: ${firstLine(error.message)}`,
      })),
    }
  }
  let value: unknown
  try {
    value = doc.toJS({ maxAliasCount: MAX_YAML_ALIASES })
  } catch (error) {
    return fail(null, `not valid YAML: ${firstLine(error instanceof Error ? error.message : String(error))}`)
  }
  return { ok: true, document: { value, lineOf: (path) => lineOfPath(doc, lineCounter, path) } }
}

/** `JSON.parse`'s complaint, with the line it points at. */
function strictJsonProblem(source: string): PolicyError | null {
  try {
    JSON.parse(source)
    return null
  } catch (error) {
    const message = error instanceof Error ? error.message : String(error)
    const position = /position (\d+)/.exec(message)
    const line = position ? source.slice(0, Number(position[1])).split('\n').length : null
    return { line, path: '(document)', message: `not valid JSON: ${firstLine(message)}` }
  }
}

/** The line of the deepest node along `path` that exists: a field's key, or a list item. */
function lineOfPath(doc: Document, lineCounter: LineCounter, path: readonly PathSegment[]): number | null {
  const lineAt = (node: unknown): number | null => {
    const range = (node as { range?: [number, number, number] } | null)?.range
    return range ? lineCounter.linePos(range[0]).line : null
  }
  let node: unknown = doc.contents
  let line = lineAt(node)
  for (const segment of path) {
    if (isMap(node)) {
      const pair = node.items.find((item) => keyText(item.key) === String(segment))
      if (!pair) break
      line = lineAt(pair.key) ?? line
      node = pair.value
    } else if (isSeq(node) && typeof segment === 'number' && segment < node.items.length) {
      node = node.items[segment]
      line = lineAt(node) ?? line
    } else {
      break
    }
  }
  return line
}

function keyText(key: unknown): string {
  const value = (key as { value?: unknown } | null)?.value ?? key
  return String(value)
}

function firstLine(message: string): string {
  return message.split('\n')[0].trim()
}

function fail(line: number | null, message: string): { ok: false; errors: PolicyError[] } {
  return { ok: false, errors: [{ line, path: '(document)', message }] }
}
