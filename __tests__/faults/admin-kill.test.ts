/**
 * Fault: kill -9 of a process making admin changes on SQLite (see `helpers/admin-kill.ts`):
 * afterwards every stored change has its audit event, every event its change, and the chain verifies.
 */
import { describe, it } from '@jest/globals'
import { adminKillPath, killRepeatedly } from '../helpers/admin-kill.js'

describe('kill -9 during admin changes', () => {
  it('leaves no change without its audit event on SQLite', async () => {
    await killRepeatedly({ kind: 'sqlite', path: adminKillPath('admin.db') })
  }, 60_000)
})
