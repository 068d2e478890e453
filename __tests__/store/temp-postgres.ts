/**
 * A throwaway PostgreSQL cluster for tests: `initdb` into a temp dir, `pg_ctl start` on a
 * free loopback port, one fresh database per store, `pg_ctl stop` and delete at the end.
 * Uses Debian's server binaries (/usr/lib/postgresql/<version>/bin, or PG_BIN). PostgreSQL
 * refuses to run as root, so as root every command runs as the `postgres` user via runuser.
 */
import { execFileSync } from 'node:child_process'
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs'
import { createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { afterAll, beforeAll, describe, it } from '@jest/globals'
import pg from 'pg'

/** What tests use of a cluster: new databases, and superuser SQL in them. */
export interface PostgresCluster {
  /** Connection settings of a new empty database. */
  createDatabase(): Promise<pg.PoolConfig>
  /** Runs SQL as the superuser in a database made by `createDatabase` (for tampering tests). */
  superuserQuery(config: pg.PoolConfig, sql: string): Promise<void>
}

export interface TempPostgres extends PostgresCluster {
  stop(): Promise<void>
}

/** The directory holding initdb and pg_ctl, or null when PostgreSQL is not installed. */
export function findPostgresBin(): string | null {
  const candidates = process.env.PG_BIN
    ? [process.env.PG_BIN]
    : existsSync('/usr/lib/postgresql')
      ? readdirSync('/usr/lib/postgresql')
          .sort((a, b) => Number(b) - Number(a))
          .map((version) => join('/usr/lib/postgresql', version, 'bin'))
      : []
  return candidates.find((dir) => existsSync(join(dir, 'initdb')) && existsSync(join(dir, 'pg_ctl'))) ?? null
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.once('error', reject)
    server.listen(0, '127.0.0.1', () => {
      const address = server.address()
      server.close(() => (typeof address === 'object' && address ? resolve(address.port) : reject(new Error('no port'))))
    })
  })
}

/** True under a CI runner (`CI` set to anything but `false`/`0`/empty), where skipping is not allowed. */
export function runningInCi(): boolean {
  const ci = (process.env.CI ?? '').trim().toLowerCase()
  return ci !== '' && ci !== 'false' && ci !== '0'
}

/** Starts a cluster; `bin` from `findPostgresBin()`. */
export async function startTempPostgres(bin: string): Promise<TempPostgres> {
  const asRoot = process.getuid?.() === 0
  const run = (tool: string, args: string[]) => {
    const [command, commandArgs] = asRoot ? ['runuser', ['-u', 'postgres', '--', join(bin, tool), ...args]] : [join(bin, tool), args]
    execFileSync(command, commandArgs, { stdio: 'pipe', timeout: 60_000 })
  }

  const dir = mkdtempSync(join(tmpdir(), 'ag-pg-'))
  if (asRoot) {
    const uid = Number(execFileSync('id', ['-u', 'postgres']).toString())
    const gid = Number(execFileSync('id', ['-g', 'postgres']).toString())
    chownSync(dir, uid, gid)
  }
  const data = join(dir, 'data')
  const port = await freePort()
  try {
    run('initdb', ['-D', data, '-U', 'postgres', '-A', 'trust', '-E', 'UTF8', '--locale=C.UTF-8', '--no-sync'])
    // Durability is irrelevant for a throwaway test cluster; speed is not.
    const options = `-p ${port} -c listen_addresses=127.0.0.1 -c unix_socket_directories=${dir} -c fsync=off -c synchronous_commit=off -c full_page_writes=off`
    run('pg_ctl', ['-D', data, '-o', options, '-l', join(dir, 'server.log'), '-w', '-t', '30', 'start'])
  } catch (error) {
    rmSync(dir, { recursive: true, force: true })
    throw error
  }

  const base: pg.PoolConfig = { host: '127.0.0.1', port, user: 'postgres' }
  const admin = new pg.Client({ ...base, database: 'postgres' })
  await admin.connect()
  let databases = 0

  return {
    async createDatabase() {
      const database = `store_${++databases}`
      await admin.query(`CREATE DATABASE ${database}`)
      return { ...base, database, max: 8 }
    },
    async superuserQuery(config, sql) {
      const client = new pg.Client({ ...base, database: config.database })
      await client.connect()
      try {
        await client.query(sql)
      } finally {
        await client.end()
      }
    },
    async stop() {
      await admin.end().catch(() => {})
      try {
        run('pg_ctl', ['-D', data, '-m', 'immediate', '-w', 'stop'])
      } finally {
        rmSync(dir, { recursive: true, force: true })
      }
    },
  }
}

/**
 * Registers the tests `define` adds under `describe(title)`, on one throwaway cluster
 * started before them (file-level `beforeAll`) and stopped after every hook of theirs has
 * run (file-level `afterAll`, so their servers close while the database is still up).
 * Without the server binaries it warns once and registers a single skipped test instead,
 * so machines without PostgreSQL stay green — except under CI (`CI` set and not `false`/`0`),
 * where a missing PostgreSQL is a broken runner: the suite then fails with one test saying so.
 * A cluster that is found but cannot start fails every test in both cases (its `beforeAll`
 * throws). `cluster` may only be used inside tests and hooks: it starts after registration.
 */
export function describeWithPostgres(title: string, define: (cluster: PostgresCluster) => void): void {
  const bin = findPostgresBin()
  if (!bin) {
    const where = process.env.PG_BIN ? `in PG_BIN (${process.env.PG_BIN})` : 'under /usr/lib/postgresql/*/bin'
    if (runningInCi()) {
      describe(title, () => {
        it('needs PostgreSQL server binaries (CI must run the PostgreSQL suites)', () => {
          throw new Error(`CI=${process.env.CI}: no PostgreSQL server binaries (initdb, pg_ctl) ${where}. Install postgresql (.ci/run does it with apt) or set PG_BIN.`)
        })
      })
      return
    }
    console.warn(`Skipping "${title}": no PostgreSQL server binaries (initdb, pg_ctl) ${where}; set PG_BIN to run them.`)
    describe(title, () => {
      it.skip('needs PostgreSQL server binaries', () => {})
    })
    return
  }
  let running: TempPostgres | null = null
  const started = (): TempPostgres => {
    if (!running) throw new Error('the temp PostgreSQL cluster is not running: use it inside tests and hooks only')
    return running
  }
  beforeAll(async () => {
    running = await startTempPostgres(bin)
  }, 60_000)
  afterAll(async () => {
    await running?.stop()
    running = null
  }, 30_000)
  describe(title, () =>
    define({
      createDatabase: () => started().createDatabase(),
      superuserQuery: (config, sql) => started().superuserQuery(config, sql),
    }),
  )
}
