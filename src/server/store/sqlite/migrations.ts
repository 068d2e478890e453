/**
 * Versioned schema of the SQLite store. Migrations are numbered, applied in order inside
 * one `BEGIN IMMEDIATE` transaction and recorded in `schema_migrations`, so reopening a
 * file is a no-op and two processes (the server and the CLI) opening the same file at once
 * cannot both apply one: the second waits for the write lock, then sees it done.
 * Never edit a released migration; add the next number.
 */
import type { DatabaseSync } from 'node:sqlite'
import { AuditKeyError, type AuditKey } from '../audit-key.js'
import { GENESIS_HASH, headMac, macAuditEvent } from '../audit-chain.js'
import { migrationFailed, pendingMigrations, wrongKeyMessage, type Migration } from '../migrations.js'
import { toAuditEvent, type Row } from '../rows.js'

export const MIGRATIONS: readonly Migration[] = [
  {
    version: 1,
    name: 'initial schema',
    sql: `
      CREATE TABLE projects (
        id TEXT PRIMARY KEY,
        name TEXT NOT NULL UNIQUE,
        settings TEXT NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE users (
        id TEXT PRIMARY KEY,
        email TEXT NOT NULL,
        -- lower-cased email: uniqueness and lookups are case-insensitive
        email_key TEXT NOT NULL UNIQUE,
        password_hash TEXT NOT NULL,
        github_login TEXT,
        created_at TEXT NOT NULL
      ) STRICT;

      CREATE TABLE memberships (
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
        created_at TEXT NOT NULL,
        PRIMARY KEY (project_id, user_id)
      ) STRICT;
      CREATE INDEX memberships_by_user ON memberships (user_id);

      CREATE TABLE api_keys (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        name TEXT NOT NULL,
        scopes TEXT NOT NULL,
        key_hash TEXT NOT NULL UNIQUE,
        prefix TEXT NOT NULL,
        created_at TEXT NOT NULL,
        last_used_at TEXT,
        revoked_at TEXT
      ) STRICT;
      CREATE INDEX api_keys_by_project ON api_keys (project_id);

      CREATE TABLE approvals (
        -- insertion order: newest-first listing and the opaque cursor
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        action TEXT NOT NULL,
        context TEXT NOT NULL,
        agent TEXT,
        status TEXT NOT NULL CHECK (status IN ('pending', 'approved', 'rejected', 'expired', 'cancelled')),
        reason TEXT,
        decided_by TEXT,
        decided_at TEXT,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        idempotency_key TEXT,
        requested_by TEXT NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX approvals_idempotency ON approvals (project_id, idempotency_key) WHERE idempotency_key IS NOT NULL;
      CREATE INDEX approvals_by_project ON approvals (project_id, seq);
      CREATE INDEX approvals_by_status ON approvals (project_id, status, seq);
      CREATE INDEX approvals_pending_expiry ON approvals (expires_at) WHERE status = 'pending';

      CREATE TABLE audit_events (
        project_id TEXT NOT NULL REFERENCES projects(id),
        seq INTEGER NOT NULL,
        type TEXT NOT NULL,
        approval_id TEXT NOT NULL,
        action TEXT NOT NULL,
        agent TEXT,
        actor TEXT NOT NULL,
        reason TEXT,
        at TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        PRIMARY KEY (project_id, seq)
      ) STRICT;

      -- Last seq + hash per project, written in the same transaction as each event: deleting
      -- the newest events leaves the head pointing past the end of the chain.
      CREATE TABLE audit_heads (
        project_id TEXT PRIMARY KEY REFERENCES projects(id),
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
      ) STRICT;

      -- Append-only: only someone who drops these triggers by hand can rewrite history,
      -- and verifyAudit then pinpoints what changed.
      CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
      BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
      CREATE TRIGGER audit_events_no_delete BEFORE DELETE ON audit_events
      BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
      CREATE TRIGGER audit_heads_forward_only BEFORE UPDATE ON audit_heads
      WHEN NEW.seq <> OLD.seq + 1 OR NEW.project_id <> OLD.project_id
      BEGIN SELECT RAISE(ABORT, 'the audit chain head only moves forward one event at a time'); END;
      CREATE TRIGGER audit_heads_no_delete BEFORE DELETE ON audit_heads
      BEGIN SELECT RAISE(ABORT, 'the audit chain head cannot be deleted'); END;

      CREATE TABLE sessions (
        token_hash TEXT PRIMARY KEY,
        user_id TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
        csrf_token TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX sessions_by_expiry ON sessions (expires_at);
    `,
  },
  {
    version: 2,
    name: 'idempotency fingerprints and requesting keys',
    sql: `
      -- Which API key created each approval, so it cannot decide its own request.
      ALTER TABLE approvals ADD COLUMN requested_by_key_id TEXT;

      -- An idempotency key binds to one request (its fingerprint) for 24 hours, then may start
      -- a new approval: the key moves to its own table and approvals no longer hold it uniquely.
      CREATE TABLE idempotency_keys (
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        idempotency_key TEXT NOT NULL,
        fingerprint TEXT NOT NULL,
        approval_id TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (project_id, idempotency_key)
      ) STRICT;
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
    // The columns of the keyed chain (see audit-chain.ts), the lookup of an approval's events,
    // and the fingerprint of the key the chain is written with. The two triggers that forbid
    // updates are dropped here so `sealLegacyChain` can give existing events their MAC, and
    // re-created by it in the same transaction.
    sql: `
      ALTER TABLE audit_events ADD COLUMN context_hash TEXT;
      ALTER TABLE audit_events ADD COLUMN prev_mac TEXT;
      ALTER TABLE audit_events ADD COLUMN mac TEXT;
      ALTER TABLE audit_events ADD COLUMN sealed_at TEXT;
      ALTER TABLE audit_heads ADD COLUMN mac TEXT;
      CREATE INDEX audit_events_by_approval ON audit_events (project_id, approval_id, seq);
      CREATE TABLE audit_key (
        id INTEGER PRIMARY KEY CHECK (id = 1),
        fingerprint TEXT NOT NULL,
        created_at TEXT NOT NULL
      ) STRICT;
      DROP TRIGGER audit_events_no_update;
      DROP TRIGGER audit_heads_forward_only;
    `,
  },
  {
    version: 4,
    name: 'per-project GitHub logins, invitations, sessions by user',
    sql: `
      -- The GitHub login the self-approval rule reads belongs to a membership, so one project's
      -- admin cannot change what another project trusts. Existing links are copied to every
      -- membership of their user; users.github_login is no longer read.
      ALTER TABLE memberships ADD COLUMN github_login TEXT;
      UPDATE memberships SET github_login = (SELECT users.github_login FROM users WHERE users.id = memberships.user_id);

      -- "Sign out everywhere", password changes and removals end all of a user's sessions.
      CREATE INDEX sessions_by_user ON sessions (user_id);

      -- One-time links that add someone to a project; only the token's sha256 is stored.
      CREATE TABLE invitations (
        id TEXT PRIMARY KEY,
        token_hash TEXT NOT NULL UNIQUE,
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        email TEXT NOT NULL,
        email_key TEXT NOT NULL,
        role TEXT NOT NULL CHECK (role IN ('admin', 'member')),
        github_login TEXT,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        expires_at TEXT NOT NULL,
        accepted_at TEXT,
        revoked_at TEXT
      ) STRICT;
      CREATE INDEX invitations_by_project ON invitations (project_id, created_at);
    `,
  },
  {
    version: 5,
    name: 'workflow identities: trust rules and verified requesters',
    sql: `
      -- Which OIDC-verified workflow identities may request approvals in a project.
      CREATE TABLE trust_rules (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        issuer TEXT NOT NULL,
        audience TEXT NOT NULL,
        repository TEXT NOT NULL,
        ref TEXT,
        environment TEXT,
        workflow_ref TEXT,
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX trust_rules_by_project ON trust_rules (project_id);
      CREATE INDEX trust_rules_by_issuer ON trust_rules (issuer);

      -- The verified claims of the workflow that asked (JSON), apart from the free context.
      ALTER TABLE approvals ADD COLUMN requester_claims TEXT;
    `,
  },
  {
    version: 6,
    name: 'verified requester claims covered by the keyed audit chain',
    sql: `
      -- sha256 of the approval's requester_claims, recorded by its created event (and so
      -- covered by the event's MAC); null for events written before.
      ALTER TABLE audit_events ADD COLUMN claims_hash TEXT;
    `,
  },
  {
    version: 7,
    name: 'approval policies: versioned policy documents',
    sql: `
      -- Every version of a project's policy document, as submitted; the highest version is current.
      -- A version with an empty source cleared the policy.
      CREATE TABLE policies (
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        version INTEGER NOT NULL CHECK (version >= 1),
        source TEXT NOT NULL,
        format TEXT NOT NULL CHECK (format IN ('yaml', 'json')),
        hash TEXT NOT NULL,
        created_by TEXT NOT NULL,
        created_at TEXT NOT NULL,
        PRIMARY KEY (project_id, version)
      ) STRICT;
    `,
  },
  {
    version: 8,
    name: 'votes: approvals counted under the policy rule resolved at creation',
    sql: `
      -- One row per voter (the vote's "by": an email or key:<name>) per approval; the UNIQUE constraint is what makes a second vote a conflict.
      CREATE TABLE votes (
        seq INTEGER PRIMARY KEY AUTOINCREMENT,
        approval_id TEXT NOT NULL REFERENCES approvals(id) ON DELETE CASCADE,
        voter TEXT NOT NULL,
        email TEXT,
        decision TEXT NOT NULL CHECK (decision IN ('approve', 'reject')),
        reason TEXT,
        at TEXT NOT NULL,
        -- JSON list of the requirements the vote counts toward, as last counted
        groups TEXT NOT NULL,
        UNIQUE (approval_id, voter)
      ) STRICT;

      -- The policy rule resolved when the approval was created (JSON); NULL: the any-one-member rule.
      ALTER TABLE approvals ADD COLUMN applied_policy TEXT;
    `,
  },
  {
    version: 9,
    name: 'notification channels, deliveries (the outbox) and reminders',
    sql: `
      -- A project's notification channels. The secret is sealed (AES-256-GCM under a key derived
      -- from the audit key, see secret-box.ts). cursor_seq: the last audit seq of the project
      -- already turned into deliveries, moved in the same transaction that inserts them.
      CREATE TABLE notification_channels (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        kind TEXT NOT NULL CHECK (kind IN ('webhook', 'email', 'slack')),
        name TEXT NOT NULL,
        config TEXT NOT NULL,
        events TEXT NOT NULL,
        secret_sealed TEXT,
        remind_after_ms INTEGER,
        escalate_after_ms INTEGER,
        escalate_to TEXT REFERENCES notification_channels(id) ON DELETE SET NULL,
        cursor_seq INTEGER NOT NULL,
        created_at TEXT NOT NULL,
        UNIQUE (project_id, name)
      ) STRICT;
      CREATE INDEX notification_channels_by_project ON notification_channels (project_id, created_at);

      -- The outbox: one row per event per channel, also the channel's delivery log. n orders
      -- the deliveries of one (channel, approval); a claimed row's next_attempt_at is its lease.
      CREATE TABLE deliveries (
        n INTEGER PRIMARY KEY AUTOINCREMENT,
        id TEXT NOT NULL UNIQUE,
        channel_id TEXT NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        approval_id TEXT NOT NULL,
        audit_seq INTEGER,
        event_type TEXT NOT NULL,
        occurred_at TEXT NOT NULL,
        status TEXT NOT NULL CHECK (status IN ('pending', 'sending', 'delivered', 'failed')),
        attempts INTEGER NOT NULL,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        last_error_at TEXT,
        response_code INTEGER,
        remote_ref TEXT,
        created_at TEXT NOT NULL,
        delivered_at TEXT
      ) STRICT;
      -- An audit event becomes at most one delivery per channel, whatever happens.
      CREATE UNIQUE INDEX deliveries_once ON deliveries (channel_id, audit_seq) WHERE audit_seq IS NOT NULL;
      CREATE INDEX deliveries_due ON deliveries (next_attempt_at) WHERE status IN ('pending', 'sending');
      CREATE INDEX deliveries_by_approval ON deliveries (channel_id, approval_id, n);
      CREATE INDEX deliveries_by_channel ON deliveries (channel_id, n);

      -- Reminder and escalation bookkeeping per (channel, pending approval).
      CREATE TABLE notification_reminders (
        channel_id TEXT NOT NULL REFERENCES notification_channels(id) ON DELETE CASCADE,
        approval_id TEXT NOT NULL,
        reminders INTEGER NOT NULL,
        last_reminded_at TEXT,
        escalated_at TEXT,
        PRIMARY KEY (channel_id, approval_id)
      ) STRICT;
    `,
  },
  {
    version: 10,
    name: 'Slack: each member links their Slack user id per project',
    sql: `
      -- Who a Slack user is in this project, for decisions made from Slack messages.
      ALTER TABLE memberships ADD COLUMN slack_user_id TEXT;
      CREATE UNIQUE INDEX memberships_by_slack_user ON memberships (project_id, slack_user_id) WHERE slack_user_id IS NOT NULL;
    `,
  },
  {
    version: 11,
    name: 'GitHub App: repository mappings and deployment gates',
    sql: `
      -- Which project gates a repository's deployments (admin-defined).
      CREATE TABLE github_mappings (
        id TEXT PRIMARY KEY,
        project_id TEXT NOT NULL REFERENCES projects(id) ON DELETE CASCADE,
        repository TEXT NOT NULL,
        -- lower-cased owner/repo: GitHub compares names case-insensitively
        repository_key TEXT NOT NULL,
        environment TEXT,
        installation_id TEXT,
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE UNIQUE INDEX github_mappings_unique ON github_mappings (repository_key, (COALESCE(lower(environment), '')), (COALESCE(installation_id, '')));
      CREATE INDEX github_mappings_by_project ON github_mappings (project_id);

      -- One row per approval GitHub asked for: where its answer goes and how far the callback got.
      CREATE TABLE github_gates (
        approval_id TEXT PRIMARY KEY REFERENCES approvals(id) ON DELETE CASCADE,
        project_id TEXT NOT NULL,
        delivery_id TEXT NOT NULL UNIQUE,
        installation_id TEXT NOT NULL,
        repository TEXT NOT NULL,
        environment TEXT NOT NULL,
        run_id TEXT NOT NULL,
        callback TEXT NOT NULL CHECK (callback IN ('pending', 'done', 'failed')),
        attempts INTEGER NOT NULL DEFAULT 0,
        next_attempt_at TEXT NOT NULL,
        last_error TEXT,
        completed_at TEXT,
        created_at TEXT NOT NULL
      ) STRICT;
      CREATE INDEX github_gates_open ON github_gates (next_attempt_at) WHERE callback = 'pending';
    `,
  },
]

/** Re-created by `sealLegacyChain` after migration 3 (same definitions as migration 1). */
const APPEND_ONLY_TRIGGERS = `
  CREATE TRIGGER audit_events_no_update BEFORE UPDATE ON audit_events
  BEGIN SELECT RAISE(ABORT, 'audit events are append-only'); END;
  CREATE TRIGGER audit_heads_forward_only BEFORE UPDATE ON audit_heads
  WHEN NEW.seq <> OLD.seq + 1 OR NEW.project_id <> OLD.project_id
  BEGIN SELECT RAISE(ABORT, 'the audit chain head only moves forward one event at a time'); END;
`

/**
 * Gives every event written before the chain was keyed its MAC (marked `sealed_at`, reported
 * as legacy by verification) and every head its MAC, then restores the append-only triggers.
 * Runs once, inside migration 3's transaction.
 */
function sealLegacyChain(db: DatabaseSync, key: AuditKey): void {
  const sealedAt = new Date().toISOString()
  const update = db.prepare('UPDATE audit_events SET prev_mac = ?, mac = ?, sealed_at = ? WHERE project_id = ? AND seq = ?')
  const heads = db.prepare('SELECT project_id, seq FROM audit_heads').all() as Row[]
  for (const head of heads) {
    const projectId = String(head.project_id)
    let prevMac = GENESIS_HASH
    for (const row of db.prepare('SELECT * FROM audit_events WHERE project_id = ? ORDER BY seq').all(projectId) as Row[]) {
      const sealed = { ...toAuditEvent(row), prev_mac: prevMac, sealed_at: sealedAt, mac: null }
      const mac = macAuditEvent(key, sealed)
      update.run(prevMac, mac, sealedAt, projectId, sealed.seq)
      prevMac = mac
    }
    db.prepare('UPDATE audit_heads SET mac = ? WHERE project_id = ?').run(headMac(key, projectId, Number(head.seq), prevMac), projectId)
  }
  db.exec(APPEND_ONLY_TRIGGERS)
}

/**
 * Records the fingerprint of the key on first use; afterwards refuses another key, which
 * would make every event fail verification (a restored database with the wrong key file).
 */
function checkKeyFingerprint(db: DatabaseSync, key: AuditKey): void {
  const row = db.prepare('SELECT fingerprint FROM audit_key WHERE id = 1').get()
  if (!row) {
    db.prepare('INSERT INTO audit_key (id, fingerprint, created_at) VALUES (1, ?, ?)').run(key.fingerprint, new Date().toISOString())
    return
  }
  if (row.fingerprint !== key.fingerprint) throw new AuditKeyError(wrongKeyMessage(String(row.fingerprint), key))
}

/** The newest schema version this code knows. */
export const SCHEMA_VERSION = MIGRATIONS[MIGRATIONS.length - 1].version

/**
 * Brings the database to `SCHEMA_VERSION`. Refuses a file written by a newer version of
 * approval-gate instead of running old code against a schema it does not understand.
 */
export function migrate(db: DatabaseSync, key: AuditKey): void {
  db.exec('BEGIN IMMEDIATE')
  try {
    db.exec(`CREATE TABLE IF NOT EXISTS schema_migrations (
      version INTEGER PRIMARY KEY,
      name TEXT NOT NULL,
      applied_at TEXT NOT NULL
    ) STRICT`)
    const recorded = db.prepare('SELECT version FROM schema_migrations').all().map((row) => Number(row.version))
    const record = db.prepare('INSERT INTO schema_migrations (version, name, applied_at) VALUES (?, ?, ?)')
    for (const migration of pendingMigrations(MIGRATIONS, recorded)) {
      try {
        db.exec(migration.sql)
        if (migration.version === 3) sealLegacyChain(db, key)
      } catch (error) {
        throw migrationFailed(migration, error)
      }
      record.run(migration.version, migration.name, new Date().toISOString())
    }
    checkKeyFingerprint(db, key)
    db.exec('COMMIT')
  } catch (error) {
    db.exec('ROLLBACK')
    throw error
  }
}
