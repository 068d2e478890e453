/**
 * The `Store` on PostgreSQL, for several server replicas sharing one database. Same model
 * and rules as the SQLite store; concurrency comes from the database instead of a single
 * writer:
 * - first decision wins through a conditional `UPDATE … WHERE status = 'pending'`: a second
 *   transaction waits for the row lock, re-checks the condition and updates nothing;
 * - each project's audit chain is serialised by locking its head row `FOR UPDATE`;
 * - idempotent create uses `INSERT … ON CONFLICT DO NOTHING` on (project_id, idempotency_key);
 * - expiry takes due rows `FOR UPDATE SKIP LOCKED`, so replicas expiring at once never wait
 *   on each other or on a decision in flight, and takes chain heads in a fixed order.
 *
 * Why this file is long: it is one class implementing the whole `Store` interface (about 50
 * methods) for this backend, each a transaction of a few lines. The SQL-free halves that both
 * backends share already live beside it (record-builders, rows, inputs, audit-chain,
 * audit-verification); splitting the class further would scatter each transaction's locking rules.
 */
import pg from 'pg'
import type { AuditKey } from '../audit-key.js'
import { GENESIS_HASH, headMac, type AuditCheckpoint, type AuditEventInput } from '../audit-chain.js'
import { AuditVerifications, type AuditReader } from '../audit-verification.js'
import { StoreError } from '../errors.js'
import { BulkNotCommitted, isRetryable, PgGroupCommit, refusedBeforeCommit, TRANSACTION_ATTEMPTS, type BulkOutcome } from './group-commit.js'
import { eventAfter, planVoteBatch, type ChainPosition, type QueuedVote, type VoteBatchPlan, type VotedApproval } from './vote-batch.js'
import { lockChainOf, voteBatchWrite, voteRead, voteReadOf, VOTE_ROWS, type Literal } from './vote-sql.js'
import { deliveriesForEvents, DELIVERY_COLUMNS, deliveryValues, newChannel, newDelivery, reminderDue, toChannel, toChannelHealth, toDelivery } from '../channel-records.js'
import { SecretBox } from '../secret-box.js'
import { checkRole, cursorBound, emailKey, idempotencyCutoff, mergeProjectSettings, optionalIsoBound, pageLimit } from '../inputs.js'
import {
  adminAuditInput,
  adminChangeInput,
  changedSomething,
  cancelChange,
  createdEvent,
  decisionChange,
  keyTouchThreshold,
  newApprovalRecord,
  newApiKeyInfo,
  newInvitation,
  newProject,
  newPolicyVersion,
  newGithubMapping,
  newTrustRule,
  newUser,
  pageOf,
  planVote,
  settledEvent,
  snapshotProblem,
  timedOutEvent,
  voteEvent,
  type SettleChange,
} from '../record-builders.js'
import { type Row, rowSeq, textOrNull, toApiKey, toApproval, toAuditEvent, toChainHead, toGithubGate, toGithubMapping, toInvitation, toMember, toPolicyVersion, toProject, toProjectMembership, toRole, toSession, toStoredVote, toTrustRule, toUser, toUserWithPassword, votesByApproval } from '../rows.js'
import type {
  AcceptedInvitation,
  AdminAudit,
  AdminEventInput,
  ApiKeyInfo,
  Approval,
  ApprovalFilter,
  AuditEvent,
  AuditFilter,
  AuditVerification,
  AuditVerifyOptions,
  ChangeResult,
  CheckpointVerification,
  Channel,
  ChannelHealth,
  ClaimedDelivery,
  CreateResult,
  Decision,
  Delivery,
  DeliveryAttempt,
  Invitation,
  InvitationAcceptor,
  Member,
  NewApiKey,
  NewApproval,
  NewChannel,
  NewInvitation,
  NewPolicyVersion,
  NewTrustRule,
  NewGithubGate,
  NewGithubMapping,
  GithubCallbackAttempt,
  GithubGate,
  GithubMapping,
  NewVote,
  Page,
  PolicyVersion,
  Project,
  ProjectMembership,
  ProjectSettings,
  Role,
  Session,
  Store,
  StoredVote,
  TrustRule,
  User,
  UserWithPassword,
  VoteCounter,
  VoteResult,
} from '../types.js'

type Queryable = pg.Pool | pg.PoolClient

/** The chain position a batch transaction holds the lock of, moved by each append in it. */
interface ChainCursor extends ChainPosition {
  projectId: string
}

/** Rows fetched per query while exporting or verifying. */
const BATCH = 1000

/** The read one vote is planned from (see `voteRead`). */
const VOTE_READ = voteRead('$1', '$2::text[]')

/**
 * A counted vote's writes, in one statement: the vote inserted, the earlier votes whose counted
 * groups changed ($9 voters, $10 groups; usually none) updated, and, when the vote settles the
 * approval ($11 status not null), the approval settled and returned.
 */
const VOTE_WRITE = `
  WITH voted AS (
    INSERT INTO votes (approval_id, voter, email, decision, reason, at, groups) VALUES ($2, $3, $4, $5, $6, $7, $8)
  ), regrouped AS (
    UPDATE votes SET groups = recounted.groups
    FROM unnest($9::text[], $10::text[]) AS recounted (voter, groups)
    WHERE votes.approval_id = $2 AND votes.voter = recounted.voter
  )
  UPDATE approvals SET status = $11, reason = $12, decided_by = $13, decided_at = $14
  WHERE project_id = $1 AND id = $2 AND status = 'pending' AND $11::text IS NOT NULL
  RETURNING *`

/**
 * One approval with its votes in one round trip (every decide, poll and waiter answer reads one;
 * a second query for the votes was a second round trip each, on a machine where round trips are
 * context switches). One statement also reads row and votes from one snapshot.
 */
const APPROVAL_WITH_VOTES = `SELECT a.*, ${VOTE_ROWS} FROM approvals a`

/** An approval read with its `vote_rows` column (`VOTE_ROWS`; null when it has no votes). */
function approvalWithVotes(row: Row): Approval {
  const json = row.vote_rows
  if (json === null || json === undefined) return toApproval(row, [])
  if (!Array.isArray(json)) throw new Error('corrupt database: the votes of an approval should read as a JSON list of rows')
  return toApproval(row, (json as Row[]).map(toStoredVote))
}

/** The approvals a vote batch read (`voteRead` rows), by id. */
function votedApprovals(rows: Row[]): Map<string, VotedApproval> {
  const read = new Map<string, VotedApproval>()
  for (const row of rows) {
    const approval = approvalWithVotes(row)
    read.set(approval.id, { approval, createdContextHash: textOrNull(row, 'created_context_hash'), createdReason: textOrNull(row, 'created_reason') })
  }
  return read
}

/** Each approval a batch of votes votes on, once. */
function approvalIdsOf(votes: QueuedVote[]): string[] {
  return [...new Set(votes.map((vote) => vote.approvalId))]
}

/** Where the chain ends from `lockChainOf`'s two results (the head, its event); null for an unknown project. */
function chainPositionOf(projectId: string, head: pg.QueryResult, last: pg.QueryResult): ChainPosition | null {
  const headRow = head.rows[0] as Row | undefined
  if (!headRow) return null
  const position = toChainHead(headRow)
  const lastRow = last.rows[0] as Row | undefined
  if (position.seq !== 0 && Number(lastRow?.seq) !== position.seq) throw new Error(`corrupt database: project ${projectId}'s audit chain head names event ${position.seq}, which is missing`)
  return { seq: position.seq, hash: position.hash, lastMac: typeof lastRow?.mac === 'string' ? lastRow.mac : null }
}

/**
 * Quotes values as SQL literals for `client` (for statements that travel with BEGIN or COMMIT).
 * A NUL would end the simple query's text early on the wire, so it is refused here instead
 * (with a parameter the server refuses it as `invalid`, which the unit-by-unit rerun answers).
 */
function literalOn(client: pg.PoolClient): Literal {
  return (value) => {
    if (typeof value !== 'string' || value.includes('\u0000')) throw new StoreError('invalid', 'text contains characters PostgreSQL cannot store (such as NUL)')
    return client.escapeLiteral(value)
  }
}

/** Maps PostgreSQL errors (SQLSTATE) to `StoreError`s callers can branch on. */
function translatePgError(error: unknown, what: string): unknown {
  switch ((error as { code?: unknown }).code) {
    case '23505': // unique_violation
      return new StoreError('conflict', `${what} already exists`)
    case '23503': // foreign_key_violation
      return new StoreError('not_found', `${what}: the project or user it refers to does not exist`)
    case '22021': // character_not_in_repertoire (e.g. a NUL character)
    case '22P05': // untranslatable_character
      return new StoreError('invalid', `${what}: text contains characters PostgreSQL cannot store (such as NUL)`)
    default:
      return error
  }
}

/** A WHERE clause built from optional filters with numbered placeholders. */
class Conditions {
  readonly values: unknown[] = []
  private readonly clauses: string[] = []

  /** Adds `clause` (with `?` standing for the value) when `value` is given. */
  add(clause: string, value: unknown): void {
    if (value === undefined) return
    this.values.push(value)
    this.clauses.push(`(${clause.replace('?', `$${this.values.length}`)})`)
  }

  /** A placeholder for one more value (LIMIT, keyset bounds). */
  param(value: unknown): string {
    this.values.push(value)
    return `$${this.values.length}`
  }

  sql(): string {
    return this.clauses.join(' AND ')
  }
}

export class PostgresStore implements Store {
  private readonly pool: pg.Pool
  private readonly key: AuditKey
  private readonly verifications: AuditVerifications
  private readonly groupCommit: PgGroupCommit<QueuedVote> | null
  /** Per connection, while it runs a batch: the locked chain's position (see `appendAudit`). */
  private readonly cursors = new WeakMap<pg.PoolClient, ChainCursor>()
  private readonly secrets: SecretBox
  private closed = false

  /** `groupCommit: false` gives every write its own transaction and commit (the pre-batching behaviour, kept for comparison). */
  constructor(pool: pg.Pool, key: AuditKey, options: { groupCommit?: boolean } = {}) {
    this.pool = pool
    this.key = key
    this.groupCommit =
      options.groupCommit === false
        ? null
        : new PgGroupCommit<QueuedVote>({
            pool,
            // The chain head first: a batch then holds its project's lock before any row lock,
            // and its units append from the position kept in memory (no head reads per unit).
            begin: async (client, projectId) => {
              const position = await this.beginLockedChain(client, projectId)
              if (position) this.cursors.set(client, { projectId, ...position })
            },
            endBatch: (client) => void this.cursors.delete(client),
            runBulk: (client, projectId, votes) => this.recordVoteBatch(client, projectId, votes),
            commitBulk: (client, projectId, votes) => this.commitVoteBatch(client, projectId, votes),
          })
    this.verifications = new AuditVerifications(key, this.auditReader())
    this.secrets = new SecretBox(key)
  }

  // --- plumbing -------------------------------------------------------------------------

  private async rows(sql: string, values: unknown[] = [], db: Queryable = this.pool): Promise<Row[]> {
    if (this.closed) throw new Error('the store is closed')
    return (await db.query(sql, values)).rows as Row[]
  }

  private async row(sql: string, values: unknown[] = [], db: Queryable = this.pool): Promise<Row | undefined> {
    return (await this.rows(sql, values, db))[0]
  }

  private async run(sql: string, values: unknown[] = [], db: Queryable = this.pool): Promise<number> {
    if (this.closed) throw new Error('the store is closed')
    return (await db.query(sql, values)).rowCount ?? 0
  }

  /** Runs `work` in a READ COMMITTED transaction on one pooled connection, retrying deadlocks. */
  private async transaction<T>(what: string, work: (client: pg.PoolClient) => Promise<T>): Promise<T> {
    if (this.closed) throw new Error('the store is closed')
    for (let attempt = 1; ; attempt++) {
      const client = await this.pool.connect()
      try {
        await client.query('BEGIN')
        const result = await work(client)
        await client.query('COMMIT')
        return result
      } catch (error) {
        await client.query('ROLLBACK').catch(() => {})
        if (attempt < TRANSACTION_ATTEMPTS && isRetryable(error)) continue
        throw translatePgError(error, what)
      } finally {
        client.release()
      }
    }
  }

  /**
   * A write that appends to `projectId`'s audit chain: with group commit, one unit of that
   * project's next batch transaction (see group-commit.ts), else a transaction of its own.
   */
  private batched<T>(projectId: string, what: string, work: (client: pg.PoolClient) => Promise<T>, bulk?: QueuedVote): Promise<T> {
    if (this.closed) return Promise.reject(new Error('the store is closed'))
    if (!this.groupCommit) return this.transaction(what, work)
    const unit = async (client: pg.PoolClient) => {
      const cursor = this.cursors.get(client)
      const before = cursor && { ...cursor }
      try {
        return await work(client)
      } catch (error) {
        // The unit's savepoint is rolled back, its append with it: so is the position.
        if (cursor && before) Object.assign(cursor, before)
        throw error
      }
    }
    return this.groupCommit.run(projectId, unit, (error) => translatePgError(error, what), bulk)
  }

  /** Locks `projectId`'s chain head and reads where the chain ends (`lockChainOf`, one round trip); null for an unknown project. */
  private async lockChain(client: pg.PoolClient, projectId: string): Promise<ChainPosition | null> {
    if (this.closed) throw new Error('the store is closed')
    const results = (await client.query(lockChainOf(literalOn(client), projectId))) as unknown as pg.QueryResult[]
    return chainPositionOf(projectId, results[0], results[1])
  }

  /**
   * Opens a batch's transaction and locks `projectId`'s chain (as `lockChain`) in one round trip:
   * BEGIN and `lockChainOf`'s statements in one simple query (the id as an escaped literal).
   */
  private async beginLockedChain(client: pg.PoolClient, projectId: string): Promise<ChainPosition | null> {
    if (this.closed) throw new Error('the store is closed')
    const results = (await client.query(`BEGIN; ${lockChainOf(literalOn(client), projectId)}`)) as unknown as pg.QueryResult[]
    return chainPositionOf(projectId, results[1], results[2])
  }

  /**
   * Appends one audit event; the head row lock serialises appends to one project's chain.
   * Inside a batch the lock is already held and the position is in memory, so an append is one
   * statement (the event inserted and the head moved together); otherwise the head is locked
   * and read first.
   */
  private async appendAudit(client: pg.PoolClient, input: AuditEventInput): Promise<AuditEvent> {
    const cursor = this.cursors.get(client)
    const inBatch = cursor?.projectId === input.project_id ? cursor : undefined
    const position = inBatch ?? (await this.lockChain(client, input.project_id))
    if (!position) throw new Error(`corrupt database: project ${input.project_id} has no audit chain head`)
    const event = eventAfter(this.key, position, input)
    await this.run(
      `WITH appended AS (
         INSERT INTO audit_events (project_id, seq, type, approval_id, action, agent, actor, reason, at, context_hash, prev_hash, hash, prev_mac, mac, sealed_at, claims_hash)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14, $15, $17)
       )
       UPDATE audit_heads SET seq = $2, hash = $12, mac = $16 WHERE project_id = $1`,
      [
        event.project_id,
        event.seq,
        event.type,
        event.approval_id,
        event.action,
        event.agent,
        event.actor,
        event.reason,
        event.at,
        event.context_hash,
        event.prev_hash,
        event.hash,
        event.prev_mac,
        event.mac,
        event.sealed_at,
        headMac(this.key, event.project_id, event.seq, event.mac as string),
        event.claims_hash ?? null,
      ],
      client,
    )
    if (inBatch) Object.assign(inBatch, { seq: event.seq, hash: event.hash, lastMac: event.mac })
    return event
  }

  /** Approval rows with their votes, read in one query. */
  private async approvalsOf(rows: Row[], db: Queryable = this.pool): Promise<Approval[]> {
    const votes = await this.votesOf(rows, db)
    return rows.map((row) => toApproval(row, votes.get(String(row.id)) ?? []))
  }

  private async approvalOf(row: Row, db: Queryable = this.pool): Promise<Approval> {
    return (await this.approvalsOf([row], db))[0]
  }

  /** The votes of these approval rows, oldest first per approval. */
  private async votesOf(rows: Row[], db: Queryable = this.pool): Promise<Map<string, StoredVote[]>> {
    if (rows.length === 0) return new Map()
    return votesByApproval(await this.rows('SELECT * FROM votes WHERE approval_id = ANY($1::text[]) ORDER BY seq', [rows.map((row) => String(row.id))], db))
  }

  /** The context hash the approval's `created` event recorded (null for one created before the chain was keyed). */
  private async createdContextHash(client: pg.PoolClient, projectId: string, approvalId: string): Promise<string | null> {
    const row = await this.row("SELECT context_hash FROM audit_events WHERE project_id = $1 AND approval_id = $2 AND type = 'created' ORDER BY seq LIMIT 1", [projectId, approvalId], client)
    return typeof row?.context_hash === 'string' ? row.context_hash : null
  }

  /**
   * A transaction for an admin mutation of `projectId`: with `audit`, the project's chain head is
   * locked first (the order every chain writer takes, so no deadlock with a batch holding it)
   * and the change's event is appended after the change, unless `changed` says it did nothing.
   * Both commit together, or neither does.
   */
  private adminTransaction<T>(
    projectId: string,
    what: string,
    audit: AdminAudit<NonNullable<T>> | undefined,
    work: (client: pg.PoolClient) => Promise<T>,
    changed: (result: T) => boolean = changedSomething,
  ): Promise<T> {
    return this.transaction(what, async (client) => {
      if (audit) await this.run('SELECT 1 FROM audit_heads WHERE project_id = $1 FOR UPDATE', [projectId], client)
      const result = await work(client)
      if (audit && changed(result)) await this.appendAudit(client, adminChangeInput(projectId, audit, result as NonNullable<T>))
      return result
    })
  }

  // --- projects -------------------------------------------------------------------------

  async createProject(name: string, settings: Partial<ProjectSettings> = {}): Promise<Project> {
    const project = newProject(name, settings)
    await this.transaction(`project ${JSON.stringify(name)}`, async (client) => {
      await this.run('INSERT INTO projects (id, name, settings, created_at) VALUES ($1, $2, $3, $4)', [project.id, name, JSON.stringify(project.settings), project.created_at], client)
      await this.run('INSERT INTO audit_heads (project_id, seq, hash) VALUES ($1, 0, $2)', [project.id, GENESIS_HASH], client)
    })
    return project
  }

  async getProject(id: string): Promise<Project | null> {
    const row = await this.row('SELECT * FROM projects WHERE id = $1', [id])
    return row ? toProject(row) : null
  }

  async getProjectByName(name: string): Promise<Project | null> {
    const row = await this.row('SELECT * FROM projects WHERE name = $1', [name])
    return row ? toProject(row) : null
  }

  async listProjects(): Promise<Project[]> {
    return (await this.rows('SELECT * FROM projects ORDER BY name COLLATE "C"')).map(toProject)
  }

  async updateProjectSettings(id: string, patch: Partial<ProjectSettings>, audit?: AdminAudit<Project>): Promise<Project> {
    return this.adminTransaction(id, 'project settings', audit, async (client) => {
      const row = await this.row('SELECT * FROM projects WHERE id = $1 FOR UPDATE', [id], client)
      if (!row) throw new StoreError('not_found', `no project with id ${id}`)
      const project = toProject(row)
      project.settings = mergeProjectSettings(project.settings, patch)
      await this.run('UPDATE projects SET settings = $2 WHERE id = $1', [id, JSON.stringify(project.settings)], client)
      return project
    })
  }

  // --- users and memberships ------------------------------------------------------------

  async createUser(input: { email: string; password_hash: string }): Promise<User> {
    const user = newUser(input)
    try {
      await this.insertUser(user, input.password_hash, this.pool)
    } catch (error) {
      throw translatePgError(error, `a user with email ${JSON.stringify(input.email)}`)
    }
    return user
  }

  private async insertUser(user: User, passwordHash: string, db: Queryable): Promise<void> {
    await this.run('INSERT INTO users (id, email, email_key, password_hash, created_at) VALUES ($1, $2, $3, $4, $5)', [user.id, user.email, emailKey(user.email), passwordHash, user.created_at], db)
  }

  async getUser(id: string): Promise<User | null> {
    const row = await this.row('SELECT * FROM users WHERE id = $1', [id])
    return row ? toUser(row) : null
  }

  async getUserByEmail(email: string): Promise<UserWithPassword | null> {
    const row = await this.row('SELECT * FROM users WHERE email_key = $1', [emailKey(email)])
    return row ? toUserWithPassword(row) : null
  }

  async setPasswordHash(id: string, passwordHash: string): Promise<User> {
    const row = await this.row('UPDATE users SET password_hash = $2 WHERE id = $1 RETURNING *', [id, passwordHash])
    if (!row) throw new StoreError('not_found', `no user with id ${id}`)
    return toUser(row)
  }

  async setMembership(projectId: string, userId: string, role: Role, options: { github_login?: string | null } = {}, audit?: AdminAudit<void>): Promise<void> {
    checkRole(role)
    await this.adminTransaction(projectId, 'membership', audit, async (client) => {
      await this.run(
        `INSERT INTO memberships (project_id, user_id, role, created_at, github_login) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (project_id, user_id) DO UPDATE SET role = excluded.role,
           github_login = CASE WHEN $6 THEN memberships.github_login ELSE excluded.github_login END`,
        [projectId, userId, role, new Date().toISOString(), options.github_login ?? null, options.github_login === undefined],
        client,
      )
    })
  }

  async setMemberGithubLogin(projectId: string, userId: string, login: string | null, audit?: AdminAudit<boolean>): Promise<boolean> {
    return this.adminTransaction(projectId, 'membership', audit, async (client) => (await this.run('UPDATE memberships SET github_login = $3 WHERE project_id = $1 AND user_id = $2', [projectId, userId, login], client)) > 0)
  }

  async setMemberSlackUser(projectId: string, userId: string, slackUserId: string | null, audit?: AdminAudit<boolean>): Promise<boolean> {
    return this.adminTransaction(
      projectId,
      'a member linked to this Slack user',
      audit,
      async (client) => (await this.run('UPDATE memberships SET slack_user_id = $3 WHERE project_id = $1 AND user_id = $2', [projectId, userId, slackUserId], client)) > 0,
    )
  }

  async getMemberBySlackUser(projectId: string, slackUserId: string): Promise<Member | null> {
    const row = await this.row(
      `SELECT users.*, memberships.role, memberships.github_login AS member_github_login, memberships.slack_user_id FROM memberships JOIN users ON users.id = memberships.user_id
       WHERE memberships.project_id = $1 AND memberships.slack_user_id = $2`,
      [projectId, slackUserId],
    )
    return row ? toMember(row) : null
  }

  async removeMembership(projectId: string, userId: string, audit?: AdminAudit<boolean>): Promise<boolean> {
    return this.adminTransaction(projectId, 'membership', audit, async (client) => (await this.run('DELETE FROM memberships WHERE project_id = $1 AND user_id = $2', [projectId, userId], client)) > 0)
  }

  async getMembership(projectId: string, userId: string): Promise<Role | null> {
    const row = await this.row('SELECT role FROM memberships WHERE project_id = $1 AND user_id = $2', [projectId, userId])
    return row ? toRole(row) : null
  }

  async listMembers(projectId: string): Promise<Member[]> {
    const rows = await this.rows(
      `SELECT users.*, memberships.role, memberships.github_login AS member_github_login, memberships.slack_user_id FROM memberships JOIN users ON users.id = memberships.user_id
       WHERE memberships.project_id = $1 ORDER BY users.email_key COLLATE "C"`,
      [projectId],
    )
    return rows.map(toMember)
  }

  async listProjectsForUser(userId: string): Promise<ProjectMembership[]> {
    const rows = await this.rows(
      `SELECT projects.*, memberships.role, memberships.github_login AS member_github_login, memberships.slack_user_id FROM memberships JOIN projects ON projects.id = memberships.project_id
       WHERE memberships.user_id = $1 ORDER BY projects.name COLLATE "C"`,
      [userId],
    )
    return rows.map(toProjectMembership)
  }

  // --- invitations ----------------------------------------------------------------------

  async createInvitation(input: NewInvitation, audit?: AdminAudit<Invitation>): Promise<Invitation> {
    checkRole(input.role)
    const invitation = newInvitation(input)
    return this.adminTransaction(invitation.project_id, 'invitation', audit, async (client) => {
      await this.run(
        `INSERT INTO invitations (id, token_hash, project_id, email, email_key, role, github_login, created_by, created_at, expires_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10)`,
        [
          invitation.id,
          input.token_hash,
          invitation.project_id,
          invitation.email,
          emailKey(invitation.email),
          invitation.role,
          invitation.github_login,
          invitation.created_by,
          invitation.created_at,
          invitation.expires_at,
        ],
        client,
      )
      return invitation
    })
  }

  async getInvitationByToken(tokenHash: string): Promise<Invitation | null> {
    const row = await this.row('SELECT * FROM invitations WHERE token_hash = $1', [tokenHash])
    return row ? toInvitation(row) : null
  }

  async acceptInvitation(tokenHash: string, acceptor: InvitationAcceptor, at: string, audit?: AdminAudit<AcceptedInvitation>): Promise<AcceptedInvitation | null> {
    // The chain head is locked before the invitation, so its project is read first (it never changes).
    const target = await this.row('SELECT project_id FROM invitations WHERE token_hash = $1', [tokenHash])
    if (!target) return null
    return this.adminTransaction(String(target.project_id), 'invitation', audit, async (client): Promise<AcceptedInvitation | null> => {
      // FOR UPDATE: a concurrent acceptance waits here, then finds it accepted.
      const row = await this.row(
        'SELECT * FROM invitations WHERE token_hash = $1 AND accepted_at IS NULL AND revoked_at IS NULL AND expires_at > $2 FOR UPDATE',
        [tokenHash, at],
        client,
      )
      if (!row) return null
      const invitation = toInvitation(row)
      const key = emailKey(invitation.email)
      let user: User
      if ('user_id' in acceptor) {
        const existing = await this.row('SELECT * FROM users WHERE id = $1 AND email_key = $2', [acceptor.user_id, key], client)
        if (!existing) return null
        user = toUser(existing)
      } else {
        if (await this.row('SELECT 1 AS taken FROM users WHERE email_key = $1', [key], client)) return null
        user = newUser({ email: invitation.email })
        await this.insertUser(user, acceptor.new_password_hash, client)
      }
      await this.run('UPDATE invitations SET accepted_at = $2 WHERE id = $1', [invitation.id, at], client)
      await this.run(
        `INSERT INTO memberships (project_id, user_id, role, created_at, github_login) VALUES ($1, $2, $3, $4, $5)
         ON CONFLICT (project_id, user_id) DO UPDATE SET role = CASE WHEN memberships.role = 'admin' THEN 'admin' ELSE excluded.role END,
           github_login = COALESCE(excluded.github_login, memberships.github_login)`,
        [invitation.project_id, user.id, invitation.role, at, invitation.github_login],
        client,
      )
      return { invitation: { ...invitation, accepted_at: at }, user }
    })
  }

  async listOpenInvitations(projectId: string): Promise<Invitation[]> {
    const rows = await this.rows(
      'SELECT * FROM invitations WHERE project_id = $1 AND accepted_at IS NULL AND revoked_at IS NULL ORDER BY created_at DESC, id COLLATE "C"',
      [projectId],
    )
    return rows.map(toInvitation)
  }

  async revokeInvitation(projectId: string, id: string, audit?: AdminAudit<boolean>): Promise<boolean> {
    return this.adminTransaction(projectId, 'invitation', audit, async (client) => {
      const changed = await this.run(
        'UPDATE invitations SET revoked_at = $3 WHERE project_id = $1 AND id = $2 AND accepted_at IS NULL AND revoked_at IS NULL',
        [projectId, id, new Date().toISOString()],
        client,
      )
      return changed > 0
    })
  }

  // --- API keys -------------------------------------------------------------------------

  async createApiKey(input: NewApiKey, audit?: AdminAudit<ApiKeyInfo>): Promise<ApiKeyInfo> {
    const key = newApiKeyInfo(input)
    return this.adminTransaction(key.project_id, 'API key', audit, async (client) => {
      await this.run(
        'INSERT INTO api_keys (id, project_id, name, scopes, key_hash, prefix, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [key.id, key.project_id, key.name, JSON.stringify(key.scopes), input.key_hash, key.prefix, key.created_at],
        client,
      )
      return key
    })
  }

  async findApiKey(keyHash: string): Promise<ApiKeyInfo | null> {
    const row = await this.row('SELECT * FROM api_keys WHERE key_hash = $1 AND revoked_at IS NULL', [keyHash])
    return row ? toApiKey(row) : null
  }

  /** Records use of a key. Skipped when the stored time is under a minute older, to spare a write per request. */
  async touchApiKey(id: string, at: string): Promise<void> {
    const threshold = keyTouchThreshold(at)
    await this.run('UPDATE api_keys SET last_used_at = $2 WHERE id = $1 AND (last_used_at IS NULL OR last_used_at <= $3)', [id, at, threshold])
  }

  async listApiKeys(projectId: string): Promise<ApiKeyInfo[]> {
    return (await this.rows('SELECT * FROM api_keys WHERE project_id = $1 ORDER BY created_at, id', [projectId])).map(toApiKey)
  }

  /** True when the key exists in the project (revoking twice keeps the first revocation time, and records one event). */
  async revokeApiKey(projectId: string, keyId: string, audit?: AdminAudit<boolean>): Promise<boolean> {
    let revokedNow = false
    return this.adminTransaction(
      projectId,
      'API key',
      audit,
      async (client) => {
        // A concurrent revocation makes this UPDATE re-check `revoked_at IS NULL` and change nothing.
        revokedNow = (await this.run('UPDATE api_keys SET revoked_at = $3 WHERE project_id = $1 AND id = $2 AND revoked_at IS NULL', [projectId, keyId, new Date().toISOString()], client)) > 0
        return revokedNow || (await this.row('SELECT 1 AS found FROM api_keys WHERE project_id = $1 AND id = $2', [projectId, keyId], client)) !== undefined
      },
      () => revokedNow,
    )
  }

  // --- trust rules ----------------------------------------------------------------------

  async createTrustRule(input: NewTrustRule, audit?: AdminAudit<TrustRule>): Promise<TrustRule> {
    const rule = newTrustRule(input)
    return this.adminTransaction(rule.project_id, 'trust rule', audit, async (client) => {
      await this.run(
        'INSERT INTO trust_rules (id, project_id, issuer, audience, repository, ref, environment, workflow_ref, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9)',
        [rule.id, rule.project_id, rule.issuer, rule.audience, rule.repository, rule.ref, rule.environment, rule.workflow_ref, rule.created_at],
        client,
      )
      return rule
    })
  }

  async listTrustRules(projectId: string): Promise<TrustRule[]> {
    return (await this.rows('SELECT * FROM trust_rules WHERE project_id = $1 ORDER BY created_at, id', [projectId])).map(toTrustRule)
  }

  async listTrustRulesForIssuer(issuer: string): Promise<TrustRule[]> {
    return (await this.rows('SELECT * FROM trust_rules WHERE issuer = $1 ORDER BY created_at, id', [issuer])).map(toTrustRule)
  }

  async removeTrustRule(projectId: string, id: string, audit?: AdminAudit<boolean>): Promise<boolean> {
    return this.adminTransaction(projectId, 'trust rule', audit, async (client) => (await this.run('DELETE FROM trust_rules WHERE project_id = $1 AND id = $2', [projectId, id], client)) > 0)
  }

  // --- policy documents -----------------------------------------------------------------

  async setPolicy(input: NewPolicyVersion): Promise<PolicyVersion> {
    return this.transaction('policy', async (client) => {
      // The project's chain head serialises its writers: lock it before reading the last version.
      await this.row('SELECT seq FROM audit_heads WHERE project_id = $1 FOR UPDATE', [input.project_id], client)
      const latest = await this.row('SELECT MAX(version) AS version FROM policies WHERE project_id = $1', [input.project_id], client)
      const { policy, event } = newPolicyVersion(input, Number(latest?.version ?? 0) + 1)
      await this.run(
        'INSERT INTO policies (project_id, version, source, format, hash, created_by, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [policy.project_id, policy.version, policy.source, policy.format, policy.hash, policy.created_by, policy.created_at],
        client,
      )
      await this.appendAudit(client, event)
      return policy
    })
  }

  async getPolicy(projectId: string): Promise<PolicyVersion | null> {
    const row = await this.row('SELECT * FROM policies WHERE project_id = $1 ORDER BY version DESC LIMIT 1', [projectId])
    const policy = row ? toPolicyVersion(row) : null
    return policy && !policy.cleared ? policy : null
  }

  async listPolicyVersions(projectId: string): Promise<PolicyVersion[]> {
    return (await this.rows('SELECT * FROM policies WHERE project_id = $1 ORDER BY version DESC', [projectId])).map(toPolicyVersion)
  }

  // --- GitHub App -----------------------------------------------------------------------

  async createGithubMapping(input: NewGithubMapping, audit?: AdminAudit<GithubMapping>): Promise<GithubMapping> {
    const m = newGithubMapping(input)
    return this.adminTransaction(m.project_id, 'a mapping of this repository, environment and installation', audit, async (client) => {
      await this.run(
        'INSERT INTO github_mappings (id, project_id, repository, repository_key, environment, installation_id, created_at) VALUES ($1, $2, $3, $4, $5, $6, $7)',
        [m.id, m.project_id, m.repository, m.repository.toLowerCase(), m.environment, m.installation_id, m.created_at],
        client,
      )
      return m
    })
  }

  async listGithubMappings(projectId: string): Promise<GithubMapping[]> {
    return (await this.rows('SELECT * FROM github_mappings WHERE project_id = $1 ORDER BY created_at, id', [projectId])).map(toGithubMapping)
  }

  async listGithubMappingsForRepository(repository: string): Promise<GithubMapping[]> {
    return (await this.rows('SELECT * FROM github_mappings WHERE repository_key = $1 ORDER BY created_at, id', [repository.toLowerCase()])).map(toGithubMapping)
  }

  async removeGithubMapping(projectId: string, id: string, audit?: AdminAudit<GithubMapping>): Promise<GithubMapping | null> {
    return this.adminTransaction(projectId, 'github mapping', audit, async (client) => {
      const row = await this.row('DELETE FROM github_mappings WHERE project_id = $1 AND id = $2 RETURNING *', [projectId, id], client)
      return row ? toGithubMapping(row) : null
    })
  }

  async createGithubGate(input: NewGithubGate): Promise<boolean> {
    const at = input.at ?? new Date().toISOString()
    try {
      const inserted = await this.run(
        `INSERT INTO github_gates (approval_id, project_id, delivery_id, installation_id, repository, environment, run_id, callback, attempts, next_attempt_at, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, 'pending', 0, $8, $8)
         ON CONFLICT DO NOTHING`,
        [input.approval_id, input.project_id, input.delivery_id, input.installation_id, input.repository, input.environment, input.run_id, at],
      )
      return inserted > 0
    } catch (error) {
      throw translatePgError(error, 'github gate')
    }
  }

  async getGithubGateByDelivery(deliveryId: string): Promise<GithubGate | null> {
    const row = await this.row('SELECT * FROM github_gates WHERE delivery_id = $1', [deliveryId])
    return row ? toGithubGate(row) : null
  }

  async listGithubGates(projectId: string, options: { approvalId?: string; limit?: number } = {}): Promise<GithubGate[]> {
    const rows = await this.rows(
      `SELECT * FROM github_gates WHERE project_id = $1 AND ($2::text IS NULL OR approval_id = $2)
       ORDER BY created_at DESC, approval_id DESC LIMIT $3`,
      [projectId, options.approvalId ?? null, pageLimit(options.limit)],
    )
    return rows.map(toGithubGate)
  }

  async listGithubGatesAwaitingDecision(limit: number): Promise<GithubGate[]> {
    const rows = await this.rows(
      `SELECT g.* FROM github_gates g JOIN approvals a ON a.id = g.approval_id
       WHERE g.callback = 'pending' AND a.status = 'pending' ORDER BY g.created_at LIMIT $1`,
      [limit],
    )
    return rows.map(toGithubGate)
  }

  async claimGithubCallbacks(now: string, leaseUntil: string, limit: number): Promise<GithubGate[]> {
    // SKIP LOCKED: replicas sweeping at once each lease different gates.
    const rows = await this.rows(
      `UPDATE github_gates SET next_attempt_at = $2
       WHERE approval_id IN (
         SELECT g.approval_id FROM github_gates g JOIN approvals a ON a.id = g.approval_id
         WHERE g.callback = 'pending' AND g.next_attempt_at <= $1 AND a.status <> 'pending'
         ORDER BY g.next_attempt_at LIMIT $3 FOR UPDATE OF g SKIP LOCKED
       )
       RETURNING *`,
      [now, leaseUntil, limit],
    )
    return rows.map(toGithubGate)
  }

  async recordGithubCallbackAttempt(approvalId: string, attempt: GithubCallbackAttempt): Promise<void> {
    const next = attempt.callback === 'pending' ? attempt.next_attempt_at : attempt.at
    const completed = attempt.callback === 'pending' ? null : attempt.at
    await this.run(
      'UPDATE github_gates SET callback = $2, attempts = attempts + 1, next_attempt_at = $3, last_error = $4, completed_at = $5 WHERE approval_id = $1',
      [approvalId, attempt.callback, next, attempt.error, completed],
    )
  }

  // --- approvals ------------------------------------------------------------------------

  async createApproval(input: NewApproval): Promise<CreateResult> {
    const context = JSON.stringify(input.context)
    const createdAt = input.at ?? new Date().toISOString()
    const fingerprint = input.idempotency_fingerprint ?? ''
    return this.batched(input.project_id, 'approval', async (client) => {
      const approval = newApprovalRecord(input, context, createdAt)
      if (input.idempotency_key !== null) {
        // Claim the key, or take over one past its 24 hours. A concurrent claim makes this wait
        // for its transaction, then (the key now live) update nothing; the SELECT below, a new
        // snapshot under READ COMMITTED, then sees the winner's row.
        const claimed = await this.row(
          `INSERT INTO idempotency_keys (project_id, idempotency_key, fingerprint, approval_id, created_at) VALUES ($1, $2, $3, $4, $5)
           ON CONFLICT (project_id, idempotency_key) DO UPDATE SET fingerprint = EXCLUDED.fingerprint, approval_id = EXCLUDED.approval_id, created_at = EXCLUDED.created_at
           WHERE idempotency_keys.created_at <= $6
           RETURNING approval_id`,
          [input.project_id, input.idempotency_key, fingerprint, approval.id, createdAt, idempotencyCutoff(createdAt)],
          client,
        )
        if (!claimed) return this.boundApproval(client, input.project_id, input.idempotency_key, fingerprint)
      }
      await this.run(
        `INSERT INTO approvals (id, project_id, action, context, agent, status, created_at, expires_at, idempotency_key, requested_by, requested_by_key_id, requester_claims, applied_policy)
         VALUES ($1, $2, $3, $4, $5, 'pending', $6, $7, $8, $9, $10, $11, $12)`,
        [
          approval.id,
          approval.project_id,
          approval.action,
          context,
          approval.agent,
          createdAt,
          approval.expires_at,
          approval.idempotency_key,
          approval.requested_by,
          approval.requested_by_key_id,
          approval.requester_claims ? JSON.stringify(approval.requester_claims) : null,
          approval.applied_policy ? JSON.stringify(approval.applied_policy) : null,
        ],
        client,
      )
      await this.appendAudit(client, createdEvent(approval))
      return { approval, created: true }
    })
  }

  /** The approval a live idempotency key names: the same request (`created: false`) or another one (`key_reused`). */
  private async boundApproval(client: pg.PoolClient, projectId: string, key: string, fingerprint: string): Promise<CreateResult> {
    const bound = await this.row('SELECT fingerprint, approval_id FROM idempotency_keys WHERE project_id = $1 AND idempotency_key = $2', [projectId, key], client)
    const row = bound ? await this.row('SELECT * FROM approvals WHERE id = $1', [bound.approval_id], client) : undefined
    if (!bound || !row) throw new Error('idempotent create found neither a new nor an existing approval')
    const approval = await this.approvalOf(row, client)
    return bound.fingerprint === fingerprint ? { approval, created: false } : { approval, created: false, key_reused: true }
  }

  async getApproval(projectId: string, id: string): Promise<Approval | null> {
    const row = await this.row(`${APPROVAL_WITH_VOTES} WHERE a.project_id = $1 AND a.id = $2`, [projectId, id])
    return row ? approvalWithVotes(row) : null
  }

  /** Internal server use only (see `Store.getApprovalById`); routes use `getApproval`. */
  async getApprovalById(id: string): Promise<Approval | null> {
    const row = await this.row(`${APPROVAL_WITH_VOTES} WHERE a.id = $1`, [id])
    return row ? approvalWithVotes(row) : null
  }

  async listApprovals(projectId: string, filter: ApprovalFilter = {}): Promise<Page<Approval>> {
    const limit = pageLimit(filter.limit)
    const where = new Conditions()
    where.add('project_id = ?', projectId)
    where.add('status = ?', filter.status)
    where.add('action = ?', filter.action)
    where.add('agent = ?', filter.agent)
    where.add('decided_by = ?', filter.decided_by)
    where.add('seq < ?', cursorBound('apr', filter.cursor))
    const rows = await this.rows(`SELECT * FROM approvals WHERE ${where.sql()} ORDER BY seq DESC LIMIT ${where.param(limit + 1)}`, where.values)
    const votes = await this.votesOf(rows)
    return pageOf(rows, limit, (row) => toApproval(row, votes.get(String(row.id)) ?? []), 'apr')
  }

  async decideApproval(
    projectId: string,
    id: string,
    input: { decision: Decision; reason: string | null; decided_by: string; at?: string },
  ): Promise<ChangeResult | null> {
    return this.settle(projectId, id, decisionChange(input))
  }

  async cancelApproval(projectId: string, id: string, input: { reason: string | null; by: string; at?: string; timed_out?: boolean }): Promise<ChangeResult | null> {
    return this.settle(projectId, id, cancelChange(input))
  }

  async recordVote(projectId: string, id: string, input: NewVote, count: VoteCounter): Promise<VoteResult | null> {
    // Batched like every chain append: the batch locks the chain head first, then the vote the
    // approval's row, the same order as decisions, so a vote racing a decision or withdrawal cannot
    // deadlock. Inside the lock a counted vote costs three statements: the read, the writes, the append.
    return this.batched(projectId, 'vote', async (client) => {
      // Without group commit no lock is held yet: the row lock, taken first, serialises votes on it.
      if (this.cursors.get(client)?.projectId !== projectId) await this.run('SELECT 1 FROM approvals WHERE project_id = $1 AND id = $2 FOR UPDATE', [projectId, id], client)
      const row = await this.row(VOTE_READ, [projectId, [id]], client)
      if (!row) return null
      const approval = approvalWithVotes(row)
      const plan = planVote(approval, input, count)
      if (plan.refused !== null) return { recorded: false, refused: plan.refused, approval }
      const createdContextHash = textOrNull(row, 'created_context_hash')
      // Never count a vote under a rule the audit trail does not vouch for.
      const tampered = snapshotProblem(approval, textOrNull(row, 'created_reason'))
      if (tampered) throw new Error(tampered)
      const { vote, settle } = plan
      const settled = await this.row(
        VOTE_WRITE,
        [
          projectId,
          id,
          vote.by,
          vote.email,
          vote.decision,
          vote.reason,
          vote.at,
          JSON.stringify(vote.groups),
          plan.regrouped.map((counted) => counted.by),
          plan.regrouped.map((counted) => JSON.stringify(counted.groups)),
          settle?.status ?? null,
          settle?.reason ?? null,
          settle?.by ?? null,
          settle?.at ?? null,
        ],
        client,
      )
      if (!settle) return { recorded: true, settled: false, approval: { ...approval, votes: plan.votes }, event: await this.appendAudit(client, voteEvent(approval, vote, createdContextHash)) }
      // Cannot miss: the row is locked and was pending when read.
      if (!settled) throw new Error(`approval ${id} was not pending when its settling vote was written`)
      const decided = toApproval(settled, plan.votes)
      return { recorded: true, settled: true, approval: decided, event: await this.appendAudit(client, settledEvent(decided, settle, createdContextHash)) }
    }, { approvalId: id, input, count })
  }

  /**
   * A run of votes inside a batch's open transaction (group-commit.ts `runBulk`), under the chain
   * lock it holds: one read of every approval voted on, every vote planned in memory
   * (vote-batch.ts), one string writing them all and moving the chain head (`voteBatchWrite`).
   * Any failure (also a count other than planned) leaves the batch to run again vote by vote.
   */
  private async recordVoteBatch(client: pg.PoolClient, projectId: string, votes: QueuedVote[]): Promise<BulkOutcome[]> {
    const cursor = this.cursors.get(client)
    if (cursor?.projectId !== projectId) throw new Error(`a vote batch needs project ${projectId}'s chain lock`)
    const literal = literalOn(client)
    const read = votedApprovals((await client.query(voteReadOf(literal, projectId, approvalIdsOf(votes)))).rows as Row[])
    const plan = planVoteBatch(this.key, cursor, votes, read)
    if (plan.events.length > 0) await client.query(this.voteBatchWriteOf(literal, projectId, cursor.seq, plan))
    Object.assign(cursor, { seq: plan.end.seq, hash: plan.end.hash, lastMac: plan.end.lastMac })
    return plan.outcomes
  }

  /**
   * A batch of votes only (group-commit.ts `commitBulk`) in two round trips: BEGIN, the chain
   * lock and the read of every approval voted on; then, planned in memory, the whole write and
   * COMMIT. A statement refused before COMMIT ran (or a count other than planned) rolls it all
   * back, and the batch runs again vote by vote (`BulkNotCommitted`).
   */
  private async commitVoteBatch(client: pg.PoolClient, projectId: string, votes: QueuedVote[]): Promise<BulkOutcome[]> {
    if (this.closed) throw new Error('the store is closed')
    const literal = literalOn(client)
    let start: ChainPosition
    let plan: VoteBatchPlan
    try {
      const results = (await client.query(`BEGIN; ${lockChainOf(literal, projectId)}; ${voteReadOf(literal, projectId, approvalIdsOf(votes))}`)) as unknown as pg.QueryResult[]
      const position = chainPositionOf(projectId, results[1], results[2])
      if (!position) throw new Error(`project ${projectId} has no audit chain head`)
      start = position
      plan = planVoteBatch(this.key, start, votes, votedApprovals(results[3].rows as Row[]))
    } catch (error) {
      throw new BulkNotCommitted('a vote batch could not be read or planned', { cause: error })
    }
    const write = plan.events.length === 0 ? '' : `${this.voteBatchWriteOf(literal, projectId, start.seq, plan)};\n`
    try {
      await client.query(`${write}COMMIT`)
    } catch (error) {
      if (refusedBeforeCommit(error)) throw new BulkNotCommitted('a vote batch write was refused', { cause: error })
      throw error
    }
    return plan.outcomes
  }

  /** `voteBatchWrite` with the MAC of the head the plan ends at. */
  private voteBatchWriteOf(literal: Literal, projectId: string, from: number, plan: VoteBatchPlan): string {
    return voteBatchWrite(literal, projectId, from, plan, headMac(this.key, projectId, plan.end.seq, plan.end.lastMac as string))
  }

  /** Moves a pending approval to a final status and records it; the conditional UPDATE makes the first caller win. */
  private settle(projectId: string, id: string, change: SettleChange): Promise<ChangeResult | null> {
    return this.batched(projectId, 'approval', async (client) => {
      // The created event's context hash comes back with the row: one round trip less per decision.
      const row = await this.row(
        `UPDATE approvals SET status = $3, reason = $4, decided_by = $5, decided_at = $6
         WHERE project_id = $1 AND id = $2 AND status = 'pending'
         RETURNING *, (SELECT context_hash FROM audit_events WHERE project_id = $1 AND approval_id = $2 AND type = 'created' ORDER BY seq LIMIT 1) AS created_context_hash`,
        [projectId, id, change.status, change.reason, change.by, change.at],
        client,
      )
      if (!row) {
        const current = await this.row('SELECT * FROM approvals WHERE project_id = $1 AND id = $2', [projectId, id], client)
        return current ? { changed: false, approval: await this.approvalOf(current, client) } : null
      }
      const approval = await this.approvalOf(row, client)
      const created = typeof row.created_context_hash === 'string' ? row.created_context_hash : null
      return { changed: true, approval, event: await this.appendAudit(client, settledEvent(approval, change, created)) }
    })
  }

  async expireDue(now: string, limit?: number): Promise<Approval[]> {
    return this.transaction('approval expiry', async (client) => {
      // LIMIT NULL: no limit.
      const rows = await this.rows(
        `UPDATE approvals SET status = 'expired', decided_at = $1, decided_by = 'system'
         WHERE seq IN (
           SELECT seq FROM approvals WHERE status = 'pending' AND expires_at <= $1 ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED
         )
         RETURNING *`,
        [now, limit ?? null],
        client,
      )
      // Chain heads in a fixed order (project, then creation) so concurrent expiries cannot deadlock.
      const expired = await this.approvalsOf(rows.sort((a, b) => String(a.project_id).localeCompare(String(b.project_id)) || rowSeq(a) - rowSeq(b)), client)
      for (const approval of expired) await this.appendAudit(client, timedOutEvent(approval, now, await this.createdContextHash(client, approval.project_id, approval.id)))
      return expired
    })
  }

  async nextExpiry(): Promise<string | null> {
    const row = await this.row("SELECT MIN(expires_at) AS next FROM approvals WHERE status = 'pending'")
    return typeof row?.next === 'string' ? row.next : null
  }

  async countPending(projectId: string): Promise<number> {
    const row = await this.row("SELECT COUNT(*) AS n FROM approvals WHERE project_id = $1 AND status = 'pending'", [projectId])
    return Number(row?.n ?? 0)
  }

  async deleteExpiredIdempotencyKeys(now: string): Promise<number> {
    // Uses the idempotency_keys_by_age index, so the cost is the number of expired keys.
    return this.run('DELETE FROM idempotency_keys WHERE created_at <= $1', [idempotencyCutoff(now)])
  }

  // --- audit trail ----------------------------------------------------------------------

  /** Conditions of an audit filter (without cursor/limit). */
  private auditConditions(projectId: string, filter: Omit<AuditFilter, 'cursor' | 'limit'>): Conditions {
    const where = new Conditions()
    where.add('project_id = ?', projectId)
    where.add('action = ?', filter.action)
    where.add('agent = ?', filter.agent)
    where.add("actor = ? AND type IN ('approved', 'rejected', 'vote_approve', 'vote_reject')", filter.approver)
    where.add('type = ?', filter.outcome)
    where.add('at >= ?', optionalIsoBound('from', filter.from))
    where.add('at <= ?', optionalIsoBound('to', filter.to))
    return where
  }

  /** Newest first. */
  async listAudit(projectId: string, filter: AuditFilter = {}): Promise<Page<AuditEvent>> {
    const limit = pageLimit(filter.limit)
    const where = this.auditConditions(projectId, filter)
    where.add('seq < ?', cursorBound('aud', filter.cursor))
    const rows = await this.rows(`SELECT * FROM audit_events WHERE ${where.sql()} ORDER BY seq DESC LIMIT ${where.param(limit + 1)}`, where.values)
    return pageOf(rows, limit, toAuditEvent, 'aud')
  }

  async *exportAudit(projectId: string, filter: Omit<AuditFilter, 'cursor' | 'limit'> = {}): AsyncIterable<AuditEvent> {
    const where = this.auditConditions(projectId, filter)
    const afterParam = where.param(0)
    const query = `SELECT * FROM audit_events WHERE ${where.sql()} AND seq > ${afterParam} ORDER BY seq LIMIT ${BATCH}`
    const values = [...where.values]
    for (;;) {
      const batch = (await this.rows(query, values)).map(toAuditEvent)
      for (const event of batch) yield event
      if (batch.length < BATCH) return
      values[values.length - 1] = batch[batch.length - 1].seq
    }
  }

  async recordAdminEvent(input: AdminEventInput): Promise<AuditEvent> {
    return this.batched(input.project_id, 'audit event', (client) => this.appendAudit(client, adminAuditInput(input)))
  }

  async verifyAudit(projectId: string, options: AuditVerifyOptions = {}): Promise<AuditVerification> {
    if (this.closed) throw new Error('the store is closed')
    return this.verifications.verify(projectId, options)
  }

  async verifyDecision(projectId: string, approval: Approval): Promise<string | null> {
    return this.verifications.decisionProblem(projectId, approval)
  }

  async auditCheckpoint(projectId: string): Promise<AuditCheckpoint> {
    return this.verifications.checkpoint(projectId)
  }

  async verifyAuditCheckpoint(projectId: string, checkpoint: unknown): Promise<CheckpointVerification> {
    return this.verifications.verifyCheckpoint(projectId, checkpoint)
  }

  /** The reads verification needs; each is one indexed query. */
  private auditReader(): AuditReader {
    return {
      head: async (projectId) => {
        const row = await this.row('SELECT seq, hash, mac FROM audit_heads WHERE project_id = $1', [projectId])
        return row ? toChainHead(row) : null
      },
      events: async (projectId, after, upTo, limit) =>
        (await this.rows('SELECT * FROM audit_events WHERE project_id = $1 AND seq > $2 AND seq <= $3 ORDER BY seq LIMIT $4', [projectId, after, upTo, limit])).map(toAuditEvent),
      event: async (projectId, seq) => {
        const row = await this.row('SELECT * FROM audit_events WHERE project_id = $1 AND seq = $2', [projectId, seq])
        return row ? toAuditEvent(row) : null
      },
      approvals: async (projectId, after, limit) =>
        (await this.rows('SELECT * FROM approvals WHERE project_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [projectId, after, limit])).map((row) => ({
          position: rowSeq(row),
          approval: toApproval(row),
        })),
      eventsOfApprovals: async (projectId, approvalIds) =>
        approvalIds.length === 0
          ? []
          : (await this.rows('SELECT * FROM audit_events WHERE project_id = $1 AND approval_id = ANY($2) ORDER BY seq', [projectId, approvalIds])).map(toAuditEvent),
      settlingEvents: async (projectId, approvalId) =>
        (await this.rows("SELECT * FROM audit_events WHERE project_id = $1 AND approval_id = $2 AND type IN ('approved', 'rejected', 'timed_out', 'cancelled') ORDER BY seq LIMIT 2", [projectId, approvalId])).map(toAuditEvent),
    }
  }

  // --- notification channels and deliveries ----------------------------------------------

  async createChannel(input: NewChannel, audit?: AdminAudit<Channel>): Promise<Channel> {
    const channel = newChannel(input, new Date().toISOString())
    const sealed = input.secret === null ? null : this.secrets.seal(input.secret, channel.id)
    return this.adminTransaction(channel.project_id, `a channel named ${JSON.stringify(input.name)}`, audit, async (client) => {
      if (channel.escalate_to !== null && !(await this.row('SELECT 1 FROM notification_channels WHERE project_id = $1 AND id = $2', [channel.project_id, channel.escalate_to], client))) {
        throw new StoreError('not_found', `this project has no channel ${JSON.stringify(channel.escalate_to)} to escalate to`)
      }
      // The head row lock keeps an event from being appended between reading the head and inserting.
      const head = await this.row('SELECT seq FROM audit_heads WHERE project_id = $1 FOR UPDATE', [channel.project_id], client)
      await this.run(
        `INSERT INTO notification_channels (id, project_id, kind, name, config, events, secret_sealed, remind_after_ms, escalate_after_ms, escalate_to, cursor_seq, created_at)
         VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12)`,
        [
          channel.id,
          channel.project_id,
          channel.kind,
          channel.name,
          JSON.stringify(channel.config),
          JSON.stringify(channel.events),
          sealed,
          channel.remind_after_ms,
          channel.escalate_after_ms,
          channel.escalate_to,
          head ? Number(head.seq) : 0,
          channel.created_at,
        ],
        client,
      )
      return channel
    })
  }

  async getChannel(projectId: string, id: string): Promise<Channel | null> {
    const row = await this.row('SELECT * FROM notification_channels WHERE project_id = $1 AND id = $2', [projectId, id])
    return row ? toChannel(row) : null
  }

  async getChannelById(id: string): Promise<Channel | null> {
    const row = await this.row('SELECT * FROM notification_channels WHERE id = $1', [id])
    return row ? toChannel(row) : null
  }

  async listChannels(projectId: string): Promise<Channel[]> {
    return (await this.rows('SELECT * FROM notification_channels WHERE project_id = $1 ORDER BY created_at, id', [projectId])).map(toChannel)
  }

  async getChannelSecret(projectId: string, id: string): Promise<string | null> {
    const row = await this.row('SELECT secret_sealed FROM notification_channels WHERE project_id = $1 AND id = $2', [projectId, id])
    return typeof row?.secret_sealed === 'string' ? this.secrets.open(row.secret_sealed, id) : null
  }

  async removeChannel(projectId: string, id: string, audit?: AdminAudit<boolean>): Promise<boolean> {
    return this.adminTransaction(projectId, 'channel', audit, async (client) => {
      await this.run('UPDATE notification_channels SET escalate_after_ms = NULL WHERE escalate_to = $1', [id], client)
      return (await this.run('DELETE FROM notification_channels WHERE project_id = $1 AND id = $2', [projectId, id], client)) > 0
    })
  }

  async materializeDeliveries(now: string, limit = 500): Promise<number> {
    let added = 0
    const behind = await this.rows(
      'SELECT c.id FROM notification_channels c JOIN audit_heads h ON h.project_id = c.project_id WHERE c.cursor_seq < h.seq ORDER BY c.id',
    )
    for (const { id } of behind) {
      added += await this.transaction('deliveries', async (client) => {
        // SKIP LOCKED: another replica materialising this channel right now will move its cursor.
        const current = await this.row('SELECT * FROM notification_channels WHERE id = $1 FOR UPDATE SKIP LOCKED', [id], client)
        if (!current) return 0
        const channel = toChannel(current)
        const events = (await this.rows('SELECT * FROM audit_events WHERE project_id = $1 AND seq > $2 ORDER BY seq LIMIT $3', [channel.project_id, current.cursor_seq, limit], client)).map(toAuditEvent)
        if (events.length === 0) return 0
        const deliveries = deliveriesForEvents(channel, events, now)
        for (const delivery of deliveries) await this.insertDelivery(client, delivery)
        await this.run('UPDATE notification_channels SET cursor_seq = $2 WHERE id = $1', [channel.id, events[events.length - 1].seq], client)
        return deliveries.length
      })
    }
    return added
  }

  private async insertDelivery(client: pg.PoolClient, delivery: Delivery): Promise<void> {
    await this.run(
      `INSERT INTO deliveries (${DELIVERY_COLUMNS.join(', ')}) VALUES (${DELIVERY_COLUMNS.map((_, i) => `$${i + 1}`).join(', ')}) ON CONFLICT DO NOTHING`,
      deliveryValues(delivery),
      client,
    )
  }

  async enqueueReminders(now: string): Promise<number> {
    let added = 0
    const channels = (await this.rows('SELECT * FROM notification_channels WHERE remind_after_ms IS NOT NULL OR (escalate_after_ms IS NOT NULL AND escalate_to IS NOT NULL) ORDER BY id')).map(toChannel)
    for (const channel of channels) {
      added += await this.transaction('reminders', async (client) => {
        // One replica at a time per channel: the others skip it this round.
        if (!(await this.row('SELECT 1 FROM notification_channels WHERE id = $1 FOR UPDATE SKIP LOCKED', [channel.id], client))) return 0
        const oldest = new Date(Date.parse(now) - Math.min(channel.remind_after_ms ?? Infinity, channel.escalate_after_ms ?? Infinity)).toISOString()
        const pending = await this.rows(
          `SELECT a.id, a.created_at, r.last_reminded_at, r.escalated_at FROM approvals a
           LEFT JOIN notification_reminders r ON r.channel_id = $1 AND r.approval_id = a.id
           WHERE a.project_id = $2 AND a.status = 'pending' AND a.created_at <= $3`,
          [channel.id, channel.project_id, oldest],
          client,
        )
        let count = 0
        for (const approval of pending) {
          const approvalId = String(approval.id)
          const createdAt = String(approval.created_at)
          const lastReminded = typeof approval.last_reminded_at === 'string' ? approval.last_reminded_at : null
          const remind = channel.remind_after_ms !== null && reminderDue(channel.remind_after_ms, createdAt, lastReminded, now)
          const escalate = channel.escalate_after_ms !== null && channel.escalate_to !== null && approval.escalated_at == null && reminderDue(channel.escalate_after_ms, createdAt, null, now)
          if (!remind && !escalate) continue
          if (remind) await this.insertDelivery(client, newDelivery(channel, { approval_id: approvalId, audit_seq: null, event_type: 'approval.reminder', occurred_at: now }, now))
          if (escalate) {
            await this.insertDelivery(client, newDelivery({ id: channel.escalate_to as string, project_id: channel.project_id }, { approval_id: approvalId, audit_seq: null, event_type: 'approval.escalated', occurred_at: now }, now))
          }
          await this.run(
            `INSERT INTO notification_reminders (channel_id, approval_id, reminders, last_reminded_at, escalated_at) VALUES ($1, $2, $3, $4, $5)
             ON CONFLICT (channel_id, approval_id) DO UPDATE SET reminders = notification_reminders.reminders + excluded.reminders,
               last_reminded_at = COALESCE(excluded.last_reminded_at, notification_reminders.last_reminded_at),
               escalated_at = COALESCE(notification_reminders.escalated_at, excluded.escalated_at)`,
            [channel.id, approvalId, remind ? 1 : 0, remind ? now : null, escalate ? now : null],
            client,
          )
          count += (remind ? 1 : 0) + (escalate ? 1 : 0)
        }
        return count
      })
    }
    return added
  }

  async claimDeliveries(now: string, limit: number, leaseUntil: string): Promise<ClaimedDelivery[]> {
    return this.transaction('deliveries', async (client) => {
      // SKIP LOCKED: replicas claiming at once take different rows and never wait on each other.
      const rows = await this.rows(
        `WITH due AS (
           SELECT d.n FROM deliveries d
           WHERE d.status IN ('pending', 'sending') AND d.next_attempt_at <= $1
             AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.channel_id = d.channel_id AND e.approval_id = d.approval_id AND e.n < d.n AND e.status IN ('pending', 'sending'))
           ORDER BY d.next_attempt_at, d.n LIMIT $2 FOR UPDATE SKIP LOCKED)
         UPDATE deliveries SET status = 'sending', attempts = attempts + 1, next_attempt_at = $3 FROM due WHERE deliveries.n = due.n
         RETURNING deliveries.*, (SELECT p.remote_ref FROM deliveries p WHERE p.channel_id = deliveries.channel_id AND p.approval_id = deliveries.approval_id
           AND p.n < deliveries.n AND p.remote_ref IS NOT NULL ORDER BY p.n DESC LIMIT 1) AS previous_remote_ref`,
        [now, limit, leaseUntil],
        client,
      )
      return rows
        .sort((a, b) => Number(a.n) - Number(b.n))
        .map((row) => ({ ...toDelivery(row), previous_remote_ref: typeof row.previous_remote_ref === 'string' ? row.previous_remote_ref : null }))
    })
  }

  async finishDelivery(id: string, attempt: DeliveryAttempt): Promise<boolean> {
    if (attempt.status === 'delivered') {
      return (
        (await this.run(
          `UPDATE deliveries SET status = 'delivered', response_code = $2, remote_ref = $3, delivered_at = $4, next_attempt_at = $4 WHERE id = $1 AND status = 'sending'`,
          [id, attempt.response_code, attempt.remote_ref, attempt.at],
        )) > 0
      )
    }
    return (
      (await this.run(
        `UPDATE deliveries SET status = $2, response_code = $3, last_error = $4, last_error_at = $5, next_attempt_at = $6 WHERE id = $1 AND status = 'sending'`,
        [id, attempt.status, attempt.response_code, attempt.error, attempt.at, attempt.status === 'pending' ? attempt.next_attempt_at : attempt.at],
      )) > 0
    )
  }

  async nextDeliveryDue(): Promise<string | null> {
    // Deliveries waiting behind an earlier one of their approval are not due whatever their time.
    const row = await this.row(`SELECT MIN(d.next_attempt_at) AS next FROM deliveries d WHERE d.status IN ('pending', 'sending')
       AND NOT EXISTS (SELECT 1 FROM deliveries e WHERE e.channel_id = d.channel_id AND e.approval_id = d.approval_id AND e.n < d.n AND e.status IN ('pending', 'sending'))`)
    return typeof row?.next === 'string' ? row.next : null
  }

  async listDeliveries(projectId: string, channelId: string, limit = 100): Promise<Delivery[]> {
    return (await this.rows('SELECT * FROM deliveries WHERE project_id = $1 AND channel_id = $2 ORDER BY n DESC LIMIT $3', [projectId, channelId, pageLimit(limit)])).map(toDelivery)
  }

  async redeliver(projectId: string, deliveryId: string, now: string, channelId?: string, audit?: AdminAudit<Delivery>): Promise<Delivery | null> {
    return this.adminTransaction(projectId, 'delivery', audit, async (client) => {
      const row = await this.row(
        `UPDATE deliveries SET status = 'pending', next_attempt_at = $3
         WHERE project_id = $1 AND id = $2 AND status <> 'sending' AND ($4::text IS NULL OR channel_id = $4) RETURNING *`,
        [projectId, deliveryId, now, channelId ?? null],
        client,
      )
      return row ? toDelivery(row) : null
    })
  }

  async channelHealth(projectId: string): Promise<ChannelHealth[]> {
    return (
      await this.rows(
        `SELECT c.id AS channel_id,
           (SELECT COUNT(*) FROM deliveries d WHERE d.channel_id = c.id AND d.status IN ('pending', 'sending') AND d.last_error IS NOT NULL) AS retrying,
           (SELECT COUNT(*) FROM deliveries d WHERE d.channel_id = c.id AND d.status = 'failed') AS failed,
           (SELECT COUNT(*) FROM deliveries d WHERE d.channel_id = c.id AND d.status = 'delivered') AS delivered,
           l.last_error, l.last_error_at
         FROM notification_channels c
         LEFT JOIN LATERAL (SELECT last_error, last_error_at FROM deliveries d WHERE d.channel_id = c.id AND d.last_error_at IS NOT NULL
                            ORDER BY d.last_error_at DESC, d.n DESC LIMIT 1) l ON true
         WHERE c.project_id = $1 ORDER BY c.created_at, c.id`,
        [projectId],
      )
    ).map(toChannelHealth)
  }

  // --- dashboard sessions ---------------------------------------------------------------

  async createSession(session: Session): Promise<void> {
    await this.transaction('session', async (client) => {
      await this.run('INSERT INTO sessions (token_hash, user_id, csrf_token, created_at, expires_at) VALUES ($1, $2, $3, $4, $5)', [
        session.token_hash,
        session.user_id,
        session.csrf_token,
        session.created_at,
        session.expires_at,
      ], client)
    })
  }

  async getSession(tokenHash: string, now: string): Promise<Session | null> {
    const row = await this.row('SELECT * FROM sessions WHERE token_hash = $1 AND expires_at > $2', [tokenHash, now])
    return row ? toSession(row) : null
  }

  async deleteSession(tokenHash: string): Promise<void> {
    await this.run('DELETE FROM sessions WHERE token_hash = $1', [tokenHash])
  }

  async deleteUserSessions(userId: string): Promise<number> {
    return this.run('DELETE FROM sessions WHERE user_id = $1', [userId])
  }

  async deleteExpiredSessions(now: string): Promise<number> {
    // Uses the sessions_by_expiry index, so the cost is the number of expired rows.
    return this.run('DELETE FROM sessions WHERE expires_at <= $1', [now])
  }

  async close(): Promise<void> {
    if (this.closed) return
    this.closed = true
    // Writes already queued are committed and answered before the pool closes.
    await this.groupCommit?.settled()
    await this.pool.end()
  }
}
