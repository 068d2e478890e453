/**
 * Versioned schema of the PostgreSQL store. Same model as the SQLite schema: timestamps are
 * ISO-8601 text (byte-compared with COLLATE "C", so string order is time order and the
 * audit hash covers exactly the stored text) and context is JSON text (jsonb would reorder
 * keys and refuse \u0000). Migrations run in one transaction under an advisory lock, so
 * replicas starting together apply each one once.
 */
import type { PoolClient } from 'pg'
import { AuditKeyError, type AuditKey } from '../audit-key.js'
import { GENESIS_HASH, headMac, macAuditEvent } from '../audit-chain.js'
import { migrationFailed, pendingMigrations, wrongKeyMessage, type Migration } from '../migrations.js'
import { toAuditEvent, type Row } from '../rows.js'

/** Arbitrary constant naming the advisory lock that serialises migrations. */
const MIGRATION_LOCK = 0x61706761 // "apga"

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE projects (
        id text PRIMARY KEY,
        name text NOT NULL UNIQUE,
        settings text NOT NULL,
        created_at text COLLATE "C" NOT NULL
      );

      CREATE TABLE users (
        id text PRIMARY KEY,
        email text NOT NULL,
        email_key text NOT NULL UNIQUE,
        password_hash text NOT NULL,
        github_login text,
        created_at text COLLATE "C" NOT NULL
      );

      CREATE TABLE memberships (
        project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role text NOT NULL CHECK (role IN ('admin', 'member')),
        created_at text COLLATE "C" NOT NULL,
        PRIMARY KEY (project_id, user_id)
      );
      CREATE INDEX memberships_by_user ON memberships (user_id);

      CREATE TABLE api_keys (
        id text PRIMARY KEY,
        project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name text NOT NULL,
        scopes text NOT NULL,
        key_hash text NOT NULL UNIQUE,
        prefix text NOT NULL,
        created_at text COLLATE "C" NOT NULL,
        last_used_at text COLLATE "C",
        revoked_at text COLLATE "C"
      );
      CREATE INDEX api_keys_by_project ON api_keys (project_id);

      CREATE TABLE approvals (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        id text NOT NULL UNIQUE,
        project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        action text NOT NULL,
        context text NOT NULL,
        agent text,
        status text NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled')),
        reason text,
        decided_by text,
        decided_at text COLLATE "C",
        created_at text COLLATE "C" NOT NULL,
        expires_at text COLLATE "C" NOT NULL,
        idempotency_key text,
        requested_by text NOT NULL
      );
      CREATE UNIQUE INDEX approvals_idempotency ON approvals (project_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
      CREATE INDEX approvals_by_project ON approvals (project_id, seq);
      CREATE INDEX approvals_by_status ON approvals (project_id, status, seq);
      CREATE INDEX approvals_pending_expiry ON approvals (expires_at) WHERE status = 'pending';

      CREATE TABLE audit_events (
        project_id text NOT NULL REFERENCES projects(id),
        seq bigint NOT NULL,
        type text NOT NULL,
        approval_id text NOT NULL,
        action text NOT NULL,
        agent text,
        actor text NOT NULL,
        reason text,
        at text COLLATE "C" NOT NULL,
        prev_hash text NOT NULL,
        hash text NOT NULL,
        PRIMARY KEY (project_id, seq)
      );

      -- One row per project from its creation (seq 0 = empty chain): appends lock it
      -- FOR UPDATE, which serialises a project's chain across connections and replicas.
      CREATE TABLE audit_heads (
        project_id text PRIMARY KEY REFERENCES projects(id),
        seq bigint NOT NULL,
        hash text NOT NULL
      );

      CREATE FUNCTION approval_gate_refuse_audit_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        RAISE EXCEPTION 'audit events are append-only';
      END $$;
      CREATE TRIGGER audit_events_append_only BEFORE UPDATE OR DELETE ON audit_events
        FOR EACH ROW EXECUTE FUNCTION approval_gate_refuse_audit_change();

      CREATE FUNCTION approval_gate_check_head_change() RETURNS trigger LANGUAGE plpgsql AS $$
      BEGIN
        IF TG_OP = 'DELETE' THEN
          RAISE EXCEPTION 'the audit chain head cannot be deleted';
        END IF;
        IF NEW.seq <> OLD.seq + 1 OR NEW.project_id <> OLD.project_id THEN
          RAISE EXCEPTION 'the audit chain head only moves forward one event at a time';
        END IF;
        RETURN NEW;
      END $$;
      CREATE TRIGGER audit_heads_forward_only BEFORE UPDATE OR DELETE ON audit_heads
        FOR EACH ROW EXECUTE FUNCTION approval_gate_check_head_change();

      CREATE TABLE sessions (
        token_hash text PRIMARY KEY,
        user_id text NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token text NOT NULL,
        created_at text COLLATE "C" NOT NULL,
        expires_at text COLLATE "C" NOT NULL
      );
      CREATE INDEX sessions_by_expiry ON sessions (expires_at);
    `,
  },
  {
    version: 2,
    name: 'idempotency fingerprints and requesting keys',
    sql: `
      -- Which API key created each approval, so it cannot decide its own request.
      ALTER TABLE approvals ADD COLUMN requested_by_key_id text;

      -- An idempotency key binds to one request (its fingerprint) for 24 hours, then may start
      -- a new approval: the key moves to its own table and approvals no longer hold it uniquely.
      CREATE TABLE idempotency_keys (
        project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        idempotency_key text NOT NULL,
        fingerprint text NOT NULL,
        approval_id text NOT NULL,
        created_at text COLLATE "C" NOT NULL,
        PRIMARY KEY (project_id, idempotency_key)
      );
      CREATE INDEX idempotency_keys_by_age ON idempotency_keys (created_at);
      -- Keys written before fingerprints existed match no request: a repeat within their
      -- 24 hours is refused (422) rather than trusted.
      INSERT INTO idempotency_keys (project_id, idempotency_key, fingerprint, approval_id, created_at)
        SELECT project_id, idempotency_key, '', id, created_at FROM approvals WHERE idempotency_key IS NOT NULL;
      DROP INDEX approvals_idempotency;
    `,
  },
  {
    version: 3,
    name: 'keyed audit chain',
    // As the SQLite migration 3: the keyed chain's columns, the lookup of an approval's
    // events, the key fingerprint; the append-only triggers are disabled here so
    // `sealLegacyChain` can give existing events their MAC, and enabled again by it.
    sql: `
      ALTER TABLE audit_events
        ADD COLUMN context_hash text,
        ADD COLUMN prev_mac text,
        ADD COLUMN mac text,
        ADD COLUMN sealed_at text COLLATE "C";
      ALTER TABLE audit_heads ADD COLUMN mac text;
      CREATE INDEX audit_events_by_approval ON audit_events (project_id, approval_id, seq);
      CREATE TABLE audit_key (
        id integer PRIMARY KEY CHECK (id = 1),
        fingerprint text NOT NULL,
        created_at text NOT NULL
      );
      ALTER TABLE audit_events DISABLE TRIGGER audit_events_append_only;
      ALTER TABLE audit_heads DISABLE TRIGGER audit_heads_forward_only;
    `,
  },
  {
    version: 4,
    name: 'per-project GitHub logins, invitations, sessions by user',
    sql: `
      -- The GitHub login the self-approval rule reads belongs to a membership, so one project's
      -- admin cannot change what another project trusts. Existing links are copied to every
      -- membership of their user; users.github_login is no longer read.
      ALTER TABLE memberships ADD COLUMN github_login text;
      UPDATE memberships SET github_login = (SELECT users.github_login FROM users WHERE users.id = memberships.user_id);

      -- "Sign out everywhere", password changes and removals end all of a user's sessions.
      CREATE INDEX sessions_by_user ON sessions (user_id);

      -- One-time links that add someone to a project; only the token's sha256 is stored.
      CREATE TABLE invitations (
        id text PRIMARY KEY,
        token_hash text NOT NULL UNIQUE,
        project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        email text NOT NULL,
        email_key text NOT NULL,
        role text NOT NULL CHECK (role IN ('admin', 'member')),
        github_login text,
        created_by text NOT NULL,
        created_at text COLLATE "C" NOT NULL,
        expires_at text COLLATE "C" NOT NULL,
        accepted_at text COLLATE "C",
        revoked_at text COLLATE "C"
      );
      CREATE INDEX invitations_by_project ON invitations (project_id, created_at);
    `,
  },
  {
    version: 5,
    name: 'workflow identities: trust rules and verified requesters',
    sql: `
      -- Which OIDC-verified workflow identities may request approvals in a project.
      CREATE TABLE trust_rules (
        id text PRIMARY KEY,
        project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        issuer text NOT NULL,
        audience text NOT NULL,
        repository text NOT NULL,
        ref text,
        environment text,
        workflow_ref text,
        created_at text COLLATE "C" NOT NULL
      );
      CREATE INDEX trust_rules_by_project ON trust_rules (project_id);
      CREATE INDEX trust_rules_by_issuer ON trust_rules (issuer);

      -- The verified claims of the workflow that asked (JSON), apart from the free context.
      ALTER TABLE approvals ADD COLUMN requester_claims text;
    `,
  },
  {
    version: 6,
    name: 'verified requester claims covered by the keyed audit chain',
    sql: `
      -- sha256 of the approval's requester_claims, recorded by its created event (and so
      -- covered by the event's MAC); null for events written before.
      ALTER TABLE audit_events ADD COLUMN claims_hash text;
    `,
  },
  {
    version: 7,
    name: 'approval policies: versioned policy documents',
    sql: `
      -- Every version of a project's policy document, as submitted; the highest version is current.
      -- A version with an empty source cleared the policy.
      CREATE TABLE policies (
        project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        version integer NOT NULL CHECK (version >= 1),
        source text NOT NULL,
        format text NOT NULL CHECK (format IN ('yaml', 'json')),
        hash text NOT NULL,
        created_by text NOT NULL,
        created_at text COLLATE "C" NOT NULL,
        PRIMARY KEY (project_id, version)
      );
    `,
  },
  {
    version: 8,
    name: 'votes: approvals counted under the policy rule resolved at creation',
    sql: `
      -- One row per voter (the vote's "by": an email or key:<name>) per approval; the UNIQUE constraint is what makes a second vote a conflict.
      CREATE TABLE votes (
        seq bigint GENERATED ALWAYS AS IDENTITY PRIMARY KEY,
        approval_id text NOT NULL REFERENCES approvals(id) ON DELETE CASCADE,
        voter text NOT NULL,
        email text,
        decision text NOT NULL CHECK (decision IN ('approve', 'reject')),
        reason text,
        at text COLLATE "C" NOT NULL,
        -- JSON list of the requirements the vote counts toward, as last counted
        groups text NOT NULL,
        UNIQUE (approval_id, voter)
      );

      -- The policy rule resolved when the approval was created (JSON); NULL: the any-one-member rule.
      ALTER TABLE approvals ADD COLUMN applied_policy text;
    `,
  },
  {
    version: 9,
    name: 'notification channels, deliveries (the outbox) and reminders',
    sql: `
      -- See the SQLite twin for what each table and column is for.
      CREATE TABLE notification_channels (
        id text PRIMARY KEY,
        project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        kind text NOT NULL CHECK (kind IN ('webhook', 'email', 'slack')),
        name text NOT NULL,
        config text NOT NULL,
        events text NOT NULL,
        secret_sealed text,
        remind_after_ms bigint,
        escalate_after_ms bigint,
        escalate_to text REFERENCES notification_channels(id) ON DELETE SET NULL,
        cursor_seq bigint NOT NULL,
        created_at text COLLATE "C" NOT NULL,
        UNIQUE (project_id, name)
      );
      CREATE INDEX notification_channels_by_project ON notification_channels (project_id, created_at);

      CREATE TABLE deliveries (
        n bigserial PRIMARY KEY,
        id text NOT NULL UNIQUE,
        channel_id text NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
        project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        approval_id text NOT NULL,
        audit_seq bigint,
        event_type text NOT NULL,
        occurred_at text COLLATE "C" NOT NULL,
        status text NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
        attempts integer NOT NULL,
        next_attempt_at text COLLATE "C" NOT NULL,
        last_error text,
        last_error_at text COLLATE "C",
        response_code integer,
        remote_ref text,
        created_at text COLLATE "C" NOT NULL,
        delivered_at text COLLATE "C"
      );
      CREATE UNIQUE INDEX deliveries_once ON deliveries (channel_id, audit_seq) WHERE audit_seq IS NOT NULL;
      CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
      CREATE INDEX deliveries_by_approval ON deliveries (channel_id, approval_id, n);
      CREATE INDEX deliveries_by_channel ON deliveries (channel_id, n);

      CREATE TABLE notification_reminders (
        channel_id text NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
        approval_id text NOT NULL,
        reminders integer NOT NULL,
        last_reminded_at text COLLATE "C",
        escalated_at text COLLATE "C",
        PRIMARY KEY (channel_id, approval_id)
      );
    `,
  },
  {
    version: 10,
    name: 'Slack: each member links their Slack user id per project',
    sql: `
      -- Who a Slack user is in this project, for decisions made from Slack messages.
      ALTER TABLE memberships ADD COLUMN slack_user_id text;
      CREATE UNIQUE INDEX memberships_by_slack_user ON memberships (project_id, slack_user_id) WHERE slack_user_id IS NOT NULL;
    `,
  },
  {
    version: 11,
    name: 'GitHub App: repository mappings and deployment gates',
    sql: `
      -- Which project gates a repository's deployments (admin-defined).
      CREATE TABLE github_mappings (
        id text PRIMARY KEY,
        project_id text NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        repository text NOT NULL,
        -- lower-cased owner/repo: GitHub compares names case-insensitively
        repository_key text NOT NULL,
        environment text,
        installation_id text,
        created_at text COLLATE "C" NOT NULL
      );
      CREATE UNIQUE INDEX github_mappings_unique ON github_mappings (repository_key, (COALESCE(lower(environment), '')), (COALESCE(installation_id, '')));
      CREATE INDEX github_mappings_by_project ON github_mappings (project_id);

      -- One row per approval GitHub asked for: where its answer goes and how far the callback got.
      CREATE TABLE github_gates (
        approval_id text PRIMARY KEY REFERENCES approvals(id) ON DELETE CASCADE,
        project_id text NOT NULL,
        delivery_id text NOT NULL UNIQUE,
        installation_id text NOT NULL,
        repository text NOT NULL,
        environment text NOT NULL,
        run_id text NOT NULL,
        callback text NOT NULL CHECK (callback IN ('pending', 'done', 'failed')),
        attempts integer NOT NULL DEFAULT 0,
        next_attempt_at text COLLATE "C" NOT NULL,
        last_error text,
        completed_at text COLLATE "C",
        created_at text COLLATE "C" NOT NULL
      );
      CREATE INDEX github_gates_open ON github_gates (next_attempt_at) WHERE callback = 'pending';
    `,
  },
]

/**
 * Gives every event written before the chain was keyed its MAC (marked `sealed_at`, reported
 * as legacy by verification) and every head its MAC, then re-enables the append-only
 * triggers. Runs once, inside migration 3's transaction (under the migration lock).
 */
async function sealLegacyChain(client: PoolClient, key: AuditKey): Promise<void> {
  const sealedAt = new Date().toISOString()
  const heads = (await client.query<{ project_id: string; seq: string }>('SELECT project_id, seq FROM audit_heads ORDER BY project_id')).rows
  for (const head of heads) {
    let prevMac = GENESIS_HASH
    const events = (await client.query('SELECT * FROM audit_events WHERE project_id = $1 ORDER BY seq', [head.project_id])).rows as Row[]
    for (const row of events) {
      const sealed = { ...toAuditEvent(row), prev_mac: prevMac, sealed_at: sealedAt, mac: null }
      const mac = macAuditEvent(key, sealed)
      await client.query('UPDATE audit_events SET prev_mac = $1, mac = $2, sealed_at = $3 WHERE project_id = $4 AND seq = $5', [prevMac, mac, sealedAt, head.project_id, sealed.seq])
      prevMac = mac
    }
    await client.query('UPDATE audit_heads SET mac = $1 WHERE project_id = $2', [headMac(key, head.project_id, Number(head.seq), prevMac), head.project_id])
  }
  await client.query('ALTER TABLE audit_events ENABLE TRIGGER audit_events_append_only')
  await client.query('ALTER TABLE audit_heads ENABLE TRIGGER audit_heads_forward_only')
}

/** Records the key's fingerprint on first use; afterwards refuses another key (see the SQLite twin). */
async function checkKeyFingerprint(client: PoolClient, key: AuditKey): Promise<void> {
  await client.query('INSERT INTO audit_key (id, fingerprint, created_at) VALUES (1, $1, $2) ON CONFLICT (id) DO NOTHING', [key.fingerprint, new Date().toISOString()])
  const { rows } = await client.query<{ fingerprint: string }>('SELECT fingerprint FROM audit_key WHERE id = 1')
  if (rows[0]?.fingerprint !== key.fingerprint) throw new AuditKeyError(wrongKeyMessage(rows[0]?.fingerprint ?? '', key))
}

export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version

/** Brings the database to `SCHEMA_VERSION`; refuses a database migrated by a newer approval-gate. */
export async function migrate(client: PoolClient, key: AuditKey): Promise<void> {
  await client.query('BEGIN')
  try {
    await client.query('SELECT pg_advisory_xact_lock($1)', [MIGRATION_LOCK])
    await client.query(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version integer PRIMARY KEY,
      name text NOT NULL,
      applied_at text NOT NULL
    )`)
    const { rows } = await client.query<{ version: number }>('SELECT version FROM schema_migrations')
    const recorded = rows.map((row) => row.version)
    for (const migration of pendingMigrations(MIGRATIONS, recorded)) {
      try {
        await client.query(migration.sql)
        if (migration.version === 3) await sealLegacyChain(client, key)
      } catch (error) {
        throw migrationFailed(migration, error)
      }
      await client.query('INSERT INTO schema_migrations (version, name, applied_at) VALUES ($1, $2, $3)', [migration.version, migration.name, new Date().toISOString()])
    }
    await checkKeyFingerprint(client, key)
    await client.query('COMMIT')
  } catch (error) {
    await client.query('ROLLBACK')
    throw error
  }
}
