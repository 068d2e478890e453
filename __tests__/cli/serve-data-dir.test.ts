/**
 * `serve --data` that cannot be used: one line naming the path, what is wrong and what to do
 * (exit 3), never a raw EEXIST/ENOTDIR/EACCES or SQLite's "unable to open database file".
 *
 * Tests run as root in CI, where permission bits do not stop anything: the read-only case uses
 * `chattr +i` (immutable directory, which stops root too) when running as root and `chmod 555`
 * otherwise, and is skipped, saying why, where neither works (e.g. a file system without
 * attributes). A read-only file system mount is not tested (it needs mount privileges).
 */
import { execFile } from 'node:child_process'
import { chmod, mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { dataDirOpenError } from '../../src/cli/data-dir.js'
import { CliError } from '../../src/cli/cli-kit.js'
import { runCli } from './helpers.js'

const run = promisify(execFile)
let dir: string
const immutable: string[] = []

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), 'approval-gate-data-dir-'))
  await writeFile(join(dir, 'a-file'), 'not a directory')
})
afterAll(async () => {
  for (const path of immutable) await run('chattr', ['-i', path]).catch(() => {})
  await rm(dir, { recursive: true, force: true })
})

const FIX = 'pass --data (or APPROVAL_GATE_DATA) with a directory the user running approval-gate can write to'

async function serve(data: string) {
  return runCli(['serve', '--port', '0', '--quiet', '--data', data])
}

/** Makes `path` a directory this process cannot create files in, or says why it cannot. */
async function makeReadOnly(path: string): Promise<string | null> {
  await mkdir(path)
  if (process.getuid?.() !== 0) {
    await chmod(path, 0o555)
    return null
  }
  try {
    await run('chattr', ['+i', path])
    immutable.push(path)
    return null
  } catch (error) {
    return `running as root and chattr +i failed: ${(error as { stderr?: string }).stderr?.trim() || (error as Error).message}`
  }
}

describe('serve --data that cannot be used', () => {
  it('a file where the directory should be', async () => {
    const data = join(dir, 'a-file')
    const result = await serve(data)
    expect(result.code).toBe(3)
    expect(result.stderr).toBe(`approval-gate: data directory ${data} is a file, not a directory; ${FIX}\n`)
  })

  it('a file above the directory (ENOTDIR), named', async () => {
    const data = join(dir, 'a-file', 'data', 'deeper')
    const result = await serve(data)
    expect(result.code).toBe(3)
    expect(result.stderr).toBe(`approval-gate: cannot create data directory ${data}: ${join(dir, 'a-file')} is a file, not a directory; ${FIX}\n`)
  })

  it('a read-only directory, and a directory that cannot be created in it', async () => {
    const readOnly = join(dir, 'read-only')
    const skip = await makeReadOnly(readOnly)
    if (skip) {
      process.stderr.write(`serve-data-dir: SKIPPING the read-only case: ${skip}\n`)
      return
    }
    const result = await serve(readOnly)
    expect(result.code).toBe(3)
    expect(result.stderr).toMatch(
      new RegExp(`^approval-gate: data directory ${readOnly} is not writable \\((permission denied \\(EACCES\\)|operation not permitted \\(EPERM\\))\\); approval-gate keeps approval-gate.db and its -wal and -shm files there: make it writable for this user, or ${FIX.replace(/[()]/g, '\\$&')}\\n$`),
    )
    const inside = join(readOnly, 'data')
    const nested = await serve(inside)
    expect(nested.code).toBe(3)
    expect(nested.stderr).toMatch(new RegExp(`^approval-gate: cannot create data directory ${inside}: (permission denied \\(EACCES\\)|operation not permitted \\(EPERM\\)) in ${readOnly}; create it yourself, or `))
    expect(nested.stderr.split('\n')).toHaveLength(2)
  })

  it("SQLite's cannot-open and read-only errors name the database file", () => {
    const sqlite = Object.assign(new Error('unable to open database file'), { code: 'ERR_SQLITE_ERROR', errcode: 14 })
    const translated = dataDirOpenError('/srv/data', sqlite)
    expect(translated).toBeInstanceOf(CliError)
    expect((translated as Error).message).toMatch(/^cannot open the database \/srv\/data\/approval-gate\.db: unable to open database file; /)
    const readonly = Object.assign(new Error('attempt to write a readonly database'), { code: 'ERR_SQLITE_ERROR', errcode: 8 })
    expect(dataDirOpenError('/srv/data', readonly)).toBeInstanceOf(CliError)
    const other = Object.assign(new Error('no such table'), { code: 'ERR_SQLITE_ERROR', errcode: 1 })
    expect(dataDirOpenError('/srv/data', other)).toBe(other)
  })
})
