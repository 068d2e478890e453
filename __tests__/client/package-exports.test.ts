/**
 * The built library, as users import it: `import { requireApproval } from 'approval-gate'`
 * resolves through package.json `exports` to lib/ (built by `npm test`'s pretest), with type
 * declarations beside it.
 */
import { describe, expect, it } from '@jest/globals'
import { execFileSync } from 'node:child_process'
import { existsSync, readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

const root = join(dirname(fileURLToPath(import.meta.url)), '..', '..')

/** Runs an ES module snippet in a fresh Node process inside the package (self-reference by name). */
function runModule(source: string): string {
  // No API settings from the environment: the snippets say exactly what they pass.
  const env = Object.fromEntries(Object.entries(process.env).filter(([name]) => !/^(APPROVAL_GATE|JAMJET)_API_/.test(name)))
  return execFileSync(process.execPath, ['--input-type=module', '-e', source], { cwd: root, encoding: 'utf8', env })
}

describe("the package 'approval-gate'", () => {
  it('exports the core and its errors, JamJet names included, from the built lib/', () => {
    const out = runModule(`
      import * as gate from 'approval-gate'
      console.log(JSON.stringify({
        keys: Object.keys(gate).sort(),
        aliases: gate.JamjetApprovalRejected === gate.ApprovalRejected && gate.JamjetApprovalTimeout === gate.ApprovalTimeout,
        kinds: [typeof gate.requireApproval, typeof gate.requestApproval, typeof gate.ApprovalsClient],
      }))
    `)
    const { keys, aliases, kinds } = JSON.parse(out) as { keys: string[]; aliases: boolean; kinds: string[] }
    expect(keys).toEqual(
      expect.arrayContaining([
        'requireApproval',
        'requestApproval',
        'ApprovalsClient',
        'ApprovalError',
        'ApprovalRejected',
        'ApprovalTimeout',
        'JamjetApprovalRejected',
        'JamjetApprovalTimeout',
      ]),
    )
    expect(aliases).toBe(true)
    expect(kinds).toEqual(['function', 'function', 'function'])
  })

  it('ships type declarations where package.json points', () => {
    const pkg = JSON.parse(readFileSync(join(root, 'package.json'), 'utf8')) as { exports: { '.': { types: string; import: string } } }
    const types = join(root, pkg.exports['.'].types)
    expect(existsSync(join(root, pkg.exports['.'].import))).toBe(true)
    expect(existsSync(types)).toBe(true)
    expect(readFileSync(types, 'utf8')).toMatch(/export \{[^}]*requireApproval/)
  })

  it('rejects a missing key before any request, with a code, in a fresh process', () => {
    const out = runModule(`
      import { requireApproval } from 'approval-gate'
      try { await requireApproval('deploy', { apiUrl: 'http://127.0.0.1:9', apiKey: '' }) }
      catch (e) { console.log(JSON.stringify({ name: e.name, code: e.code })) }
    `)
    expect(JSON.parse(out)).toEqual({ name: 'ApprovalError', code: 'invalid_config' })
  })
})
