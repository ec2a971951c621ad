import { randomUUID } from 'node:crypto';
import { mkdirSync } from 'node:fs';
import { dirname, resolve } from 'node:path';
import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { ApprovalListeners } from '../approval-listeners.ts';
import { ChainLedger, type Op } from '../chain-writer.ts';
import { exportLines } from '../export.ts';
import { GroupCommit } from '../group-commit.ts';
import { limitOf, resolveOptions, type ResolvedOptions } from '../options.ts';
import { ColumnSetCache, decodeEvent, encodeEvent, kindsMask, sessionFromRow, type ColumnResolver, type SessionRow } from '../record.ts';
import { columnMatcher, matchingColumns, valueQuery } from '../search.ts';
import { verifyStore } from '../verifier.ts';
import type {
  Approval, AuditStore, AuditStoreOptions, NewEvent, PruneOptions, PruneResult, SearchHit, SearchOptions, Session,
  SessionFilter, SessionStart, StoredEvent, VerifyOptions, VerifyResult,
} from '../types.ts';
import { SqliteApprovals } from './approvals.ts';
import { pruneSqlite } from './retention.ts';
import { breathe, buf, bufOrNull, type Row } from './rows.ts';
import { PAGE_CACHE_KIB, SQLITE_MIGRATIONS } from './schema.ts';
import { BatchWriter } from './batch-writer.ts';
import { WriterThreads } from './threads.ts';
import { encodeJournalRecord, Journal, journalPath, PendingRecords, recoverOrphanJournals, releaseJournalLock, takeJournalLock } from './journal.ts';
import { sqliteVerifySource } from './verify-source.ts';
import type { ChainSigner } from './wire.ts';

/**
 * The embedded store: one SQLite file in WAL mode, through node:sqlite.
 *
 * The event loop's thread admits each batch (the operations a chain would refuse are refused: ChainLedger); a writer
 * thread (writer-worker.ts) plans the chain (positions, hashes, checkpoint signatures: ChainWriter) and writes the
 * tables on its own connection, so hashing, commits, lock waits, WAL checkpoints and fsyncs never stall the gateway.
 * A batch is acknowledged once it is durable:
 *
 * - `fsync: false` (the default): appended to this writer's write-ahead journal (journal.ts) with one write(), which
 *   survives a crash of the process. The writer thread moves journaled batches into the tables a moment later, many
 *   per transaction; reads wait for that move, so they always see everything acknowledged. Whoever opens the
 *   database next replays a journal a crash left behind.
 * - `fsync: true`: committed by the writer thread with synchronous=FULL, one transaction per batch, which survives
 *   power loss too.
 *
 * Reads, approvals and retention use a second connection on the main thread (WAL lets it read while the writer
 * writes); approval updates are short IMMEDIATE transactions, atomic against every other connection.
 */

export class SqliteAuditStore implements AuditStore {
  readonly kind = 'sqlite' as const;
  readonly path: string;
  readonly #o: ResolvedOptions;
  #db: DatabaseSync | null = null;
  #s!: ReturnType<SqliteAuditStore['prepare']>;
  /** Which sessions are open, and their last seq (the writer thread holds the chain itself). */
  #ledger!: ChainLedger;
  readonly #signer: ChainSigner;
  #streamKey = 0;
  readonly #streamNames = new Map<number, string>();
  readonly #queue: GroupCommit<Op>;
  readonly #listeners = new ApprovalListeners();
  #approvals: SqliteApprovals | null = null;
  #threads: WriterThreads | null = null;
  /** The write-ahead journal (journal.ts), when commits are not fsynced; null otherwise. */
  #journal: Journal | null = null;
  #journalNo = 0;
  /** Journaled batches not yet moved into the tables. */
  #pending = new PendingRecords();
  #ingestTimer: NodeJS.Timeout | null = null;
  #ingestError: Error | null = null;
  /** The move of journaled batches into the tables under way on the writer thread (#ingest). */
  #ingesting: Promise<void> | null = null;
  /** This writer's journal file, whose lock it holds (null: no journal). */
  #journalFile: string | null = null;
  /** This writer's stream: the instance id, unless another live writer holds that stream's journal. */
  #streamName_: string;
  #timer: NodeJS.Timeout | null = null;
  #closed = false;
  readonly #columnCache = new ColumnSetCache();
  /** Column sets by digest, read from the database on a miss (synchronous: SQLite). */
  readonly #columns: ColumnResolver = (digest) => {
    const hit = this.#columnCache.get(digest);
    if (hit) return hit;
    const r = this.#s.columnSet.get(digest) as Row | undefined;
    if (!r) return undefined;
    this.#columnCache.add(digest, String(r.columns));
    return this.#columnCache.get(digest);
  };

  constructor(path: string, opts: AuditStoreOptions) {
    this.path = path === ':memory:' ? path : resolve(path);
    if (this.path === ':memory:') throw new TypeError('audit store: an in-memory SQLite database cannot be shared with its writer thread; use a file');
    this.#o = resolveOptions(opts);
    this.#streamName_ = this.#o.instanceId;
    this.#queue = new GroupCommit<Op>((ops) => this.#flush(ops));
    this.#signer = { key: this.#o.key, keyId: this.#o.keyId, checkpointEvery: this.#o.checkpointEvery };
  }

  get healthy(): boolean {
    return this.#db !== null && !this.#closed && this.#queue.healthy && this.#ingestError === null;
  }

  /** Batches committed so far (tests check that concurrent appends share transactions). */
  get batches(): number {
    return this.#queue.batches;
  }

  async init(): Promise<void> {
    if (this.#db) return;
    mkdirSync(dirname(this.path), { recursive: true });
    // Without fsync, commits go through a journal that one writer holds (journal.ts). A second writer under the same
    // instance id (two gateways sharing a data folder) writes a stream of its own: it cannot know the positions
    // the first has journaled but not yet moved into the tables.
    if (!this.#o.fsync) {
      for (const stream of [this.#o.instanceId, `${this.#o.instanceId}+${randomUUID().slice(0, 8)}`]) {
        const file = journalPath(this.path, stream);
        if (!takeJournalLock(file)) continue;
        this.#journalFile = file;
        this.#streamName_ = stream;
        break;
      }
    }
    const db = new DatabaseSync(this.path, { timeout: this.#o.busyTimeout, enableForeignKeyConstraints: false });
    try {
      db.exec('PRAGMA journal_mode = WAL');
      db.exec(`PRAGMA synchronous = ${this.#o.fsync ? 'FULL' : 'NORMAL'}`);
      db.exec(`PRAGMA cache_size = -${PAGE_CACHE_KIB}`);
      db.exec('PRAGMA temp_store = MEMORY');
      // WAL checkpoints fsync: leave them to the writer thread's commits, never this (event loop) connection.
      db.exec('PRAGMA wal_autocheckpoint = 0');
      this.#migrate(db);
      db.exec('BEGIN IMMEDIATE');
      db.prepare('INSERT OR IGNORE INTO streams (name) VALUES (?)').run(this.#streamName_);
      this.#streamKey = Number((db.prepare('SELECT id FROM streams WHERE name = ?').get(this.#streamName_) as Row).id);
      // Before any replay: the checkpoints it signs are verified with this key.
      db.prepare('INSERT OR IGNORE INTO keys (id, public_pem, created_at) VALUES (?, ?, ?)').run(this.#o.keyId, this.#o.publicPem, new Date().toISOString());
      db.exec('COMMIT');
      // What a crashed writer journaled (any stream but this one's, which #openJournal replays) goes into the tables
      // first, so every reader sees everything that was acknowledged.
      recoverOrphanJournals(this.path, this.#o.busyTimeout, this.#signer);
    } catch (err) {
      try { db.close(); } catch { /* already failing */ }
      if (this.#journalFile) releaseJournalLock(this.#journalFile);
      throw err;
    }
    this.#db = db;
    this.#s = this.prepare(db);
    this.#approvals = new SqliteApprovals(db, this.#listeners);
    try {
      // A writer thread a quarter of the way to the backlog limit steps out of the background to catch up.
      this.#threads = new WriterThreads({
        path: this.path, fsync: this.#o.fsync, busyTimeout: this.#o.busyTimeout, catchUpBytes: this.#o.maxPendingBytes / 4, signer: this.#signer,
      });
      await this.#threads.start();
    } catch (err) {
      this.#db = null;
      db.close();
      if (this.#journalFile) releaseJournalLock(this.#journalFile);
      throw err;
    }
    try {
      if (this.#journalFile) this.#openJournal();
    } catch (err) {
      await this.#threads.close();
      this.#db = null;
      db.close();
      releaseJournalLock(this.#journalFile!);
      throw err;
    }
    this.#ledger = new ChainLedger({ checkpointEvery: this.#o.checkpointEvery });
    this.#timer = setInterval(() => {
      if (this.#ledger.dirty && Date.now() - this.#ledger.lastCheckpointAt >= this.#o.checkpointInterval) {
        this.#queue.enqueue({ kind: 'checkpoint' }).catch(() => { /* healthy already reports it */ });
      }
    }, Math.min(this.#o.checkpointInterval, 1000));
    this.#timer.unref();
  }

  /** Opens this stream's journal (its lock is held), after moving into the tables whatever a crash left in it. */
  #openJournal(): void {
    const journal = new Journal(this.#journalFile!);
    let last = 0;
    try {
      const records = journal.recover();
      if (records.length) {
        last = records[records.length - 1]!.no;
        // Start-up: waiting for another process's write lock (up to the busy timeout) is fine here.
        const w = new BatchWriter(this.path, { fsync: this.#o.fsync, busyTimeout: this.#o.busyTimeout, signer: this.#signer });
        try {
          w.replay(records);
        } finally {
          w.close();
        }
      }
    } catch (err) {
      journal.close();
      throw err;
    }
    const done = this.#s.journalBatch.get(this.#streamKey) as Row | undefined;
    this.#journalNo = Math.max(done ? Number(done.batch) : 0, last);
    journal.truncate();
    this.#journal = journal;
  }

  /**
   * Moves journaled batches into the tables soon: fifty milliseconds gather many of them into one transaction (under
   * sysbench the writer thread then spends 15-20% less CPU per statement than moving every ten milliseconds, as each
   * transaction rewrites the last, partly filled page of every table and index it touches). A read moves them at once.
   */
  #scheduleIngest(delayMs = 50): void {
    if (this.#ingestTimer || this.#ingesting) return;
    this.#ingestTimer = setTimeout(() => {
      this.#ingestTimer = null;
      void this.#ingest();
    }, delayMs);
    // What is journaled is durable already: a pending move must not keep a finished process alive.
    this.#ingestTimer.unref();
  }

  /**
   * Moves every pending batch into the tables, on the writer thread (one move at a time: the next gathers what is
   * journaled meanwhile). On failure the batches stay pending and a later move tries again; the returned promise
   * never rejects.
   */
  #ingest(): Promise<void> {
    if (this.#ingesting) return this.#ingesting;
    if (this.#pending.empty || !this.#journal) return Promise.resolve();
    if (this.#ingestTimer) {
      clearTimeout(this.#ingestTimer);
      this.#ingestTimer = null;
    }
    const taken = this.#pending.take();
    const moving = this.#threads!.ingest(taken.bytes, { stream: this.#streamKey, batch: taken.lastNo }).then(
      () => {
        this.#ingesting = null;
        this.#ingestError = null;
        this.#pending.release(taken);
        // What the move carried is in the tables: the journal may write over it.
        this.#journal?.moved(taken.lastNo);
        if (!this.#pending.empty) this.#scheduleIngest();
      },
      (err: Error) => {
        this.#ingesting = null;
        this.#pending.restore(taken);
        // The batches are safe in the journal, but the tables have not taken them: locked by another connection for
        // longer than the busy timeout (the writer thread waited that long), or worse. Until a move succeeds, the
        // store refuses new appends (#flushOnce) rather than let the journal grow unseen.
        this.#ingestError = err;
        if (!this.#closed) this.#scheduleIngest(/SQLITE_BUSY|database is locked/i.test(`${(err as { code?: string }).code ?? ''} ${err.message}`) ? 10 : 200);
      },
    );
    this.#ingesting = moving;
    return moving;
  }

  /** Before a read: the tables hold everything acknowledged. Throws when they cannot take it now. */
  async #drain(): Promise<void> {
    for (let attempt = 0; ; attempt++) {
      if (this.#ingesting) await this.#ingesting;
      if (this.#pending.empty) return;
      if (attempt > 0 && this.#ingestError) throw this.#ingestError;
      await this.#ingest();
    }
  }

  #migrate(db: DatabaseSync): void {
    db.exec('BEGIN IMMEDIATE');
    try {
      db.exec('CREATE TABLE IF NOT EXISTS schema_version (version INTEGER NOT NULL, applied_at TEXT NOT NULL)');
      const cur = Number((db.prepare('SELECT coalesce(max(version), 0) AS v FROM schema_version').get() as Row).v);
      if (cur > SQLITE_MIGRATIONS.length) throw new Error(`the audit database ${this.path} has schema version ${cur}, newer than this agentgate knows (${SQLITE_MIGRATIONS.length})`);
      for (let v = cur + 1; v <= SQLITE_MIGRATIONS.length; v++) {
        db.exec(SQLITE_MIGRATIONS[v - 1]!);
        db.prepare('INSERT INTO schema_version (version, applied_at) VALUES (?, ?)').run(v, new Date().toISOString());
      }
      db.exec('COMMIT');
    } catch (err) {
      db.exec('ROLLBACK');
      throw err;
    }
  }

  prepare(db: DatabaseSync) {
    const p = (sql: string): StatementSync => db.prepare(sql);
    return {
      sessionById: p(`SELECT s.no, s.id, s.start, s.started_at, s.pruned, st.ended_at, st.end_cause, st.statements, st.denied, st.approvals, st.kinds
                      FROM sessions s JOIN session_state st ON st.no = s.no WHERE s.id = ?`),
      sessionExists: p('SELECT 1 FROM sessions WHERE id = ?'),
      journalBatch: p('SELECT batch FROM journal_state WHERE stream = ?'),
      sessionSeq: p('SELECT max(seq) AS seq FROM events WHERE session_no = ?'),
      columnSet: p('SELECT columns FROM column_sets WHERE digest = ?'),
      sessionEvents: p(`SELECT e.seq, e.stream, e.position, e.prev, e.sess_prev, e.hash, e.body, r.rows FROM events e
                        LEFT JOIN event_rows r ON r.event_id = e.id WHERE e.session_no = ? AND e.seq > ? ORDER BY e.seq LIMIT ?`),
      streams: p('SELECT id, name FROM streams ORDER BY id'),
    };
  }

  #db_(): DatabaseSync {
    if (this.#closed) throw new Error('the audit store is closed');
    if (!this.#db) throw new Error('the audit store is not open (init failed or was not called)');
    return this.#db;
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
    return this.#queue.enqueue(op);
  }

  /** Synchronous on the journal path, unless the tables must first take what is journaled (see #flushOnce). */
  #flush(ops: Op[]): Promise<(Error | null)[]> | (Error | null)[] {
    const failed = (err: unknown): never => {
      this.#ledger?.forget(ops);
      throw err;
    };
    try {
      const r = this.#flushOnce(ops);
      return Array.isArray(r) ? r : r.catch(failed);
    } catch (err) {
      return failed(err);
    }
  }

  #flushOnce(ops: Op[]): Promise<(Error | null)[]> | (Error | null)[] {
    this.#db_();
    // Sessions this process does not hold (opened before a restart, closed, or by another process on this file, or
    // forgotten after a failed batch) are looked up in the tables, which must then hold everything journaled. So must
    // they when they have not taken what is journaled for a while: #drain then throws, and the batch is refused
    // rather than let the journal grow unseen. And when the writer thread, which runs at a lower priority than the
    // event loop (writer-worker.ts), falls behind by more than maxPendingBytes, appends wait for it to catch up: the
    // backlog it leaves in memory stays bounded.
    const unknown = this.#ledger.unknownSessions(ops);
    if (unknown.length || (this.#journal && (this.#ingestError || this.#pending.bytes >= this.#o.maxPendingBytes))) {
      return this.#drain().then(() => this.#flushDrained(ops, unknown));
    }
    return this.#flushDrained(ops, unknown);
  }

  #flushDrained(ops: Op[], unknown: string[]): Promise<(Error | null)[]> | (Error | null)[] {
    const s = this.#s;
    for (const id of unknown) {
      const row = s.sessionById.get(id) as Row | undefined;
      if (!row || row.pruned !== null || row.ended_at !== null) continue;
      const head = s.sessionSeq.get(row.no) as Row | undefined;
      if (head && head.seq !== null) this.#ledger.adopt(id, Number(head.seq));
    }
    const existing = new Set<string>();
    for (const op of ops) if (op.kind === 'open' && s.sessionExists.get(op.start.id)) existing.add(op.start.id);
    const admitted = this.#ledger.admit(ops, { existing });
    // A checkpoint asked for with nothing written since the last one would be planned as nothing.
    if (!admitted.ops.length || (!this.#ledger.dirty && admitted.ops.every((op) => op.kind === 'checkpoint'))) return admitted.outcome;
    const batch = { stream: this.#streamKey, name: this.#streamName_, ops: admitted.ops };
    if (this.#journal) {
      // Durable once appended to the journal; the writer thread chains it into the tables a moment later.
      const no = this.#journalNo + 1;
      const bytes = this.#journal.append(no, batch);
      this.#journalNo = no;
      this.#pending.add(no, bytes);
      this.#ledger.commit(admitted);
      this.#scheduleIngest();
      return admitted.outcome;
    }
    // With `audit.fsync`: each batch is a SQLite transaction of its own, committed by the writer thread (the record in
    // memory of its own, handed over to it).
    return this.#threads!.commit(new Uint8Array(encodeJournalRecord(0, batch))).then(() => {
      this.#ledger.commit(admitted);
      return admitted.outcome;
    });
  }

  // ---- reading ----

  async listSessions(f: SessionFilter): Promise<Session[]> {
    await this.#drain();
    const db = this.#db_();
    const where: string[] = ['s.pruned IS NULL'];
    const args: SQLInputValue[] = [];
    if (f.target !== undefined) { where.push('s.target = ?'); args.push(f.target); }
    if (f.subject !== undefined) { where.push('s.subject = ?'); args.push(f.subject); }
    if (f.since !== undefined) { where.push('s.started_at >= ?'); args.push(new Date(f.since).toISOString()); }
    if (f.until !== undefined) { where.push('s.started_at <= ?'); args.push(new Date(f.until).toISOString()); }
    if (f.hasDenied !== undefined) where.push(f.hasDenied ? 'st.denied > 0' : 'st.denied = 0');
    if (f.hasApproval !== undefined) where.push(f.hasApproval ? 'st.approvals > 0' : 'st.approvals = 0');
    if (f.kind !== undefined) { where.push('(st.kinds & ?) != 0'); args.push(kindsMask([f.kind])); }
    if (f.before !== undefined) {
      const b = this.#s.sessionById.get(f.before) as Row | undefined;
      if (!b) return [];
      where.push('(s.started_at < ? OR (s.started_at = ? AND s.no < ?))');
      args.push(b.started_at as string, b.started_at as string, b.no as number);
    }
    args.push(limitOf(f.limit, 50));
    const rows = db.prepare(`SELECT s.id, s.start, st.ended_at, st.end_cause, st.statements, st.denied, st.approvals, st.kinds
      FROM sessions s JOIN session_state st ON st.no = s.no
      WHERE ${where.join(' AND ')} ORDER BY s.started_at DESC, s.no DESC LIMIT ?`).all(...args) as unknown as SessionRow[];
    return rows.map(sessionFromRow);
  }

  async getSession(id: string): Promise<(Session & { events: StoredEvent[] }) | null> {
    await this.#drain();
    this.#db_();
    const row = this.#s.sessionById.get(id) as (SessionRow & { no: number; pruned: number | null }) | undefined;
    if (!row || row.pruned !== null) return null;
    const events: StoredEvent[] = [];
    // A page at a time, letting the event loop run between pages.
    for (let after = 0; ;) {
      const rows = this.#s.sessionEvents.all(row.no, after, 2000) as Row[];
      for (const r of rows) events.push(this.#storedEvent(id, r));
      if (rows.length < 2000) break;
      after = Number(rows[rows.length - 1]!.seq);
      await breathe();
    }
    return { ...sessionFromRow(row), events };
  }

  #streamName(key: number): string {
    let n = this.#streamNames.get(key);
    if (n === undefined) {
      for (const r of this.#s.streams.all() as Row[]) this.#streamNames.set(Number(r.id), String(r.name));
      n = this.#streamNames.get(key) ?? `#${key}`;
    }
    return n;
  }

  #storedEvent(sessionId: string, r: Row): StoredEvent {
    const ev = decodeEvent(sessionId, Number(r.seq), String(r.body), bufOrNull(r.rows), this.#columns) as StoredEvent;
    ev.chain = { stream: this.#streamName(Number(r.stream)), position: Number(r.position), prev: buf(r.prev).toString('hex'), hash: buf(r.hash).toString('hex') };
    return ev;
  }

  async verify(opts?: VerifyOptions): Promise<VerifyResult> {
    await this.#drain();
    const db = this.#db_();
    const src = sqliteVerifySource(db);
    return verifyStore(src, { id: this.#o.keyId, key: this.#o.key }, opts);
  }

  async searchValue(value: string, limit = 100, opts: SearchOptions = {}): Promise<SearchHit[]> {
    await this.#drain();
    const db = this.#db_();
    const q = valueQuery(value, opts.substring ?? false);
    const conds = ['instr(rows, ?) > 0'];
    const args: SQLInputValue[] = [q.bytes];
    const bin = q.binaryPatterns.slice(1).map(() => 'instr(rows, ?) > 0');
    args.push(...q.binaryPatterns.slice(1));
    if (bin.length) conds.push(`((fmt & 2) != 0 AND (${bin.join(' OR ')}))`);
    if (q.substring) conds.push('(fmt & 2) != 0');
    if (q.numeric) conds.push('(fmt & 4) != 0');
    if (q.temporal) conds.push('(fmt & 8) != 0');
    // Scanned newest first in slices of ids, so that a value found nowhere (a scan of every row byte) never holds
    // the event loop for long in one call.
    const candidates = db.prepare(`SELECT event_id, rows FROM event_rows WHERE event_id <= ? AND event_id > ? AND (${conds.join(' OR ')})
      ORDER BY event_id DESC LIMIT 200`);
    const event = db.prepare('SELECT e.seq, e.body, s.id FROM events e JOIN sessions s ON s.no = e.session_no WHERE e.id = ? AND e.body IS NOT NULL');
    const hits: SearchHit[] = [];
    const SLICE = 20_000;
    let hi = Number((db.prepare('SELECT coalesce(max(event_id), 0) AS m FROM event_rows').get() as Row).m);
    while (hits.length < limit && hi > 0) {
      const rows = candidates.all(hi, hi - SLICE, ...args) as Row[];
      if (rows.length < 200) hi -= SLICE;
      else hi = Number(rows[rows.length - 1]!.event_id) - 1;
      for (const r of rows) {
        const e = event.get(Number(r.event_id)) as Row | undefined;
        if (!e) continue;
        let ev: NewEvent;
        try {
          ev = decodeEvent(String(e.id), Number(e.seq), String(e.body), buf(r.rows), this.#columns);
        } catch {
          continue;
        }
        for (const column of matchingColumns(ev, q)) {
          hits.push({ sessionId: String(e.id), seq: Number(e.seq), column });
          if (hits.length >= limit) break;
        }
        if (hits.length >= limit) break;
      }
      await breathe();
    }
    return hits;
  }

  async searchColumn(column: string, limit = 100): Promise<SearchHit[]> {
    await this.#drain();
    const db = this.#db_();
    const match = columnMatcher(column);
    const matching = new Map<number, string[]>();
    for (const r of db.prepare('SELECT id, key FROM colsets').all() as Row[]) {
      const origins = String(r.key).split('\n').filter(match);
      if (origins.length) matching.set(Number(r.id), origins);
    }
    if (!matching.size) return [];
    const ids = [...matching.keys()];
    const marks = ids.map(() => '?').join(',');
    const sessions = db.prepare(`SELECT DISTINCT session_no FROM session_colsets WHERE colset IN (${marks}) ORDER BY session_no DESC`).all(...ids) as Row[];
    const events = db.prepare(`SELECT seq, colset FROM events WHERE session_no = ? AND colset IN (${marks}) ORDER BY seq DESC`);
    const sessionId = db.prepare('SELECT id FROM sessions WHERE no = ? AND pruned IS NULL');
    const hits: SearchHit[] = [];
    for (const s of sessions) {
      const idRow = sessionId.get(s.session_no as number) as Row | undefined;
      if (!idRow) continue;
      for (const e of events.all(s.session_no as number, ...ids) as Row[]) {
        for (const c of matching.get(Number(e.colset)) ?? []) {
          hits.push({ sessionId: String(idRow.id), seq: Number(e.seq), column: c });
          if (hits.length >= limit) return hits;
        }
      }
    }
    return hits;
  }

  async exportSession(id: string): Promise<AsyncIterable<string> | null> {
    const db = this.#db_();
    // Sign what this writer has not signed yet, so that the export of a live session is anchored up to now.
    if (this.#ledger.dirty) await this.#queue.enqueue({ kind: 'checkpoint' }).catch(() => {});
    await this.#drain();
    const row = this.#s.sessionById.get(id) as (SessionRow & { no: number; pruned: number | null }) | undefined;
    if (!row || row.pruned !== null) return null;
    const session = sessionFromRow(row);
    const records = db.prepare(`SELECT e.seq, e.stream, e.position, e.prev, e.sess_prev, e.hash, e.body, r.rows FROM events e
      LEFT JOIN event_rows r ON r.event_id = e.id WHERE e.session_no = ? AND e.seq > ? ORDER BY e.seq LIMIT ?`);
    const cps = db.prepare(`SELECT c.payload, c.signature, c.key_id FROM checkpoint_sessions cs
      JOIN checkpoints c ON c.stream = cs.stream AND c.n = cs.n WHERE cs.session_no = ? ORDER BY cs.stream, cs.n`);
    const key = db.prepare('SELECT public_pem FROM keys WHERE id = ?');
    return exportLines(session, {
      records: async (after, limit) => (records.all(row.no, after, limit) as Row[]).map((r) => ({
        stream: this.#streamName(Number(r.stream)), position: Number(r.position), seq: Number(r.seq), prev: buf(r.prev),
        sessPrev: buf(r.sess_prev), hash: buf(r.hash), body: String(r.body), rows: bufOrNull(r.rows),
      })),
      checkpoints: async () => (cps.all(row.no) as Row[]).map((r) => ({ payload: String(r.payload), signature: buf(r.signature), keyId: String(r.key_id) })),
      keys: async (ids) => ids.flatMap((k) => {
        const r = key.get(k) as Row | undefined;
        return r ? [{ id: k, pem: String(r.public_pem) }] : [];
      }),
      columnSets: async (digests) => digests.flatMap((d) => {
        const r = this.#s.columnSet.get(d) as Row | undefined;
        return r ? [{ digest: d, text: String(r.columns) }] : [];
      }),
    });
  }

  // ---- retention ----

  async prune(o: PruneOptions): Promise<PruneResult> {
    await this.#drain();
    return pruneSqlite(this.#db_(), o, { instanceId: this.#o.instanceId, key: this.#o.key, keyId: this.#o.keyId, isOpen: (id) => this.#ledger.has(id) });
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

  #approvals_(): SqliteApprovals {
    this.#db_();
    return this.#approvals!;
  }

  async close(): Promise<void> {
    if (this.#closed) return;
    if (this.#timer) clearInterval(this.#timer);
    if (this.#db) {
      // The closing checkpoint anchors the tail of the stream.
      if (this.#ledger.dirty) await this.#queue.enqueue({ kind: 'checkpoint' }).catch(() => {});
      await this.#queue.drain();
    }
    if (this.#ingestTimer) clearTimeout(this.#ingestTimer);
    this.#ingestTimer = null;
    const drained = await this.#drain().then(() => true, () => false);
    this.#journal?.close();
    this.#journal = null;
    // Everything is in the tables: the journal goes. Otherwise it stays, and the next to open the database replays it.
    if (drained && this.#journalFile) Journal.remove(this.#journalFile);
    if (this.#journalFile) releaseJournalLock(this.#journalFile);
    this.#closed = true;
    await this.#threads?.close();
    this.#db?.close();
  }
}

