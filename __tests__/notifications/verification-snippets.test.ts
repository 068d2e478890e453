/**
 * The Node.js and Python verification snippets of docs/notifications.md, taken from the page
 * itself and run (as real processes) against a delivery signed by the server's webhook sender:
 * the documented code accepts it, and refuses a changed body, another secret and an old
 * timestamp. So the documentation cannot drift from what the server sends.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync, spawnSync } from 'node:child_process'
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { webhookSignature } from '../../src/server/notifications/webhook-sender.js'

const DOC = readFileSync(join(process.cwd(), 'docs/notifications.md'), 'utf8')
const SECRET = 'whsec_documented-secret'
const BODY = JSON.stringify({ id: 'dlv_1', type: 'approval.created', approval: { id: 'apr_1', action: 'deploy' } })

function block(language: string): string {
  const match = new RegExp('```' + language + '\\n([\\s\\S]*?)```').exec(DOC)
  if (!match) throw new Error(`docs/notifications.md has no ${language} block`)
  return match[1]
}

/** The cases each snippet must judge: [label, secret, timestamp, body, expected]. */
function cases(): Array<[string, string, string, string, boolean]> {
  const now = String(Math.floor(Date.now() / 1000))
  const old = String(Math.floor(Date.now() / 1000) - 600)
  return [
    ['a genuine delivery', SECRET, now, BODY, true],
    ['a changed body', SECRET, now, BODY.replace('deploy', 'destroy'), false],
    ['another secret', 'whsec_other', now, BODY, false],
    ['an old timestamp', SECRET, old, BODY, false],
  ]
}

function headersFor(timestamp: string, body: string): Record<string, string> {
  return { 'x-approval-gate-timestamp': timestamp, 'x-approval-gate-signature-256': webhookSignature(SECRET, timestamp, body) }
}

describe('the documented webhook verification', () => {
  it('Node.js snippet accepts a real signature and refuses forgeries', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ag-snippet-'))
    try {
      for (const [label, secret, timestamp, body, expected] of cases()) {
        const file = join(dir, 'verify.mjs')
        // The signature is always made with SECRET over the original timestamp and body.
        const headers = headersFor(timestamp, label === 'a changed body' ? BODY : body)
        writeFileSync(file, `${block('js')}\nprocess.stdout.write(String(verify(${JSON.stringify(secret)}, ${JSON.stringify(headers)}, ${JSON.stringify(body)})))\n`)
        const out = execFileSync(process.execPath, [file], { encoding: 'utf8' })
        expect({ label, verified: out }).toEqual({ label, verified: String(expected) })
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })

  const python = spawnSync('python3', ['--version']).status === 0
  ;(python ? it : it.skip)('Python snippet accepts a real signature and refuses forgeries', () => {
    const dir = mkdtempSync(join(tmpdir(), 'ag-snippet-'))
    try {
      for (const [label, secret, timestamp, body, expected] of cases()) {
        const file = join(dir, 'verify.py')
        const headers = headersFor(timestamp, label === 'a changed body' ? BODY : body)
        // Header names as a receiving framework gives them (the snippet reads them case-sensitively as documented).
        const named = { 'X-Approval-Gate-Timestamp': headers['x-approval-gate-timestamp'], 'X-Approval-Gate-Signature-256': headers['x-approval-gate-signature-256'] }
        writeFileSync(file, `${block('python')}\nprint(verify(${JSON.stringify(secret)}, ${JSON.stringify(named)}, ${JSON.stringify(body)}.encode()), end="")\n`)
        const out = execFileSync('python3', [file], { encoding: 'utf8' })
        expect({ label, verified: out }).toEqual({ label, verified: expected ? 'True' : 'False' })
      }
    } finally {
      rmSync(dir, { recursive: true, force: true })
    }
  })
})
