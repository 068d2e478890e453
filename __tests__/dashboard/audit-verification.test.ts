/**
 * The audit page's chain status is reused for a while instead of re-verifying the whole trail
 * on every load, yet still reports tampering once the reuse window ends. The clock is injected,
 * so "60 s later" costs no waiting.
 */
import { afterAll, beforeAll, describe, expect, it, jest } from '@jest/globals'
import type { FastifyInstance } from 'fastify'
import { mkdtempSync, rmSync } from 'node:fs'
import type { AddressInfo } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { DatabaseSync } from 'node:sqlite'
import { buildApp } from '../../src/server/app.js'
import { createApprovalService } from '../../src/server/approvals/approval-service.js'
import { hashPassword } from '../../src/server/auth/secrets.js'
import { InMemoryNotifier } from '../../src/server/approvals/notifier.js'
import { openSqliteStore } from '../../src/server/store/sqlite/index.js'
import type { Project, Store } from '../../src/server/store/types.js'
import { approvalFor } from '../store/approval-input.js'
import { ADMIN, FormClient } from './fixture.js'

const MAX_AGE_MS = 60_000

let dir: string
let file: string
let store: Store
let app: FastifyInstance
let project: Project
let client: FormClient
let clock = Date.parse('2030-01-01T00:00:00.000Z')

beforeAll(async () => {
  dir = mkdtempSync(join(tmpdir(), 'ag-audit-verify-'))
  file = join(dir, 'approval-gate.db')
  store = await openSqliteStore(file)
  project = await store.createProject('main')
  const admin = await store.createUser({ email: ADMIN.email, password_hash: await hashPassword(ADMIN.password) })
  await store.setMembership(project.id, admin.id, 'admin')
  for (const action of ['a1', 'a2', 'a3']) await store.createApproval(approvalFor(project, { action }))
  const notifier = new InMemoryNotifier()
  app = await buildApp({
    store,
    notifier,
    approvals: createApprovalService(store, notifier),
    publicUrl: 'http://127.0.0.1',
    auditVerification: { maxAgeMs: MAX_AGE_MS, now: () => clock },
  })
  await app.listen({ port: 0, host: '127.0.0.1' })
  client = new FormClient(`http://127.0.0.1:${(app.server.address() as AddressInfo).port}`)
  expect(await client.login(ADMIN.email, ADMIN.password)).toBe(303)
})

afterAll(async () => {
  await app?.close()
  await store?.close()
  rmSync(dir, { recursive: true, force: true })
})

/** The chain status paragraph of /audit, as text. */
async function chainStatus(): Promise<string> {
  const page = await client.request('GET', '/audit')
  expect(page.status).toBe(200)
  const match = /<p class="chain[^"]*"[^>]*>([\s\S]*?)<\/p>/.exec(page.text)
  if (!match) throw new Error('no chain status on /audit')
  return match[1].replace(/<[^>]+>/g, '')
}

describe('audit page chain status', () => {
  it('reuses a verification while the head is unchanged, re-verifies on a new event, and reports tampering once the reuse window ends', async () => {
    const verify = jest.spyOn(store, 'verifyAudit')

    expect(await chainStatus()).toMatch(/Hash chain intact: 3 events, .*\(verified 0s ago\)/)
    expect(verify).toHaveBeenCalledTimes(1)

    clock += 12_000
    expect(await chainStatus()).toMatch(/Hash chain intact: 3 events, .*\(verified 12s ago\)/)
    expect(verify).toHaveBeenCalledTimes(1) // reused

    // A new event moves the head: verified again at once, however young the last result.
    await store.createApproval(approvalFor(project, { action: 'a4' }))
    expect(await chainStatus()).toMatch(/Hash chain intact: 4 events, .*\(verified 0s ago\)/)
    expect(verify).toHaveBeenCalledTimes(2)

    // Someone with the file edits an old event behind the store's back (the newest stays put).
    const db = new DatabaseSync(file)
    try {
      db.exec(
        "DROP TRIGGER audit_events_no_update; DROP TRIGGER audit_events_no_delete; DROP TRIGGER audit_heads_forward_only; DROP TRIGGER audit_heads_no_delete; UPDATE audit_events SET actor = 'mallory' WHERE seq = 2",
      )
    } finally {
      db.close()
    }

    // Within the window the page may still show the older result — and says how old it is.
    clock += MAX_AGE_MS - 1
    expect(await chainStatus()).toMatch(/Hash chain intact: 4 events, .*\(verified 59s ago\)/)
    expect(verify).toHaveBeenCalledTimes(2)

    // Once it ends, the page verifies again and reports the edit.
    clock += 1
    expect(await chainStatus()).toMatch(/Tampered.*Hash chain broken: event #2 was edited after it was written\..*\(verified 0s ago\)/)
    expect(verify).toHaveBeenCalledTimes(3)
    verify.mockRestore()
  })
})
