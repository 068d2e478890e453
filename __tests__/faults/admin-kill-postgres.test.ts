/**
 * Fault: kill -9 of a process making admin changes on PostgreSQL (see `helpers/admin-kill.ts`):
 * the killed connection's open transactions are rolled back whole, so every stored change has
 * its audit event, every event its change, and the chain verifies.
 */
import { it } from '@jest/globals'
import { killRepeatedly } from '../helpers/admin-kill.js'
import { describeWithPostgres } from '../store/temp-postgres.js'

describeWithPostgres('kill -9 during admin changes on PostgreSQL', (cluster) => {
  it('leaves no change without its audit event on PostgreSQL', async () => {
    await killRepeatedly({ kind: 'postgres', connection: await cluster.createDatabase() })
  }, 60_000)
})
