// Shared by the audit store tests and the bench: event builders (text and binary result rows as MySQL sends them)
// and, per store, raw database access that tampers with what the store wrote, the way someone with write access
// to the database would.
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { openAuditStore } from '../../src/audit/index.ts';
import type { AuditStore, AuditStoreOptions, ColumnInfo, NewEvent, SessionStart } from '../../src/audit/types.ts';

// ---- building events ----

export const T = { LONG: 3, DOUBLE: 5, LONGLONG: 8, DATE: 10, VAR_STRING: 253, BLOB: 252, FLOAT: 4 } as const;

export function column(name: string, type: number, over: Partial<ColumnInfo> = {}): ColumnInfo {
  const binary = type === T.BLOB;
  const numeric = type === T.LONG || type === T.DOUBLE || type === T.LONGLONG || type === T.FLOAT;
  return {
    name, db: 'app', table: 'users', column: name, type, flags: 0, charset: binary || numeric ? 63 : 45, decimals: 0,
    masked: null, ...over,
  };
}

function lenenc(b: Buffer): Buffer {
  if (b.length < 251) return Buffer.concat([Buffer.from([b.length]), b]);
  const h = Buffer.alloc(3);
  h[0] = 0xfc;
  h.writeUInt16LE(b.length, 1);
  return Buffer.concat([h, b]);
}

/** A text-protocol row: each cell a length-encoded string, NULL as 0xfb. */
export function textRow(cells: (string | null)[]): Buffer {
  return Buffer.concat(cells.map((c) => (c === null ? Buffer.from([0xfb]) : lenenc(Buffer.from(c, 'utf8')))));
}

/** A binary-protocol row (0x00, NULL bitmap with offset 2, values) for the column types T above. */
export function binaryRow(columns: ColumnInfo[], values: (string | number | bigint | null)[]): Buffer {
  const bitmap = Buffer.alloc((columns.length + 7 + 2) >> 3);
  const parts: Buffer[] = [];
  columns.forEach((c, i) => {
    const v = values[i];
    if (v === null || v === undefined) {
      bitmap[(i + 2) >> 3]! |= 1 << ((i + 2) & 7);
      return;
    }
    let b: Buffer;
    switch (c.type) {
      case T.LONG: b = Buffer.alloc(4); b.writeInt32LE(Number(v)); break;
      case T.LONGLONG: b = Buffer.alloc(8); b.writeBigInt64LE(BigInt(v)); break;
      case T.DOUBLE: b = Buffer.alloc(8); b.writeDoubleLE(Number(v)); break;
      case T.FLOAT: b = Buffer.alloc(4); b.writeFloatLE(Number(v)); break;
      case T.DATE: {
        const [y, m, d] = String(v).split('-').map(Number);
        b = Buffer.from([4, y! & 0xff, y! >> 8, m!, d!]);
        break;
      }
      default: b = lenenc(Buffer.from(String(v), 'utf8'));
    }
    parts.push(b);
  });
  return Buffer.concat([Buffer.from([0]), bitmap, ...parts]);
}

export function sessionStart(id: string, over: Partial<SessionStart> = {}): SessionStart {
  return {
    id, target: 'app', identity: { subject: 'agent-1', groups: ['agents'], via: 'service_account' }, client: '127.0.0.1:40000',
    tls: false, startedAt: new Date().toISOString(), instanceId: 'gw-test', policy: 'agents', ...over,
  };
}

export const USER_COLUMNS = [column('id', T.LONG), column('email', T.VAR_STRING), column('name', T.VAR_STRING)];

/** A SELECT returning a few text rows of app.users. */
export function selectEvent(sessionId: string, seq: number, rows: (string | null)[][] = [[String(seq), `user${seq}@example.com`, `User ${seq}`]]): NewEvent {
  return {
    sessionId, seq, at: new Date().toISOString(), type: 'query', sql: `SELECT id, email, name FROM app.users WHERE id = ${seq}`,
    kinds: ['select'], fingerprint: 'select id , email , name from app . users where id = ?',
    decision: { action: 'allow', policy: 'agents', rule: null },
    result: { columns: USER_COLUMNS, rows: { format: 'text', payloads: rows.map(textRow) }, rowCount: rows.length },
    durationMs: 0.42,
  };
}

// ---- raw access and tampering ----

export interface Tamper {
  kind: 'sqlite' | 'postgres';
  /** A store on the same database (`instanceId` defaults to gw-test). */
  open(o?: Partial<AuditStoreOptions>): Promise<AuditStore>;
  query(sql: string, params?: unknown[]): Promise<Record<string, unknown>[]>;
  editSql(sessionId: string, seq: number, sql: string): Promise<void>;
  flipRowByte(sessionId: string, seq: number): Promise<void>;
  deleteEvent(sessionId: string, seq: number): Promise<void>;
  swapSeqs(sessionId: string, a: number, b: number): Promise<void>;
  /** Inserts a copy of (sessionId, seq) as `newSeq` right after it in the stream, shifting the later positions. */
  insertCopy(sessionId: string, seq: number, newSeq: number): Promise<void>;
  deleteSession(sessionId: string): Promise<void>;
  deleteSessionRow(sessionId: string): Promise<void>;
  editSessionTarget(sessionId: string, target: string): Promise<void>;
  /** Removes the newest `n` records of a stream. */
  deleteNewest(stream: string, n: number): Promise<void>;
  stubEvent(sessionId: string, seq: number): Promise<void>;
  editCheckpoint(stream: string, n: number): Promise<void>;
  /** Renames a column in every stored column set. */
  editColumnSets(from: string, to: string): Promise<void>;
  close(): Promise<void>;
}

export function sqliteTamper(path: string): Tamper {
  const db = new DatabaseSync(path, { timeout: 5000 });
  const run = (sql: string, ...p: unknown[]) => db.prepare(sql).run(...(p as never[]));
  const no = (id: string) => Number((db.prepare('SELECT no FROM sessions WHERE id = ?').get(id) as { no: number }).no);
  const stream = (name: string) => Number((db.prepare('SELECT id FROM streams WHERE name = ?').get(name) as { id: number }).id);
  return {
    kind: 'sqlite',
    async open(o = {}) {
      const s = openAuditStore(`sqlite:${path}`, { instanceId: 'gw-test', ...o });
      await s.init();
      return s;
    },
    async query(sql, params = []) {
      return db.prepare(sql).all(...(params as never[])) as Record<string, unknown>[];
    },
    async editSql(id, seq, sql) {
      const r = db.prepare('SELECT body FROM events WHERE session_no = ? AND seq = ?').get(no(id), seq) as { body: string };
      const body = JSON.parse(r.body);
      body.sql = sql;
      run('UPDATE events SET body = ? WHERE session_no = ? AND seq = ?', JSON.stringify(body), no(id), seq);
    },
    async flipRowByte(id, seq) {
      const r = db.prepare('SELECT r.event_id, r.rows FROM event_rows r JOIN events e ON e.id = r.event_id WHERE e.session_no = ? AND e.seq = ?').get(no(id), seq) as { event_id: number; rows: Uint8Array };
      const b = Buffer.from(r.rows);
      b[b.length - 1]! ^= 1;
      run('UPDATE event_rows SET rows = ? WHERE event_id = ?', b, r.event_id);
    },
    async deleteEvent(id, seq) {
      run('DELETE FROM event_rows WHERE event_id = (SELECT id FROM events WHERE session_no = ? AND seq = ?)', no(id), seq);
      run('DELETE FROM events WHERE session_no = ? AND seq = ?', no(id), seq);
    },
    async swapSeqs(id, a, b) {
      const n = no(id);
      run('UPDATE events SET seq = -1 WHERE session_no = ? AND seq = ?', n, a);
      run('UPDATE events SET seq = ? WHERE session_no = ? AND seq = ?', a, n, b);
      run('UPDATE events SET seq = ? WHERE session_no = ? AND seq = -1', b, n);
    },
    async insertCopy(id, seq, newSeq) {
      const r = db.prepare('SELECT * FROM events WHERE session_no = ? AND seq = ?').get(no(id), seq) as Record<string, never>;
      run('UPDATE events SET position = -position - 1 WHERE stream = ? AND position > ?', r.stream, r.position);
      run('UPDATE events SET position = -position WHERE stream = ? AND position < 0', r.stream);
      run('INSERT INTO events (stream, position, session_no, seq, prev, sess_prev, hash, body, colset) VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?)',
        r.stream, Number(r.position) + 1, r.session_no, newSeq, r.hash, r.hash, r.hash, r.body, r.colset);
    },
    async deleteSession(id) {
      const n = no(id);
      run('DELETE FROM event_rows WHERE event_id IN (SELECT id FROM events WHERE session_no = ?)', n);
      run('DELETE FROM events WHERE session_no = ?', n);
      run('DELETE FROM sessions WHERE no = ?', n);
    },
    async deleteSessionRow(id) {
      run('DELETE FROM sessions WHERE id = ?', id);
    },
    async editSessionTarget(id, target) {
      run('UPDATE sessions SET target = ? WHERE id = ?', target, id);
    },
    async deleteNewest(name, n) {
      const s = stream(name);
      run('DELETE FROM event_rows WHERE event_id IN (SELECT id FROM events WHERE stream = ? ORDER BY position DESC LIMIT ?)', s, n);
      run('DELETE FROM events WHERE id IN (SELECT id FROM events WHERE stream = ? ORDER BY position DESC LIMIT ?)', s, n);
    },
    async stubEvent(id, seq) {
      run('UPDATE events SET body = NULL WHERE session_no = ? AND seq = ?', no(id), seq);
    },
    async editCheckpoint(name, n) {
      const r = db.prepare('SELECT payload FROM checkpoints WHERE stream = ? AND n = ?').get(stream(name), n) as { payload: string };
      run('UPDATE checkpoints SET payload = ? WHERE stream = ? AND n = ?', r.payload.replace(/"at":"[^"]*"/, '"at":"2000-01-01T00:00:00.000Z"'), stream(name), n);
    },
    async editColumnSets(from, to) {
      run('UPDATE column_sets SET columns = replace(columns, ?, ?)', from, to);
    },
    async close() {
      db.close();
    },
  };
}

export async function postgresTamper(url: string): Promise<Tamper> {
  const c = new pg.Client({ connectionString: url });
  await c.connect();
  const q = async (sql: string, p: unknown[] = []) => (await c.query(sql, p)).rows as Record<string, any>[];
  const stream = async (name: string) => Number((await q('SELECT id FROM streams WHERE name = $1', [name]))[0]!.id);
  return {
    kind: 'postgres',
    async open(o = {}) {
      const s = openAuditStore(url, { instanceId: 'gw-test', ...o });
      await s.init();
      return s;
    },
    query: q,
    async editSql(id, seq, sql) {
      const [r] = await q('SELECT body FROM events WHERE session_id = $1 AND seq = $2', [id, seq]);
      const body = JSON.parse(r!.body);
      body.sql = sql;
      await q('UPDATE events SET body = $3 WHERE session_id = $1 AND seq = $2', [id, seq, JSON.stringify(body)]);
    },
    async flipRowByte(id, seq) {
      const [r] = await q('SELECT r.stream_id, r.position, r.rows FROM event_rows r JOIN events e ON e.stream_id = r.stream_id AND e.position = r.position WHERE e.session_id = $1 AND e.seq = $2', [id, seq]);
      const b = Buffer.from(r!.rows);
      b[b.length - 1]! ^= 1;
      await q('UPDATE event_rows SET rows = $3 WHERE stream_id = $1 AND position = $2', [r!.stream_id, r!.position, b]);
    },
    async deleteEvent(id, seq) {
      await q('DELETE FROM event_rows r USING events e WHERE e.session_id = $1 AND e.seq = $2 AND r.stream_id = e.stream_id AND r.position = e.position', [id, seq]);
      await q('DELETE FROM events WHERE session_id = $1 AND seq = $2', [id, seq]);
    },
    async swapSeqs(id, a, b) {
      await q('UPDATE events SET seq = -1 WHERE session_id = $1 AND seq = $2', [id, a]);
      await q('UPDATE events SET seq = $2 WHERE session_id = $1 AND seq = $3', [id, a, b]);
      await q('UPDATE events SET seq = $2 WHERE session_id = $1 AND seq = -1', [id, b]);
    },
    async insertCopy(id, seq, newSeq) {
      const [r] = await q('SELECT * FROM events WHERE session_id = $1 AND seq = $2', [id, seq]);
      await q('UPDATE event_rows SET position = -position - 1 WHERE stream_id = $1 AND position > $2', [r!.stream_id, r!.position]);
      await q('UPDATE event_rows SET position = -position WHERE stream_id = $1 AND position < 0', [r!.stream_id]);
      await q('UPDATE events SET position = -position - 1 WHERE stream_id = $1 AND position > $2', [r!.stream_id, r!.position]);
      await q('UPDATE events SET position = -position WHERE stream_id = $1 AND position < 0', [r!.stream_id]);
      await q('INSERT INTO events (stream_id, position, session_id, seq, prev, sess_prev, hash, body, colset) VALUES ($1, $2, $3, $4, $5, $5, $5, $6, $7)',
        [r!.stream_id, Number(r!.position) + 1, id, newSeq, r!.hash, r!.body, r!.colset]);
    },
    async deleteSession(id) {
      await q('DELETE FROM event_rows r USING events e WHERE e.session_id = $1 AND r.stream_id = e.stream_id AND r.position = e.position', [id]);
      await q('DELETE FROM events WHERE session_id = $1', [id]);
      await q('DELETE FROM sessions WHERE id = $1', [id]);
    },
    async deleteSessionRow(id) {
      await q('DELETE FROM sessions WHERE id = $1', [id]);
    },
    async editSessionTarget(id, target) {
      await q('UPDATE sessions SET target = $2 WHERE id = $1', [id, target]);
    },
    async deleteNewest(name, n) {
      const s = await stream(name);
      await q('DELETE FROM event_rows WHERE stream_id = $1 AND position IN (SELECT position FROM events WHERE stream_id = $1 ORDER BY position DESC LIMIT $2)', [s, n]);
      await q('DELETE FROM events WHERE stream_id = $1 AND position IN (SELECT position FROM events WHERE stream_id = $1 ORDER BY position DESC LIMIT $2)', [s, n]);
    },
    async stubEvent(id, seq) {
      await q('UPDATE events SET body = NULL WHERE session_id = $1 AND seq = $2', [id, seq]);
    },
    async editCheckpoint(name, n) {
      const s = await stream(name);
      const [r] = await q('SELECT payload FROM checkpoints WHERE stream_id = $1 AND n = $2', [s, n]);
      await q('UPDATE checkpoints SET payload = $3 WHERE stream_id = $1 AND n = $2', [s, n, String(r!.payload).replace(/"at":"[^"]*"/, '"at":"2000-01-01T00:00:00.000Z"')]);
    },
    async editColumnSets(from, to) {
      await q('UPDATE column_sets SET columns = replace(columns, $1, $2)', [from, to]);
    },
    async close() {
      await c.end();
    },
  };
}
