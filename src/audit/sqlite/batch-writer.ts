import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import { sha256Hex, ZERO_HASH } from '../chain.ts';
import { ChainWriter } from '../chain-writer.ts';
import { buf, type Row } from './rows.ts';
import { fromPlan, isPlanned, type ChainSigner, type JournaledPlan, type OpsBatch, type PlannedBatch } from './wire.ts';
import { PAGE_CACHE_KIB } from './schema.ts';

/**
 * Plans and commits batches (events, sessions, column sets, a checkpoint) on a connection of its own: on the SQLite
 * writer thread, which moves journaled batches into the tables (or, with `audit.fsync`, commits each batch before it
 * is acknowledged), and at start-up, where what a journal holds after a crash is replayed.
 *
 * The chain is planned here, against what the tables hold: each stream's ChainWriter starts from the stream's last
 * record and checkpoint in the tables, looks up sessions it does not hold there, and follows the batches this
 * connection writes. After a failed transaction it starts again from the tables, so a batch planned again is
 * planned the same.
 */
export class BatchWriter {
  readonly db: DatabaseSync;
  private readonly st: ReturnType<typeof prepare>;
  private readonly signer: ChainSigner;
  /** sessions.id → sessions.no of the sessions being written (events refer to sessions by number). */
  private readonly numbers = new Map<string, number>();
  /** The chain of each stream written, by streams.id. */
  private readonly chains = new Map<number, ChainWriter>();

  constructor(path: string, o: { fsync: boolean; busyTimeout: number; signer: ChainSigner }) {
    this.db = new DatabaseSync(path, { timeout: o.busyTimeout, enableForeignKeyConstraints: false });
    this.db.exec(`PRAGMA synchronous = ${o.fsync ? 'FULL' : 'NORMAL'}`);
    this.db.exec(`PRAGMA cache_size = -${PAGE_CACHE_KIB}`);
    this.db.exec('PRAGMA wal_autocheckpoint = 16384');
    this.db.exec('PRAGMA journal_size_limit = 67108864');
    this.st = prepare(this.db);
    this.signer = o.signer;
  }

  private no(id: string): number {
    let n = this.numbers.get(id);
    if (n === undefined) {
      const r = this.st.sessionNo.get(id) as { no: number } | undefined;
      if (!r) throw new Error(`internal: session ${id} is not in the database`);
      n = Number(r.no);
      this.numbers.set(id, n);
    }
    return n;
  }

  /**
   * Batches in one transaction; `journal` records, in the same transaction, the number of the last batch moved for
   * that stream, so a replay after a crash skips it. `between` runs after each batch. `batches` is gone through once
   * (it may decode each batch as it is asked for it).
   */
  writeMany(batches: Iterable<OpsBatch | JournaledPlan>, journal: { stream: number; batch: number } | null, between?: () => void): void {
    const db = this.db;
    const added: string[] = [];
    const closed: string[] = [];
    db.exec('BEGIN IMMEDIATE');
    try {
      for (const b of batches) {
        for (const id of this.write(b, added)) closed.push(id);
        between?.();
      }
      if (journal) this.st.journalState.run(journal.stream, journal.batch);
      db.exec('COMMIT');
    } catch (err) {
      this.rollback(added);
      throw err;
    }
    for (const id of closed) this.numbers.delete(id);
    if (this.numbers.size > 100_000) this.numbers.clear();
  }

  /**
   * Replays a journal's batches (all of one stream) in one transaction, skipping those the tables already hold: the
   * check and the writes share the transaction, so two processes recovering the same journal cannot both apply it.
   */
  replay(records: readonly { no: number; batch: OpsBatch | JournaledPlan }[]): number {
    if (!records.length) return 0;
    const stream = records[0]!.batch.stream;
    const db = this.db;
    const added: string[] = [];
    db.exec('BEGIN IMMEDIATE');
    try {
      const done = this.journalBatch(stream);
      const todo = records.filter((r) => r.no > done);
      for (const r of todo) this.write(r.batch, added);
      if (todo.length) this.st.journalState.run(stream, todo[todo.length - 1]!.no);
      db.exec('COMMIT');
      return todo.length;
    } catch (err) {
      this.rollback(added);
      throw err;
    }
  }

  private rollback(added: string[]): void {
    if (this.db.isTransaction) this.db.exec('ROLLBACK');
    for (const id of added) this.numbers.delete(id);
    // What the chains planned is not in the tables: they start again from what is.
    this.chains.clear();
  }

  /** Plans (unless planned already) and writes one batch; returns the sessions it closes. */
  private write(b: OpsBatch | JournaledPlan, added: string[]): string[] {
    if (isPlanned(b)) {
      this.apply(b, b.stream, added);
      // Written by an earlier version, which planned it: this stream's chain goes on from the tables.
      this.chains.delete(b.stream);
      return b.closed;
    }
    const chain = this.chain(b);
    for (const id of chain.unknownSessions(b.ops)) {
      const s = this.st.sessionState.get(id) as Row | undefined;
      if (!s || s.pruned !== null || s.ended_at !== null) continue;
      const head = this.st.sessionHead.get(s.no) as Row | undefined;
      if (head) chain.adopt(id, { seq: Number(head.seq), hash: buf(head.hash), colsets: new Set() });
    }
    const plan = chain.plan(b.ops);
    const refused = plan.outcome.find((o) => o !== null);
    // The main thread admits only what a plan accepts (ChainLedger): a refusal here means the two disagree, and
    // the batch, acknowledged already, must not be stored in part.
    if (refused) throw new Error(`internal: the audit writer refused an operation the store had admitted: ${refused.message}`);
    this.apply(fromPlan(plan), b.stream, added);
    chain.commit(plan);
    return plan.closed;
  }

  /** The chain of a stream, where the tables have it. */
  private chain(b: OpsBatch): ChainWriter {
    let chain = this.chains.get(b.stream);
    if (chain && chain.stream === b.name) return chain;
    chain = new ChainWriter({ stream: b.name, key: this.signer.key, keyId: this.signer.keyId, checkpointEvery: this.signer.checkpointEvery });
    const last = this.st.streamHead.get(b.stream) as Row | undefined;
    const cp = this.st.lastCheckpoint.get(b.stream) as Row | undefined;
    chain.head = {
      position: last ? Number(last.position) : 0,
      hash: last ? buf(last.hash) : ZERO_HASH,
      checkpointN: cp ? Number(cp.n) : 0,
      checkpointPosition: cp ? Number(cp.position) : 0,
      checkpointDigest: cp ? sha256Hex(String(cp.payload)) : '',
    };
    const since = new Map<string, [string, number, Buffer]>();
    let records = 0;
    for (const r of this.st.sinceCheckpoint.iterate(b.stream, cp ? Number(cp.position) : 0) as Iterable<Row>) {
      since.set(String(r.id), [String(r.id), Number(r.seq), buf(r.hash)]);
      records++;
    }
    chain.resume(records, since.values());
    this.chains.set(b.stream, chain);
    return chain;
  }

  /** The last journal batch of this stream already in the tables (0: none). */
  journalBatch(stream: number): number {
    const r = this.st.journalGet.get(stream) as { batch: number } | undefined;
    return r ? Number(r.batch) : 0;
  }

  private apply(b: PlannedBatch, stream: number, added: string[]): void {
    const s = this.st;
    const numbers = this.numbers;
    for (const c of b.sessions) {
      if (!c.isNew) continue;
      const n = Number(s.insSession.run(c.id, c.header, c.target, c.subject, c.startedAt, c.policy, c.instanceId).lastInsertRowid);
      s.insState.run(n, c.statements, c.denied, c.approvals, c.kinds, c.endedAt, c.endCause);
      numbers.set(c.id, n);
      added.push(c.id);
    }
    for (const [id, key] of b.colsets) s.insColset.run(id, key);
    for (const [digest, text] of b.columnSets) s.insColumnSet.run(digest, text);
    for (const r of b.records) {
      const id = s.insEvent.run(stream, r.position, this.no(r.sessionId), r.seq, r.prev, r.sessPrev, r.hash, r.body, r.colset).lastInsertRowid;
      if (r.rows) s.insRows.run(id, r.fmt, r.rows);
    }
    for (const c of b.sessions) {
      if (c.isNew) continue;
      s.updState.run(c.statements, c.denied, c.approvals, c.kinds, c.endedAt, c.endCause, this.no(c.id));
    }
    for (const [colset, id] of b.sessionColsets) s.insSessionColset.run(colset, this.no(id));
    if (b.checkpoint) {
      const c = b.checkpoint;
      s.insCheckpoint.run(stream, c.n, c.position, c.payload, c.signature as SQLInputValue, c.keyId);
      for (const id of c.sessions) s.insCheckpointSession.run(this.no(id), stream, c.n);
    }
  }

  close(): void {
    this.db.close();
  }
}

function prepare(d: DatabaseSync) {
  const p = (sql: string): StatementSync => d.prepare(sql);
  return {
    sessionNo: p('SELECT no FROM sessions WHERE id = ?'),
    insSession: p('INSERT INTO sessions (id, start, target, subject, started_at, policy, instance_id) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    insState: p('INSERT INTO session_state (no, statements, denied, approvals, kinds, ended_at, end_cause) VALUES (?, ?, ?, ?, ?, ?, ?)'),
    updState: p(`UPDATE session_state SET statements = statements + ?, denied = denied + ?, approvals = approvals + ?, kinds = kinds | ?,
                 ended_at = coalesce(?, ended_at), end_cause = coalesce(?, end_cause) WHERE no = ?`),
    insEvent: p('INSERT INTO events (stream, position, session_no, seq, prev, sess_prev, hash, body, colset) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)'),
    insRows: p('INSERT INTO event_rows (event_id, fmt, rows) VALUES (?, ?, ?)'),
    insColset: p('INSERT OR IGNORE INTO colsets (id, key) VALUES (?, ?)'),
    insColumnSet: p('INSERT OR IGNORE INTO column_sets (digest, columns) VALUES (?, ?)'),
    insSessionColset: p('INSERT OR IGNORE INTO session_colsets (colset, session_no) VALUES (?, ?)'),
    insCheckpoint: p('INSERT INTO checkpoints (stream, n, position, payload, signature, key_id) VALUES (?, ?, ?, ?, ?, ?)'),
    insCheckpointSession: p('INSERT OR IGNORE INTO checkpoint_sessions (session_no, stream, n) VALUES (?, ?, ?)'),
    journalState: p('INSERT INTO journal_state (stream, batch) VALUES (?, ?) ON CONFLICT (stream) DO UPDATE SET batch = excluded.batch'),
    journalGet: p('SELECT batch FROM journal_state WHERE stream = ?'),
    streamHead: p('SELECT position, hash FROM events WHERE stream = ? ORDER BY position DESC LIMIT 1'),
    lastCheckpoint: p('SELECT n, position, payload FROM checkpoints WHERE stream = ? ORDER BY n DESC LIMIT 1'),
    sessionState: p('SELECT s.no, s.pruned, st.ended_at FROM sessions s JOIN session_state st ON st.no = s.no WHERE s.id = ?'),
    sessionHead: p('SELECT seq, hash FROM events WHERE session_no = ? ORDER BY seq DESC LIMIT 1'),
    sinceCheckpoint: p(`SELECT s.id, e.seq, e.hash FROM events e JOIN sessions s ON s.no = e.session_no
                        WHERE e.stream = ? AND e.position > ? ORDER BY e.position`),
  };
}
