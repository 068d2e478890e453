/**
 * Reading an approvals API's answer safely: a size bound, `Content-Encoding` undone within that
 * bound, a BOM dropped, and the contract's `{error: {code, message}}` bodies read without ever
 * trusting their shape.
 */
import { brotliDecompressSync, gunzipSync, inflateSync } from 'node:zlib'
import { ApprovalError } from './errors.js'
import { excerpt, parseRecord } from './record-parsing.js'
import type { ApprovalRecord } from './types.js'

/** Larger answers are refused: no approvals API needs more, and a hostile one could send gigabytes. */
export const MAX_RESPONSE_BYTES = 4 * 1024 * 1024

export type ResponseHeaders = Record<string, string | string[] | undefined>

/** An answer, read and decoded. */
export interface RawResponse {
  status: number
  headers: ResponseHeaders
  text: string
}

/** Reads a body up to {@link MAX_RESPONSE_BYTES}, destroying it when it is larger. */
export async function readLimited(body: AsyncIterable<Buffer> & { destroy(): unknown }, what: string): Promise<Buffer> {
  const chunks: Buffer[] = []
  let size = 0
  for await (const chunk of body) {
    size += chunk.length
    if (size > MAX_RESPONSE_BYTES) {
      body.destroy()
      throw tooLarge(what)
    }
    chunks.push(chunk)
  }
  return Buffer.concat(chunks)
}

function tooLarge(what: string): ApprovalError {
  return new ApprovalError('bad_response', `${what}: the answer is larger than ${MAX_RESPONSE_BYTES} bytes`)
}

const DECODERS: Record<string, (data: Buffer, options: { maxOutputLength: number }) => Buffer> = {
  gzip: gunzipSync,
  'x-gzip': gunzipSync,
  deflate: inflateSync,
  br: brotliDecompressSync,
}

/**
 * The body as text. We never ask for compression, but some servers and proxies compress
 * anyway: undoes `Content-Encoding` (within the same size limit, so a small "zip bomb" cannot
 * exhaust memory) and drops a UTF-8 byte-order mark, which `JSON.parse` refuses.
 */
export function decodeBody(raw: Buffer, contentEncoding: string | string[] | undefined, what: string): string {
  const encodings = (Array.isArray(contentEncoding) ? contentEncoding.join(',') : (contentEncoding ?? ''))
    .split(',')
    .map((name) => name.trim().toLowerCase())
    .filter((name) => name !== '' && name !== 'identity')
  let data = raw
  // Encodings are listed in the order they were applied: undo them last to first.
  for (const encoding of encodings.reverse()) {
    const decode = DECODERS[encoding]
    if (!decode) throw new ApprovalError('bad_response', `${what}: the answer uses content encoding "${excerpt(encoding, 40)}", which this client cannot decode`)
    try {
      data = decode(data, { maxOutputLength: MAX_RESPONSE_BYTES })
    } catch (error) {
      if ((error as { code?: unknown }).code === 'ERR_BUFFER_TOO_LARGE') throw tooLarge(what)
      throw new ApprovalError('bad_response', `${what}: the answer claims content encoding "${encoding}" but does not decode as such`)
    }
  }
  const text = data.toString('utf8')
  return text.charCodeAt(0) === 0xfeff ? text.slice(1) : text
}

export function parseJson(text: string): { ok: true; value: unknown } | { ok: false } {
  try {
    return { ok: true, value: JSON.parse(text) }
  } catch {
    return { ok: false }
  }
}

/** The `{error: {code, message}}` of an error body, as far as it has that shape. */
export function errorBodyFields(text: string): { code?: string; message?: string; bare?: string } {
  const parsed = parseJson(text)
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) return {}
  const error = (parsed.value as { error?: unknown }).error
  if (typeof error === 'string') return { bare: error }
  if (typeof error !== 'object' || error === null) return {}
  const { code, message } = error as { code?: unknown; message?: unknown }
  return { code: typeof code === 'string' ? code : undefined, message: typeof message === 'string' ? message : undefined }
}

/** `code: message` from an error body, or an excerpt of a non-JSON one. */
export function describeErrorBody(text: string): string {
  const { code, message, bare } = errorBodyFields(text)
  const said = [code, message === undefined ? undefined : excerpt(message, 300)].filter(Boolean).join(': ')
  if (said) return said
  if (bare !== undefined) return excerpt(bare, 300)
  return text.trim() === '' ? 'no details given' : `body: ${excerpt(text, 120)}`
}

/** A record sent along with an error (e.g. `409` carries the current record), if any. */
export function recordInErrorBody(text: string): ApprovalRecord | undefined {
  const parsed = parseJson(text)
  if (!parsed.ok || typeof parsed.value !== 'object' || parsed.value === null) return undefined
  const body = parsed.value as { approval?: unknown; record?: unknown }
  for (const candidate of [body.approval, body.record, parsed.value]) {
    try {
      return parseRecord(candidate, '')
    } catch {
      // not a record: try the next place
    }
  }
  return undefined
}
