/** Paths for SQLite database files in a temp directory that lives as long as the tests using it. */
import { afterAll, beforeAll } from '@jest/globals'
import { mkdtempSync, rmSync } from 'node:fs'
import { tmpdir } from 'node:os'
import { join } from 'node:path'

export interface TempSqliteFiles {
  /** A path no store has used yet. */
  fresh(): string
  /** Another file (a script, a copy) in the same directory. */
  pathOf(name: string): string
}

/**
 * Creates the directory before the tests of the enclosing file or `describe` block and removes
 * it with everything in it after them. Call at the top level of that file or block.
 */
export function tempSqliteFiles(label: string): TempSqliteFiles {
  let dir: string | undefined
  let count = 0
  beforeAll(() => {
    dir = mkdtempSync(join(tmpdir(), `ag-${label}-`))
  })
  afterAll(() => {
    if (dir) rmSync(dir, { recursive: true, force: true })
  })
  const pathOf = (name: string): string => {
    if (!dir) throw new Error('tempSqliteFiles: used outside the tests of the block that created it')
    return join(dir, name)
  }
  return { fresh: () => pathOf(`${label}-${++count}.sqlite`), pathOf }
}
