/**
 * Answers in forms a lenient client should still read: a UTF-8 byte-order mark before the JSON,
 * or a content encoding nobody asked for (decoded within the same size limit).
 */
import { afterEach, describe, expect, it } from '@jest/globals'
import { brotliCompressSync, deflateSync, gzipSync } from 'node:zlib'
import { ApprovalError, ApprovalTimeout, requireApproval } from '../../src/client/index.js'
import { startScriptedServer, type ScriptedFault, type ScriptedServer } from '../helpers/scripted-server.js'
import { gateOptions, rejectionOf } from './gate-fixtures.js'

let server: ScriptedServer
afterEach(async () => {
  await server?.close()
})

/** A raw answer with exactly these bytes and headers. */
function rawBytes(status: number, body: Buffer, headers: Record<string, string>): ScriptedFault {
  return {
    kind: 'handle',
    handler: (_req, res) => {
      res.writeHead(status, { 'content-length': String(body.length), ...headers })
      res.end(body)
    },
  }
}

describe('bodies in forms a lenient client should still read', () => {
  const approved = (id: string): Buffer => Buffer.from(JSON.stringify({ id, status: 'approved', decided_by: 'ana' }))

  it('a UTF-8 byte-order mark before the JSON', async () => {
    server = await startScriptedServer()
    server.script('get', { kind: 'handle', handler: (req, res) => res.writeHead(200).end(Buffer.concat([Buffer.from([0xef, 0xbb, 0xbf]), approved(req.approvalId ?? '')])) })
    await expect(requireApproval('deploy', gateOptions(server))).resolves.toMatch(/^apr_/)
  })

  it.each([
    ['gzip', gzipSync],
    ['deflate', deflateSync],
    ['br', brotliCompressSync],
  ] as const)('a %s-encoded body, although the client never asked for compression', async (encoding, compress) => {
    server = await startScriptedServer()
    server.script('get', {
      kind: 'handle',
      handler: (req, res) => {
        const body = compress(approved(req.approvalId ?? ''))
        res.writeHead(200, { 'content-type': 'application/json', 'content-encoding': encoding, 'content-length': String(body.length) }).end(body)
      },
    })
    await expect(requireApproval('deploy', gateOptions(server))).resolves.toMatch(/^apr_/)
  })

  it('an unknown content encoding is a clear bad_response', async () => {
    server = await startScriptedServer()
    server.script('get', rawBytes(200, Buffer.from('xx'), { 'content-encoding': 'zstd-foo' }))
    const error = (await rejectionOf(requireApproval('deploy', gateOptions(server)))) as ApprovalError
    expect(error).toBeInstanceOf(ApprovalError)
    expect(error.code).toBe('bad_response')
    expect(error.message).toContain('zstd-foo')
  })

  it('a compressed body that expands past the size limit is refused', async () => {
    server = await startScriptedServer()
    const bomb = gzipSync(Buffer.alloc(64 * 1024 * 1024, 0x20))
    server.script('get', rawBytes(200, bomb, { 'content-encoding': 'gzip' }))
    const error = (await rejectionOf(requireApproval('deploy', gateOptions(server)))) as ApprovalError
    expect(error).toBeInstanceOf(ApprovalError)
    expect(error.code).toBe('bad_response')
    expect(error.message).toMatch(/larger than/)
  })
})

describe('error answers with an undecodable body', () => {
  it('a 503 whose body cannot be decoded still counts as a 5xx, not as a malformed answer', async () => {
    server = await startScriptedServer()
    const garbled = rawBytes(503, Buffer.from('not gzip at all'), { 'content-encoding': 'gzip' })
    server.script('get', garbled, garbled, garbled)
    const error = await rejectionOf(requireApproval('deploy', gateOptions(server)))
    expect(error).toBeInstanceOf(ApprovalTimeout)
    expect((error as ApprovalTimeout).cause).toBe('server_error')
  })
})
