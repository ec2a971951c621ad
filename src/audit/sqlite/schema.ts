/**
 * The SQLite schema, as ordered migrations. Each runs once, inside the same IMMEDIATE transaction that reads and
 * bumps schema_version, so two processes opening one file at the same time apply it once.
 *
 * Layout choices, measured on the bench (bench/audit-store.ts):
 * - events refer to their session by the session's integer rowid (`session_no`), not its text id: sessions opened
 *   at about the same time get neighbouring numbers, so the (session_no, seq) index is written in few pages per
 *   commit. With random UUIDs as the key every event of a batch dirtied its own index page, which doubled the cost
 *   of an append in WAL mode.
 * - a session's counters and end live in a narrow table of their own (session_state), rewritten by every batch
 *   that touches the session, instead of rewriting its wide start row.
 * - captured rows live in their own table, so a value search scans only row bytes, and listings or verification
 *   never read them unless needed.
 * - column definitions are stored once per distinct set (`column_sets`, keyed by the digest the chained body holds).
 * - column origins are interned as column sets (`colsets`) and indexed per session (`session_colsets`), which is one
 *   index entry per session and shape of result rather than one per event and column.
 */
export const SQLITE_MIGRATIONS: string[] = [
  `
  CREATE TABLE streams (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);

  CREATE TABLE sessions (
    no INTEGER PRIMARY KEY,
    id TEXT NOT NULL UNIQUE,
    start TEXT,
    target TEXT,
    subject TEXT,
    started_at TEXT NOT NULL,
    policy TEXT,
    instance_id TEXT,
    pruned INTEGER
  );
  -- What changes while a session runs, apart from its (wide) start row: updated in every batch that touches the
  -- session, so kept narrow.
  CREATE TABLE session_state (
    no INTEGER PRIMARY KEY,
    statements INTEGER NOT NULL DEFAULT 0,
    denied INTEGER NOT NULL DEFAULT 0,
    approvals INTEGER NOT NULL DEFAULT 0,
    kinds INTEGER NOT NULL DEFAULT 0,
    ended_at TEXT,
    end_cause TEXT
  );
  CREATE INDEX sessions_started ON sessions (started_at, no);
  CREATE INDEX sessions_target ON sessions (target, started_at, no);
  CREATE INDEX sessions_subject ON sessions (subject, started_at, no);
  CREATE INDEX sessions_policy ON sessions (policy, started_at) WHERE pruned IS NULL;

  CREATE TABLE events (
    id INTEGER PRIMARY KEY,
    stream INTEGER NOT NULL,
    position INTEGER NOT NULL,
    session_no INTEGER NOT NULL,
    seq INTEGER NOT NULL,
    prev BLOB NOT NULL,
    sess_prev BLOB NOT NULL,
    hash BLOB NOT NULL,
    body TEXT,
    colset INTEGER
  );
  CREATE UNIQUE INDEX events_session ON events (session_no, seq);
  CREATE UNIQUE INDEX events_stream ON events (stream, position);

  CREATE TABLE event_rows (event_id INTEGER PRIMARY KEY, fmt INTEGER NOT NULL, rows BLOB NOT NULL);

  CREATE TABLE column_sets (digest TEXT PRIMARY KEY, columns TEXT NOT NULL) WITHOUT ROWID;
  CREATE TABLE colsets (id INTEGER PRIMARY KEY, key TEXT NOT NULL);
  CREATE TABLE session_colsets (colset INTEGER NOT NULL, session_no INTEGER NOT NULL, PRIMARY KEY (colset, session_no)) WITHOUT ROWID;

  CREATE TABLE checkpoints (
    stream INTEGER NOT NULL,
    n INTEGER NOT NULL,
    position INTEGER NOT NULL,
    payload TEXT NOT NULL,
    signature BLOB NOT NULL,
    key_id TEXT NOT NULL,
    PRIMARY KEY (stream, n)
  );
  CREATE TABLE checkpoint_sessions (session_no INTEGER NOT NULL, stream INTEGER NOT NULL, n INTEGER NOT NULL, PRIMARY KEY (session_no, stream, n)) WITHOUT ROWID;

  CREATE TABLE keys (id TEXT PRIMARY KEY, public_pem TEXT NOT NULL, created_at TEXT NOT NULL);
  CREATE TABLE prunes (id INTEGER PRIMARY KEY, payload TEXT NOT NULL, signature BLOB NOT NULL, key_id TEXT NOT NULL);

  CREATE TABLE approvals (
    id TEXT PRIMARY KEY,
    status TEXT NOT NULL,
    instance_id TEXT NOT NULL,
    created_at TEXT NOT NULL,
    version INTEGER NOT NULL,
    data TEXT NOT NULL
  );
  CREATE INDEX approvals_status ON approvals (status, created_at);
  CREATE INDEX approvals_created ON approvals (created_at);
  CREATE INDEX approvals_instance ON approvals (instance_id, status);
  `,
  // 2: how far each stream's write-ahead journal has been moved into the tables (journal.ts).
  `
  CREATE TABLE journal_state (stream INTEGER PRIMARY KEY, batch INTEGER NOT NULL);
  `,
];

/**
 * Each connection's page cache, in KiB (`PRAGMA cache_size` takes it negative). Appends touch few pages (the right edge
 * of each table and index), and the API's reads also find the file in the operating system's cache. A cache fills up
 * and stays full for the life of the process: at 64 MB each, the writer thread's and the event loop's connections
 * held about 60 MB more of a gateway's memory after a few minutes of load than they do at 8 MB, which did not make
 * the writer thread, the appends or the reads of bench/audit-store.ts any slower.
 */
export const PAGE_CACHE_KIB = 8192;
