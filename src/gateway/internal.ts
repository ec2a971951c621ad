import { decodeColumnDefinition, type ColumnDefinition } from '../protocol/columns.ts';
import { encodeQuery, decodePrepareOk, type DecodedParam } from '../protocol/commands.ts';
import { decodeErr } from '../protocol/packets.ts';
import { ProtocolError } from '../protocol/errors.ts';
import { decodeRowCells, type CellValue } from '../protocol/rows.ts';
import { ResponseTracker, type ResponseShape } from '../protocol/results.ts';
import { encodeStmtClose, encodeStmtExecute, encodeStmtPrepare } from '../protocol/stmt.ts';
import type { PacketConn } from './conn.ts';

/**
 * Statements of the gateway's own on an upstream connection, outside any client's command: EXPLAIN for row
 * estimates, keep-alive pings while a statement waits for approval, and `sessions replay --execute`. Their
 * responses never reach a client. Results keep their row payloads as the server sent them, so a policy's masker can
 * rewrite them exactly as it would for a client.
 */

export interface RawResult {
  columns: ColumnDefinition[];
  format: 'text' | 'binary';
  /** Row payloads (joined when a row spanned several packets). */
  payloads: Buffer[];
  rowCount: number;
  affectedRows?: number;
  error?: { code: number; sqlState?: string; message: string };
}

async function readResponse(conn: PacketConn, caps: number, shape: ResponseShape): Promise<RawResult[]> {
  const t = new ResponseTracker();
  t.begin(shape, caps);
  const results: RawResult[] = [];
  let cur: RawResult | null = null;
  let expect = 1;
  let continuing = false;
  const format = shape === 'execute' ? 'binary' : 'text';
  while (!t.done) {
    const p = await conn.readPacket();
    if (p.seq !== expect) throw new ProtocolError(`upstream sent sequence id ${p.seq}, expected ${expect}`);
    expect = (expect + 1) & 0xff;
    // The payload is a view into the framer's buffer: copy what is kept.
    const role = t.next(p.payload.length ? p.payload[0]! : -1, p.payload.length, () => p.payload);
    switch (role) {
      case 'column_count':
        cur = { columns: [], format, payloads: [], rowCount: 0 };
        results.push(cur);
        break;
      case 'column_def':
        cur!.columns.push(decodeColumnDefinition(p.payload));
        break;
      case 'row':
        cur!.payloads.push(Buffer.from(p.payload));
        cur!.rowCount++;
        continuing = true;
        break;
      case 'continuation':
        if (continuing && cur && cur.payloads.length) {
          cur.payloads[cur.payloads.length - 1] = Buffer.concat([cur.payloads[cur.payloads.length - 1]!, p.payload]);
        }
        break;
      case 'ok':
        results.push({ columns: [], format, payloads: [], rowCount: 0, affectedRows: Number(t.facts.affectedRows) });
        cur = null;
        break;
      case 'err': {
        const e = decodeErr(p.payload);
        const r: RawResult = { columns: [], format, payloads: [], rowCount: 0, error: { code: e.code, sqlState: e.sqlState, message: e.message } };
        // An error in the middle of rows ends that result set; otherwise it is a result of its own.
        if (cur && !cur.error) cur.error = r.error;
        else results.push(r);
        cur = null;
        break;
      }
      case 'rows_end':
        cur = null;
        break;
      case 'infile_request':
        throw new ProtocolError('the server asked for a local file: LOAD DATA LOCAL is never replayed');
      default:
        break;
    }
    if (role !== 'row' && role !== 'continuation') continuing = false;
  }
  if (t.facts.cursorOpened) throw new ProtocolError('the server opened a cursor although none was asked for');
  return results;
}

/** COM_QUERY: one result per statement of a multi-statement text. */
export async function rawQuery(conn: PacketConn, caps: number, sql: string): Promise<RawResult[]> {
  conn.send(encodeQuery(sql), 0);
  return readResponse(conn, caps, 'query');
}

export type Prepared = { stmtId: number; params: number } | { error: { code: number; sqlState?: string; message: string } };

/** COM_STMT_PREPARE: the statement id, or the server's error. */
export async function rawPrepare(conn: PacketConn, caps: number, sql: string): Promise<Prepared> {
  conn.send(encodeStmtPrepare(sql), 0);
  const t = new ResponseTracker();
  t.begin('prepare', caps);
  let out: Prepared | null = null;
  let expect = 1;
  while (!t.done) {
    const p = await conn.readPacket();
    if (p.seq !== expect) throw new ProtocolError(`upstream sent sequence id ${p.seq}, expected ${expect}`);
    expect = (expect + 1) & 0xff;
    const role = t.next(p.payload.length ? p.payload[0]! : -1, p.payload.length, () => p.payload);
    if (role === 'prepare_ok') {
      const ok = decodePrepareOk(p.payload);
      out = { stmtId: ok.stmtId, params: ok.params };
    } else if (role === 'err') {
      const e = decodeErr(p.payload);
      out = { error: { code: e.code, sqlState: e.sqlState, message: e.message } };
    }
  }
  if (!out) throw new ProtocolError('no answer to COM_STMT_PREPARE');
  return out;
}

/** COM_STMT_EXECUTE with the given parameters (binary rows). */
export async function rawExecute(conn: PacketConn, caps: number, stmtId: number, params: readonly DecodedParam[]): Promise<RawResult[]> {
  conn.send(encodeStmtExecute(stmtId, params), 0);
  return readResponse(conn, caps, 'execute');
}

/** COM_STMT_CLOSE has no answer. */
export function rawClose(conn: PacketConn, stmtId: number): void {
  conn.send(encodeStmtClose(stmtId), 0);
}


export interface InternalResult {
  columns: ColumnDefinition[];
  rows: CellValue[][];
  error: { code: number; message: string } | null;
}

/** A text query whose first result is decoded (EXPLAIN and the like). */
export async function internalQuery(upstream: PacketConn, caps: number, sql: string): Promise<InternalResult> {
  const [r] = await rawQuery(upstream, caps, sql);
  if (!r) return { columns: [], rows: [], error: null };
  return {
    columns: r.columns,
    rows: r.payloads.map((p) => decodeRowCells('text', p, r.columns)),
    error: r.error ? { code: r.error.code, message: r.error.message } : null,
  };
}

/** COM_PING on the upstream; resolves when it answers. */
export async function internalPing(upstream: PacketConn): Promise<void> {
  upstream.send(Buffer.from([0x0e]), 0);
  const p = await upstream.readPacket();
  if (p.payload[0] === 0xff) throw new Error(decodeErr(p.payload).message);
}
