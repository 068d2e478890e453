/** The audit API: list with filters and pagination, NDJSON/CSV export, and chain verification. */
import { DatabaseSync } from 'node:sqlite'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, expect, it } from '@jest/globals'
import { csvCell } from '../../src/server/audit/audit-export.js'
import { DATABASE_FILE } from '../../src/server/server.js'
import { call, startTestServer, type TestServer } from './helpers.js'

let t: TestServer
const ids: string[] = []
beforeAll(async () => {
  t = await startTestServer()
  const create = (json: unknown) => call(t.url, 'POST', '/v1/approvals', { key: t.keys.request, json })
  ids.push((await create({ action: 'deploy', agent: 'ci' })).body.id)
  ids.push((await create({ action: 'migrate', agent: 'ops' })).body.id)
  ids.push((await create({ action: '=HYPERLINK("http://evil")', agent: '+cmd' })).body.id)
  await call(t.url, 'POST', `/v1/approvals/${ids[0]}/decision`, { key: t.keys.decide, json: { decision: 'approve', reason: 'ok, "fine"' } })
  await call(t.url, 'POST', `/v1/approvals/${ids[1]}/decision`, { key: t.keys.admin, json: { decision: 'reject', reason: '@risky\nsecond line' } })
  await call(t.url, 'POST', `/v1/approvals/${ids[2]}/cancel`, { key: t.keys.request, json: { reason: '-withdrawn' } })
})
afterAll(async () => {
  await t?.close()
})

describe('audit list', () => {
  it('lists events newest first with filters and a cursor', async () => {
    const all = await call(t.url, 'GET', '/v1/audit', { key: t.keys.decide })
    expect(all.status).toBe(200)
    expect(all.body.items.map((e: { type: string }) => e.type)).toEqual(['cancelled', 'rejected', 'approved', 'created', 'created', 'created'])
    expect(all.body.items[0]).toMatchObject({ seq: 6, approval_id: ids[2], actor: 'key:request-key', reason: '-withdrawn', hash: expect.any(String), prev_hash: expect.any(String) })
    expect(all.body.next_cursor).toBeNull()

    const page = await call(t.url, 'GET', '/v1/audit?limit=4', { key: t.keys.decide })
    expect(page.body.items).toHaveLength(4)
    const rest = await call(t.url, 'GET', `/v1/audit?limit=4&cursor=${encodeURIComponent(page.body.next_cursor)}`, { key: t.keys.decide })
    expect(rest.body.items.map((e: { seq: number }) => e.seq)).toEqual([2, 1])

    const byOutcome = await call(t.url, 'GET', '/v1/audit?outcome=rejected', { key: t.keys.decide })
    expect(byOutcome.body.items.map((e: { approval_id: string }) => e.approval_id)).toEqual([ids[1]])
    const byApprover = await call(t.url, 'GET', `/v1/audit?approver=${encodeURIComponent('key:decide-key')}`, { key: t.keys.decide })
    expect(byApprover.body.items.map((e: { type: string }) => e.type)).toEqual(['approved'])
    const byAction = await call(t.url, 'GET', '/v1/audit?action=migrate', { key: t.keys.decide })
    expect(byAction.body.items).toHaveLength(2)
    const byAgent = await call(t.url, 'GET', '/v1/audit?agent=ci', { key: t.keys.decide })
    expect(byAgent.body.items).toHaveLength(2)
    const future = await call(t.url, 'GET', `/v1/audit?from=${encodeURIComponent(new Date(Date.now() + 60_000).toISOString())}`, { key: t.keys.decide })
    expect(future.body.items).toEqual([])
  })
})

describe('audit export', () => {
  it('streams NDJSON, oldest first, one event per line', async () => {
    const exported = await call(t.url, 'GET', '/v1/audit/export?format=ndjson', { key: t.keys.decide })
    expect(exported.status).toBe(200)
    expect(exported.headers.get('content-type')).toContain('application/x-ndjson')
    expect(exported.headers.get('content-disposition')).toContain('audit-main.ndjson')
    const events = exported.text.trim().split('\n').map((line) => JSON.parse(line))
    expect(events.map((e) => e.seq)).toEqual([1, 2, 3, 4, 5, 6])
    // Default format is NDJSON; filters apply.
    const filtered = await call(t.url, 'GET', '/v1/audit/export?outcome=approved', { key: t.keys.decide })
    expect(filtered.text.trim().split('\n')).toHaveLength(1)
  })

  it('streams CSV with escaped, formula-safe cells', async () => {
    const exported = await call(t.url, 'GET', '/v1/audit/export?format=csv', { key: t.keys.decide })
    expect(exported.headers.get('content-type')).toContain('text/csv')
    const lines = exported.text.split('\r\n')
    expect(lines[0]).toBe('seq,at,type,approval_id,action,agent,actor,reason,prev_hash,hash')
    expect(exported.text).toContain(`"'=HYPERLINK(""http://evil"")"`)
    expect(exported.text).toContain(`'+cmd`)
    expect(exported.text).toContain(`"'@risky\nsecond line"`)
    expect(exported.text).toContain(`'-withdrawn`)
    expect(exported.text).toContain(`"ok, ""fine"""`)
  })

  it('csvCell covers the formula prefixes', () => {
    expect(csvCell('=1+1')).toBe("'=1+1")
    expect(csvCell('+1')).toBe("'+1")
    expect(csvCell('-1')).toBe("'-1")
    expect(csvCell('@SUM(A1)')).toBe("'@SUM(A1)")
    expect(csvCell('\tx')).toBe("'\tx")
    expect(csvCell(null)).toBe('')
    expect(csvCell(7)).toBe('7')
    expect(csvCell('plain')).toBe('plain')
  })
})

describe('audit verify', () => {
  it('reports an intact chain, then pinpoints an edited event', async () => {
    const ok = await call(t.url, 'GET', '/v1/audit/verify', { key: t.keys.decide })
    expect(ok.body).toEqual({ ok: true, events: 6, head: expect.any(String) })

    // Tamper behind the server's back, as someone with file access would.
    const db = new DatabaseSync(join(t.dataDir, DATABASE_FILE))
    try {
      // The store guards the table with append-only triggers; a tamperer drops them first.
      const triggers = db.prepare("SELECT name FROM sqlite_master WHERE type = 'trigger' AND tbl_name = 'audit_events'").all() as Array<{ name: string }>
      for (const { name } of triggers) db.exec(`DROP TRIGGER "${name}"`)
      db.prepare("UPDATE audit_events SET reason = 'looks fine' WHERE seq = 5 AND project_id = ?").run(t.project.id)
    } finally {
      db.close()
    }
    const tampered = await call(t.url, 'GET', '/v1/audit/verify', { key: t.keys.decide })
    expect(tampered.body).toMatchObject({ ok: false, seq: 5, problem: 'hash_mismatch' })
  })
})
