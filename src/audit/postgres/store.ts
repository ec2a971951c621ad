import pg from 'pg';
import { ApprovalListeners } from '../approval-listeners.ts';
import { sha256Hex, ZERO_HASH } from '../chain.ts';
import { ChainWriter, type Op, type Plan } from '../chain-writer.ts';
import { exportLines } from '../export.ts';
import { GroupCommit } from '../group-commit.ts';
import { limitOf, resolveOptions, type ResolvedOptions } from '../options.ts';
import { ColumnSetCache, decodeEvent, encodeEvent, kindsMask, sessionFromRow, type SessionRow } from '../record.ts';
import { columnMatcher, matchingColumns, valueQuery } from '../search.ts';
import { verifyStore } from '../verifier.ts';
import type {
  Approval, AuditStore, AuditStoreOptions, NewEvent, PruneOptions, PruneResult, SearchHit, SearchOptions, Session,
  SessionFilter, SessionStart, StoredEvent, VerifyOptions, VerifyResult,
} from '../types.ts';
import { PostgresApprovals } from './approvals.ts';
import { prunePostgres } from './retention.ts';
import { BATCH_SQL, POSTGRES_MIGRATIONS } from './schema.ts';
import { postgresVerifySource } from './verify-source.ts';
import { inTransaction } from './tx.ts';

/**
 * The shared store: several gateway instances write one PostgreSQL database, each into its own chain stream (named
 * by its instance id), so no lock is shared between instances on the write path.
 *
 * Connections: one for the writer (batches are strictly sequential: a batch's positions follow the previous
 * batch's), one for LISTEN (approval changes from every instance), and a small pool for reads and approvals.
 * A connection that failed is dropped and a new one is made on the next use, so a database that comes back is used
 * again without a restart.
 */

/**
 * A database that stops answering must make appends fail (the gateway then refuses the statement), never hang: the
 * gateway holds each result's last packet until its event is recorded.
 */
const TIMEOUTS = { connectionTimeoutMillis: 5000, statement_timeout: 10_000, query_timeout: 15_000, keepAlive: true };
const SCHEMA_LOCK = "hashtext('agentgate.audit.schema')";

type Q = pg.ClientBase | pg.Pool;

export class PostgresAuditStore implements AuditStore {
  readonly kind = 'postgres' as const;
  readonly #url: string;
  readonly #o: ResolvedOptions;
  #pool: pg.Pool | null = null;
  #wconn: pg.Client | null = null;
  #writer!: ChainWriter;
  #streamKey = 0;
  readonly #streamNames = new Map<number, string>();
  readonly #queue: GroupCommit<Op>;
  readonly #listeners = new ApprovalListeners();
  #approvals: PostgresApprovals | null = null;
  #timer: NodeJS.Timeout | null = null;
  #ready = false;
  #closed = false;
  readonly #columns = new ColumnSetCache();

  constructor(url: string, opts: AuditStoreOptions) {
    this.#url = url;
    this.#o = resolveOptions(opts);
    this.#queue = new GroupCommit<Op>((ops) => this.#flush(ops));
  }

  get healthy(): boolean {
    return this.#ready && !this.#closed && this.#queue.healthy;
  }

  get batches(): number {
    return this.#queue.batches;
  }

  async init(): Promise<void> {
    if (this.#ready) return;
    // Reads (a verify page, a search scan, a prune) may take longer than a write: only connecting is bounded.
    const pool = new pg.Pool({ connectionString: this.#url, max: 4, idleTimeoutMillis: 10_000, connectionTimeoutMillis: TIMEOUTS.connectionTimeoutMillis, keepAlive: true });
    // An idle pooled connection that dies (server restart) reports here; the pool replaces it on next use.
    pool.on('error', () => {});
    try {
      await this.#migrate(pool);
      const s = await pool.query(
        'INSERT INTO streams (name) VALUES ($1) ON CONFLICT (name) DO UPDATE SET name = EXCLUDED.name RETURNING id',
        [this.#o.instanceId],
      );
      this.#streamKey = Number(s.rows[0].id);
      await pool.query('INSERT INTO keys (id, public_pem) VALUES ($1, $2) ON CONFLICT (id) DO NOTHING', [this.#o.keyId, this.#o.publicPem]);
      this.#writer = new ChainWriter({ stream: this.#o.instanceId, key: this.#o.key, keyId: this.#o.keyId, checkpointEvery: this.#o.checkpointEvery });
      await this.#loadHead(pool);
    } catch (err) {
      await pool.end().catch(() => {});
      throw err;
    }
    this.#pool = pool;
    this.#ready = true;
    this.#approvals = new PostgresApprovals(this.#url, () => this.#pool_(), this.#listeners);
    await this.#approvals.listen();
    this.#timer = setInterval(() => {
      if (this.#writer.dirty && Date.now() - this.#writer.lastCheckpointAt >= this.#o.checkpointInterval) {
        this.#queue.enqueue({ kind: 'checkpoint' }).catch(() => {});
      }
    }, Math.min(this.#o.checkpointInterval, 1000));
    this.#timer.unref();
  }

  async #migrate(pool: pg.Pool): Promise<void> {
    await inTransaction(pool, async (c) => {
      await c.query(`SELECT pg_advisory_xact_lock(${SCHEMA_LOCK})`);
      await c.query('CREATE TABLE IF NOT EXISTS schema_version (version integer NOT NULL, applied_at timestamptz NOT NULL DEFAULT now())');
      const cur = Number((await c.query('SELECT coalesce(max(version), 0) AS v FROM schema_version')).rows[0].v);
      if (cur > POSTGRES_MIGRATIONS.length) throw new Error(`the audit database has schema version ${cur}, newer than this agentgate knows (${POSTGRES_MIGRATIONS.length})`);
      for (let v = cur + 1; v <= POSTGRES_MIGRATIONS.length; v++) {
        await c.query(POSTGRES_MIGRATIONS[v - 1]!);
        await c.query('INSERT INTO schema_version (version) VALUES ($1)', [v]);
      }
    });
  }

  async #loadHead(q: Q): Promise<void> {
    const last = (await q.query('SELECT position, hash FROM events WHERE stream_id = $1 ORDER BY position DESC LIMIT 1', [this.#streamKey])).rows[0];
    const cp = (await q.query('SELECT n, position, payload FROM checkpoints WHERE stream_id = $1 ORDER BY n DESC LIMIT 1', [this.#streamKey])).rows[0];
    this.#writer.head = {
      position: last ? Number(last.position) : 0,
      hash: last ? (last.hash as Buffer) : ZERO_HASH,
      checkpointN: cp ? Number(cp.n) : 0,
      checkpointPosition: cp ? Number(cp.position) : 0,
      checkpointDigest: cp ? sha256Hex(String(cp.payload)) : '',
    };
  }

  #pool_(): pg.Pool {
    if (this.#closed) throw new Error('the audit store is closed');
    if (!this.#pool) throw new Error('the audit store is not open (init failed or was not called)');
    return this.#pool;
  }

  // ---- writing ----

  openSession(s: SessionStart): Promise<void> {
    return this.#enqueue({ kind: 'open', start: s });
  }

  append(e: NewEvent): Promise<void> {
    let op: Op;
    try {
      op = { kind: 'event', event: encodeEvent(e, this.#o.captureRows) };
    } catch (err) {
      return Promise.reject(err);
    }
    return this.#enqueue(op);
  }

  closeSession(id: string, endedAt: string, cause: string): Promise<void> {
    return this.#enqueue({ kind: 'close', id, endedAt, cause });
  }

  #enqueue(op: Op): Promise<void> {
    if (this.#closed) return Promise.reject(new Error('the audit store is closed'));
    if (!this.#ready) return Promise.reject(new Error('the audit store is not open (init failed or was not called)'));
    return this.#queue.enqueue(op);
  }

  async #writerConn(): Promise<pg.Client> {
    if (this.#wconn) return this.#wconn;
    const c = new pg.Client({ connectionString: this.#url, ...TIMEOUTS });
    c.on('error', () => {
      if (this.#wconn === c) this.#wconn = null;
    });
    await c.connect();
    this.#wconn = c;
    return c;
  }

  #dropWriter(): void {
    const c = this.#wconn;
    this.#wconn = null;
    c?.end().catch(() => {});
  }

  async #flush(ops: Op[]): Promise<(Error | null)[]> {
    try {
      return await this.#flushOnce(ops);
    } catch (err) {
      this.#writer?.forget(ops);
      throw err;
    }
  }

  async #flushOnce(ops: Op[]): Promise<(Error | null)[]> {
    let c: pg.Client;
    try {
      c = await this.#writerConn();
      if (this.#writer.stale) {
        await this.#loadHead(c);
        this.#writer.stale = false;
      }
      const unknown = this.#writer.unknownSessions(ops);
      if (unknown.length) {
        const r = await c.query(`SELECT s.id, h.seq, h.hash FROM sessions s
          JOIN LATERAL (SELECT seq, hash FROM events e WHERE e.session_id = s.id ORDER BY seq DESC LIMIT 1) h ON true
          WHERE s.id = ANY($1::text[]) AND s.ended_at IS NULL AND s.pruned IS NULL`, [unknown]);
        for (const row of r.rows) this.#writer.adopt(row.id, { seq: Number(row.seq), hash: row.hash, colsets: new Set() });
      }
    } catch (err) {
      this.#dropWriter();
      throw err;
    }
    for (let attempt = 0; ; attempt++) {
      const plan = this.#writer.plan(ops);
      try {
        await c.query({ name: 'agentgate_audit_batch_v1', text: BATCH_SQL, values: this.#params(plan) });
      } catch (err) {
        const e = err as { code?: string; constraint?: string };
        // Another process writes under the same stream name: re-read where the chain stands and go again.
        if (attempt < 5 && e.code === '23505' && (e.constraint === 'events_stream' || e.constraint === 'event_rows_pkey' || e.constraint === 'checkpoints_pkey')) {
          try {
            await this.#loadHead(c);
            continue;
          } catch { /* fall through: report the original error */ }
        }
        this.#dropWriter();
        throw err;
      }
      this.#writer.commit(plan);
      return plan.outcome;
    }
  }

  #params(plan: Plan): unknown[] {
    const colsetIds: number[] = [], colsetKeys: string[] = [];
    for (const [id, key] of plan.colsets) { colsetIds.push(id); colsetKeys.push(key); }
    const ns: unknown[][] = Array.from({ length: 13 }, () => []);
    const us: unknown[][] = Array.from({ length: 7 }, () => []);
    for (const c of plan.sessions.values()) {
      if (c.start) {
        const v = [c.id, c.header, c.start.target, c.start.identity?.subject ?? null, c.startedAt, c.start.policy ?? null,
          c.start.instanceId ?? null, c.endedAt, c.endCause, c.statements, c.denied, c.approvals, c.kinds];
        v.forEach((x, i) => ns[i]!.push(x));
      } else {
        const v = [c.id, c.statements, c.denied, c.approvals, c.kinds, c.endedAt, c.endCause];
        v.forEach((x, i) => us[i]!.push(x));
      }
    }
    const ev: unknown[][] = Array.from({ length: 8 }, () => []);
    const er: unknown[][] = Array.from({ length: 3 }, () => []);
    for (const r of plan.records) {
      [r.position, r.sessionId, r.seq, r.prev, r.sessPrev, r.hash, r.body, r.colset].forEach((x, i) => ev[i]!.push(x));
      if (r.rows) [r.position, r.fmt, r.rows].forEach((x, i) => er[i]!.push(x));
    }
    const scColset = plan.sessionColsets.map((s) => s.colset);
    const scSession = plan.sessionColsets.map((s) => s.sessionId);
    const cp = plan.checkpoint;
    return [
      colsetIds, colsetKeys, ...ns, ...us, this.#streamKey, ...ev, ...er, scColset, scSession,
      cp ? [cp.n] : [], cp ? [cp.position] : [], cp ? [cp.payload] : [], cp ? [cp.signature] : [], cp ? [cp.keyId] : [],
      cp ? cp.sessions : [], cp ? cp.sessions.map(() => cp.n) : [],
      [...plan.columnSets.keys()], [...plan.columnSets.values()],
    ];
  }

  // ---- reading ----

  async listSessions(f: SessionFilter): Promise<Session[]> {
    const pool = this.#pool_();
    const where: string[] = ['pruned IS NULL'];
    const args: unknown[] = [];
    const arg = (v: unknown) => `$${args.push(v)}`;
    if (f.target !== undefined) where.push(`target = ${arg(f.target)}`);
    if (f.subject !== undefined) where.push(`subject = ${arg(f.subject)}`);
    if (f.since !== undefined) where.push(`started_at >= ${arg(new Date(f.since).toISOString())}`);
    if (f.until !== undefined) where.push(`started_at <= ${arg(new Date(f.until).toISOString())}`);
    if (f.hasDenied !== undefined) where.push(f.hasDenied ? 'denied > 0' : 'denied = 0');
    if (f.hasApproval !== undefined) where.push(f.hasApproval ? 'approvals > 0' : 'approvals = 0');
    if (f.kind !== undefined) where.push(`(kinds & ${arg(kindsMask([f.kind]))}) <> 0`);
    if (f.before !== undefined) {
      const b = (await pool.query('SELECT started_at FROM sessions WHERE id = $1', [f.before])).rows[0];
      if (!b) return [];
      where.push(`(started_at, id) < (${arg(b.started_at)}, ${arg(f.before)})`);
    }
    const r = await pool.query(`SELECT id, start, ended_at, end_cause, statements, denied, approvals, kinds FROM sessions
      WHERE ${where.join(' AND ')} ORDER BY started_at DESC, id DESC LIMIT ${arg(limitOf(f.limit, 50))}`, args);
    return r.rows.map((row) => sessionFromRow(sessionRow(row)));
  }

  async getSession(id: string): Promise<(Session & { events: StoredEvent[] }) | null> {
    const pool = this.#pool_();
    const s = (await pool.query('SELECT id, start, ended_at, end_cause, statements, denied, approvals, kinds, pruned FROM sessions WHERE id = $1', [id])).rows[0];
    if (!s || s.pruned !== null) return null;
    const r = await pool.query(`SELECT e.seq, e.stream_id, e.position, e.prev, e.hash, e.body, r.rows FROM events e
      LEFT JOIN event_rows r ON r.stream_id = e.stream_id AND r.position = e.position
      WHERE e.session_id = $1 AND e.seq > 0 ORDER BY e.seq`, [id]);
    await this.#loadStreamNames(r.rows.map((x) => Number(x.stream_id)));
    await this.#loadColumnSets(r.rows.map((x) => x.body as string));
    const events = r.rows.map((row) => {
      const ev = decodeEvent(id, Number(row.seq), row.body, row.rows, this.#columns.get) as StoredEvent;
      ev.chain = { stream: this.#streamNames.get(Number(row.stream_id))!, position: Number(row.position), prev: (row.prev as Buffer).toString('hex'), hash: (row.hash as Buffer).toString('hex') };
      return ev;
    });
    return { ...sessionFromRow(sessionRow(s)), events };
  }

  /** Makes sure the column sets these bodies refer to are in the cache (one query for all that are not). */
  async #loadColumnSets(bodies: Iterable<string | null>): Promise<void> {
    const missing = this.#columns.missing(bodies);
    if (!missing.length) return;
    for (const r of (await this.#pool_().query('SELECT digest, columns FROM column_sets WHERE digest = ANY($1::text[])', [missing])).rows) {
      this.#columns.add(r.digest, r.columns);
    }
  }

  async #loadStreamNames(keys: number[]): Promise<void> {
    if (keys.every((k) => this.#streamNames.has(k))) return;
    for (const r of (await this.#pool_().query('SELECT id, name FROM streams')).rows) this.#streamNames.set(Number(r.id), r.name);
    for (const k of keys) if (!this.#streamNames.has(k)) this.#streamNames.set(k, `#${k}`);
  }

  async verify(opts?: VerifyOptions): Promise<VerifyResult> {
    const pool = this.#pool_();
    const src = postgresVerifySource(pool);
    return verifyStore(src, { id: this.#o.keyId, key: this.#o.key }, opts);
  }

  async searchValue(value: string, limit = 100, opts: SearchOptions = {}): Promise<SearchHit[]> {
    const pool = this.#pool_();
    const q = valueQuery(value, opts.substring ?? false);
    const args: unknown[] = [];
    const arg = (v: unknown) => `$${args.push(v)}`;
    const afterStream = arg(2147483647);
    const afterPos = arg('9223372036854775807');
    const conds = [`position(${arg(q.bytes)}::bytea IN r.rows) > 0`];
    const bin = q.binaryPatterns.slice(1).map((p) => `position(${arg(p)}::bytea IN r.rows) > 0`);
    if (bin.length) conds.push(`((r.fmt & 2) <> 0 AND (${bin.join(' OR ')}))`);
    if (q.substring) conds.push('(r.fmt & 2) <> 0');
    if (q.numeric) conds.push('(r.fmt & 4) <> 0');
    if (q.temporal) conds.push('(r.fmt & 8) <> 0');
    const sql = `SELECT r.stream_id, r.position, r.rows, e.session_id, e.seq, e.body FROM event_rows r
      JOIN events e ON e.stream_id = r.stream_id AND e.position = r.position
      WHERE (r.stream_id, r.position) < (${afterStream}, ${afterPos}) AND e.body IS NOT NULL AND (${conds.join(' OR ')})
      ORDER BY r.stream_id DESC, r.position DESC LIMIT 200`;
    const hits: SearchHit[] = [];
    for (;;) {
      const rows = (await pool.query(sql, args)).rows;
      if (!rows.length) break;
      await this.#loadColumnSets(rows.map((r) => r.body as string));
      for (const r of rows) {
        args[0] = r.stream_id;
        args[1] = r.position;
        let ev: NewEvent;
        try {
          ev = decodeEvent(r.session_id, Number(r.seq), r.body, r.rows, this.#columns.get);
        } catch {
          continue;
        }
        for (const column of matchingColumns(ev, q)) {
          hits.push({ sessionId: r.session_id, seq: Number(r.seq), column });
          if (hits.length >= limit) return hits;
        }
      }
    }
    return hits;
  }

  async searchColumn(column: string, limit = 100): Promise<SearchHit[]> {
    const pool = this.#pool_();
    const match = columnMatcher(column);
    const matching = new Map<number, string[]>();
    for (const r of (await pool.query('SELECT id, key FROM colsets')).rows) {
      const origins = String(r.key).split('\n').filter(match);
      if (origins.length) matching.set(Number(r.id), origins);
    }
    if (!matching.size) return [];
    const ids = [...matching.keys()];
    const sessions = (await pool.query(`SELECT sc.session_id, s.started_at FROM session_colsets sc JOIN sessions s ON s.id = sc.session_id
      WHERE sc.colset = ANY($1::bigint[]) AND s.pruned IS NULL GROUP BY sc.session_id, s.started_at ORDER BY s.started_at DESC, sc.session_id DESC`, [ids])).rows;
    const hits: SearchHit[] = [];
    for (let i = 0; i < sessions.length; i += 50) {
      const chunk = sessions.slice(i, i + 50).map((s) => s.session_id as string);
      const order = new Map(chunk.map((id, k) => [id, k]));
      const evs = (await pool.query('SELECT session_id, seq, colset FROM events WHERE session_id = ANY($1::text[]) AND colset = ANY($2::bigint[])', [chunk, ids])).rows;
      evs.sort((a, b) => order.get(a.session_id)! - order.get(b.session_id)! || b.seq - a.seq);
      for (const e of evs) {
        for (const c of matching.get(Number(e.colset)) ?? []) {
          hits.push({ sessionId: e.session_id, seq: Number(e.seq), column: c });
          if (hits.length >= limit) return hits;
        }
      }
    }
    return hits;
  }

  async exportSession(id: string): Promise<AsyncIterable<string> | null> {
    const pool = this.#pool_();
    // Sign what this writer has not signed yet, so that the export of a live session is anchored up to now.
    if (this.#writer.dirty) await this.#queue.enqueue({ kind: 'checkpoint' }).catch(() => {});
    const s = (await pool.query('SELECT id, start, ended_at, end_cause, statements, denied, approvals, kinds, pruned FROM sessions WHERE id = $1', [id])).rows[0];
    if (!s || s.pruned !== null) return null;
    await this.#loadStreamNames([]);
    return exportLines(sessionFromRow(sessionRow(s)), {
      records: async (after, limit) => {
        const rows = (await pool.query(`SELECT e.seq, e.stream_id, e.position, e.prev, e.sess_prev, e.hash, e.body, r.rows FROM events e
          LEFT JOIN event_rows r ON r.stream_id = e.stream_id AND r.position = e.position
          WHERE e.session_id = $1 AND e.seq > $2 ORDER BY e.seq LIMIT $3`, [id, after, limit])).rows;
        await this.#loadStreamNames(rows.map((r) => Number(r.stream_id)));
        return rows.map((r) => ({
          stream: this.#streamNames.get(Number(r.stream_id))!, position: Number(r.position), seq: Number(r.seq), prev: r.prev,
          sessPrev: r.sess_prev, hash: r.hash, body: r.body, rows: r.rows ?? null,
        }));
      },
      checkpoints: async () => (await pool.query(`SELECT c.payload, c.signature, c.key_id FROM checkpoint_sessions cs
          JOIN checkpoints c ON c.stream_id = cs.stream_id AND c.n = cs.n WHERE cs.session_id = $1 ORDER BY cs.stream_id, cs.n`, [id])).rows
        .map((r) => ({ payload: r.payload, signature: r.signature, keyId: r.key_id })),
      keys: async (ids) => (await pool.query('SELECT id, public_pem FROM keys WHERE id = ANY($1::text[])', [ids])).rows.map((r) => ({ id: r.id, pem: r.public_pem })),
      columnSets: async (digests) => (await pool.query('SELECT digest, columns FROM column_sets WHERE digest = ANY($1::text[])', [digests])).rows
        .map((r) => ({ digest: r.digest, text: r.columns })),
    });
  }

  // ---- retention ----

  async prune(o: PruneOptions): Promise<PruneResult> {
    return prunePostgres(this.#pool_(), o, { instanceId: this.#o.instanceId, key: this.#o.key, keyId: this.#o.keyId, isOpen: (id) => this.#writer.sessions.has(id) });
  }

  // ---- approvals ----

  createApproval(a: Approval): Promise<void> {
    return this.#approvals_().create(a);
  }

  getApproval(id: string): Promise<Approval | null> {
    return this.#approvals_().get(id);
  }

  listApprovals(f: { status?: string; limit?: number }): Promise<Approval[]> {
    return this.#approvals_().list(f);
  }

  updateApproval(id: string, change: (a: Approval) => Approval | null): Promise<Approval | null> {
    return this.#approvals_().update(id, change);
  }

  onApprovalChange(listener: (a: Approval) => void): () => void {
    return this.#listeners.add(listener);
  }

  expireApprovals(instanceId: string): Promise<Approval[]> {
    return this.#approvals_().expire(instanceId);
  }

  #approvals_(): PostgresApprovals {
    this.#pool_();
    return this.#approvals!;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#ready && this.#writer.dirty) await this.#queue.enqueue({ kind: 'checkpoint' }).catch(() => {});
    await this.#queue.drain();
    this.#closed = true;
    await this.#approvals?.close();
    this.#dropWriter();
    await this.#pool?.end().catch(() => {});
  }
}

function sessionRow(r: Record<string, unknown>): SessionRow {
  return {
    id: r.id as string,
    start: r.start as string,
    ended_at: r.ended_at ? (r.ended_at as Date).toISOString() : null,
    end_cause: (r.end_cause as string | null) ?? null,
    statements: Number(r.statements),
    denied: Number(r.denied),
    approvals: Number(r.approvals),
    kinds: Number(r.kinds),
  };
}
