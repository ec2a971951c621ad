/**
 * The PostgreSQL schema, as ordered migrations. The store applies the missing ones at start, all in one transaction
 * that first takes a transaction-scoped advisory lock, so gateway instances starting together apply each exactly
 * once (the second waits, then finds them applied). DDL is transactional in PostgreSQL: a failed migration leaves
 * nothing behind.
 *
 * Sizing for ~100M events:
 * - events: primary key (session_id, seq) serves "open a session"; unique (stream_id, position) serves
 *   verification, which walks each writer's chain in order, and keeps every chain linear (two writers with one
 *   stream name collide on it and the loser re-reads the head and retries).
 * - ids are `COLLATE "C"`: byte comparisons, no locale rules, on the hottest indexes.
 * - sessions: partial indexes (live sessions only) on started_at, (target, started_at) and (subject,
 *   started_at), each ending with id for stable keyset pagination ("before").
 * - captured rows in their own table keyed like the chain, so a value search scans row bytes only; large values
 *   are compressed and moved out of line by TOAST as usual.
 * - column definitions stored once per distinct set (column_sets, keyed by the digest the chained body holds).
 * - column origins interned (colsets) and indexed once per session and shape (session_colsets).
 */
export const POSTGRES_MIGRATIONS: string[] = [
  `
  CREATE TABLE streams (id serial PRIMARY KEY, name text NOT NULL UNIQUE);

  CREATE TABLE sessions (
    id text COLLATE "C" PRIMARY KEY,
    start text,
    target text,
    subject text,
    started_at timestamptz NOT NULL,
    policy text,
    instance_id text,
    ended_at timestamptz,
    end_cause text,
    statements integer NOT NULL DEFAULT 0,
    denied integer NOT NULL DEFAULT 0,
    approvals integer NOT NULL DEFAULT 0,
    kinds integer NOT NULL DEFAULT 0,
    pruned bigint
  );
  CREATE INDEX sessions_started ON sessions (started_at, id) WHERE pruned IS NULL;
  CREATE INDEX sessions_target ON sessions (target, started_at, id) WHERE pruned IS NULL;
  CREATE INDEX sessions_subject ON sessions (subject, started_at, id) WHERE pruned IS NULL;
  CREATE INDEX sessions_policy ON sessions (policy, started_at) WHERE pruned IS NULL;

  CREATE TABLE events (
    session_id text COLLATE "C" NOT NULL,
    seq integer NOT NULL,
    stream_id integer NOT NULL,
    position bigint NOT NULL,
    prev bytea NOT NULL,
    sess_prev bytea NOT NULL,
    hash bytea NOT NULL,
    body text,
    colset bigint,
    PRIMARY KEY (session_id, seq)
  );
  CREATE UNIQUE INDEX events_stream ON events (stream_id, position);

  CREATE TABLE event_rows (
    stream_id integer NOT NULL,
    position bigint NOT NULL,
    fmt smallint NOT NULL,
    rows bytea NOT NULL,
    PRIMARY KEY (stream_id, position)
  );

  CREATE TABLE column_sets (digest text COLLATE "C" PRIMARY KEY, columns text NOT NULL);
  CREATE TABLE colsets (id bigint PRIMARY KEY, key text NOT NULL);
  CREATE TABLE session_colsets (colset bigint NOT NULL, session_id text COLLATE "C" NOT NULL, PRIMARY KEY (colset, session_id));

  CREATE TABLE checkpoints (
    stream_id integer NOT NULL,
    n integer NOT NULL,
    position bigint NOT NULL,
    payload text NOT NULL,
    signature bytea NOT NULL,
    key_id text NOT NULL,
    PRIMARY KEY (stream_id, n)
  );
  CREATE TABLE checkpoint_sessions (
    session_id text COLLATE "C" NOT NULL,
    stream_id integer NOT NULL,
    n integer NOT NULL,
    PRIMARY KEY (session_id, stream_id, n)
  );

  CREATE TABLE keys (id text PRIMARY KEY, public_pem text NOT NULL, created_at timestamptz NOT NULL DEFAULT now());
  CREATE TABLE prunes (id bigserial PRIMARY KEY, payload text NOT NULL, signature bytea NOT NULL, key_id text NOT NULL);

  CREATE TABLE approvals (
    id text PRIMARY KEY,
    status text NOT NULL,
    instance_id text NOT NULL,
    created_at timestamptz NOT NULL,
    updated_at timestamptz NOT NULL DEFAULT now(),
    version integer NOT NULL,
    data text NOT NULL
  );
  CREATE INDEX approvals_status ON approvals (status, created_at);
  CREATE INDEX approvals_created ON approvals (created_at);
  CREATE INDEX approvals_updated ON approvals (updated_at);
  CREATE INDEX approvals_instance ON approvals (instance_id, status);
  `,
];

/**
 * One group-commit batch in one statement (one round trip; a single statement is atomic). Data-modifying CTEs all
 * run to completion whether or not the outer query reads them. They share one snapshot, so a session inserted by
 * `ns` is never also updated by `us`: the writer sends new sessions with their final counters, and only sessions
 * that existed before the batch as deltas.
 */
export const BATCH_SQL = `
WITH
cs AS (INSERT INTO colsets (id, key) SELECT * FROM unnest($1::bigint[], $2::text[]) ON CONFLICT (id) DO NOTHING),
ns AS (INSERT INTO sessions (id, start, target, subject, started_at, policy, instance_id, ended_at, end_cause, statements, denied, approvals, kinds)
       SELECT * FROM unnest($3::text[], $4::text[], $5::text[], $6::text[], $7::timestamptz[], $8::text[], $9::text[],
                            $10::timestamptz[], $11::text[], $12::integer[], $13::integer[], $14::integer[], $15::integer[])),
us AS (UPDATE sessions s SET statements = s.statements + d.st, denied = s.denied + d.dn, approvals = s.approvals + d.ap,
         kinds = s.kinds | d.k, ended_at = coalesce(d.ea, s.ended_at), end_cause = coalesce(d.ec, s.end_cause)
       FROM unnest($16::text[], $17::integer[], $18::integer[], $19::integer[], $20::integer[], $21::timestamptz[], $22::text[])
            AS d(id, st, dn, ap, k, ea, ec)
       WHERE s.id = d.id),
ev AS (INSERT INTO events (stream_id, position, session_id, seq, prev, sess_prev, hash, body, colset)
       SELECT $23::integer, * FROM unnest($24::bigint[], $25::text[], $26::integer[], $27::bytea[], $28::bytea[], $29::bytea[], $30::text[], $31::bigint[])),
er AS (INSERT INTO event_rows (stream_id, position, fmt, rows) SELECT $23::integer, * FROM unnest($32::bigint[], $33::smallint[], $34::bytea[])),
sc AS (INSERT INTO session_colsets (colset, session_id) SELECT * FROM unnest($35::bigint[], $36::text[]) ON CONFLICT DO NOTHING),
cp AS (INSERT INTO checkpoints (stream_id, n, position, payload, signature, key_id)
       SELECT $23::integer, * FROM unnest($37::integer[], $38::bigint[], $39::text[], $40::bytea[], $41::text[])),
cx AS (INSERT INTO checkpoint_sessions (session_id, stream_id, n) SELECT x.sid, $23::integer, x.n FROM unnest($42::text[], $43::integer[]) AS x(sid, n)
       ON CONFLICT DO NOTHING),
cd AS (INSERT INTO column_sets (digest, columns) SELECT * FROM unnest($44::text[], $45::text[]) ON CONFLICT DO NOTHING)
SELECT 1`;
