import { DatabaseSync, type SQLInputValue, type StatementSync } from 'node:sqlite';
import type { WireBatch } from './wire.ts';
import { PAGE_CACHE_KIB } from './schema.ts';

/**
 * Commits planned batches (events, sessions, column sets, a checkpoint), each as one IMMEDIATE transaction, on a
 * connection of its own: on the SQLite writer thread, which moves journaled batches into the tables (or, with
 * `audit.fsync`, commits each batch before it is acknowledged), and at start-up, where what a journal holds after a
 * crash is replayed.
 */
export class BatchWriter {
  readonly db: DatabaseSync;
  private readonly st: ReturnType<typeof prepare>;
  /** sessions.id → sessions.no of the sessions being written (events refer to sessions by number). */
  private readonly numbers = new Map<string, number>();

  constructor(path: string, o: { fsync: boolean; busyTimeout: number }) {
    this.db = new DatabaseSync(path, { timeout: o.busyTimeout, enableForeignKeyConstraints: false });
    this.db.exec(`PRAGMA synchronous = ${o.fsync ? 'FULL' : 'NORMAL'}`);
    this.db.exec(`PRAGMA cache_size = -${PAGE_CACHE_KIB}`);
    this.db.exec('PRAGMA wal_autocheckpoint = 16384');
    this.db.exec('PRAGMA journal_size_limit = 67108864');
    this.st = prepare(this.db);
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

  /** One batch, one transaction. */
  write(b: WireBatch): void {
    this.writeMany([b], null);
  }

  /**
   * Several batches in one transaction (moving the journal into the tables); `journal` records, in the same
   * transaction, the number of the last batch moved for that stream, so a replay after a crash skips it. `between`
   * runs after each batch. `batches` is gone through once (it may decode each batch as it is asked for it).
   */
  writeMany(batches: Iterable<WireBatch>, journal: { stream: number; batch: number } | null, between?: () => void): void {
    const db = this.db;
    const added: string[] = [];
    const closed: string[] = [];
    db.exec('BEGIN IMMEDIATE');
    try {
      for (const b of batches) {
        this.apply(b, added);
        for (const id of b.closed) closed.push(id);
        between?.();
      }
      if (journal) this.st.journalState.run(journal.stream, journal.batch);
      db.exec('COMMIT');
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      for (const id of added) this.numbers.delete(id);
      throw err;
    }
    for (const id of closed) this.numbers.delete(id);
    if (this.numbers.size > 100_000) this.numbers.clear();
  }

  /**
   * Replays a journal's batches (all of one stream) in one transaction, skipping those the tables already hold: the
   * check and the writes share the transaction, so two processes recovering the same journal cannot both apply it.
   */
  replay(batches: readonly { no: number; batch: WireBatch }[]): number {
    if (!batches.length) return 0;
    const stream = batches[0]!.batch.stream;
    const db = this.db;
    const added: string[] = [];
    db.exec('BEGIN IMMEDIATE');
    try {
      const done = this.journalBatch(stream);
      const todo = batches.filter((r) => r.no > done);
      for (const r of todo) this.apply(r.batch, added);
      if (todo.length) this.st.journalState.run(stream, todo[todo.length - 1]!.no);
      db.exec('COMMIT');
      return todo.length;
    } catch (err) {
      if (db.isTransaction) db.exec('ROLLBACK');
      for (const id of added) this.numbers.delete(id);
      throw err;
    }
  }

  /** The last journal batch of this stream already in the tables (0: none). */
  journalBatch(stream: number): number {
    const r = this.st.journalGet.get(stream) as { batch: number } | undefined;
    return r ? Number(r.batch) : 0;
  }

  private apply(b: WireBatch, added: string[]): void {
    const s = this.st;
    const numbers = this.numbers;
    const no = (id: string) => this.no(id);
    for (const c of b.sessions) {
      if (!c.isNew) continue;
      const n = Number(s.insSession.run(c.id, c.header, c.target, c.subject, c.startedAt, c.policy, c.instanceId).lastInsertRowid);
      s.insState.run(n, c.statements, c.denied, c.approvals, c.kinds, c.endedAt, c.endCause);
      numbers.set(c.id, n);
      added.push(c.id);
    }
    for (const [id, key] of b.colsets) s.insColset.run(id, key);
    for (const [digest, text] of b.columnSets) s.insColumnSet.run(digest, text);
    const { sessionIds, bodies, nums, bytes } = b.records;
    let pos = 0;
    for (let i = 0; i < sessionIds.length; i++) {
      const colset = nums[5 * i + 3]!;
      const rowsLen = nums[5 * i + 4]!;
      const id = s.insEvent.run(b.stream, nums[5 * i]!, no(sessionIds[i]!), nums[5 * i + 1]!, bytes.subarray(pos, pos + 32),
        bytes.subarray(pos + 32, pos + 64), bytes.subarray(pos + 64, pos + 96), bodies[i]!, Number.isNaN(colset) ? null : colset).lastInsertRowid;
      pos += 96;
      if (rowsLen >= 0) {
        s.insRows.run(id, nums[5 * i + 2]!, bytes.subarray(pos, pos + rowsLen));
        pos += rowsLen;
      }
    }
    for (const c of b.sessions) {
      if (c.isNew) continue;
      s.updState.run(c.statements, c.denied, c.approvals, c.kinds, c.endedAt, c.endCause, no(c.id));
    }
    for (const [colset, id] of b.sessionColsets) s.insSessionColset.run(colset, no(id));
    if (b.checkpoint) {
      const c = b.checkpoint;
      s.insCheckpoint.run(b.stream, c.n, c.position, c.payload, c.signature as SQLInputValue, c.keyId);
      for (const id of c.sessions) s.insCheckpointSession.run(no(id), b.stream, c.n);
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
  };
}
