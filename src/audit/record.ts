import { Type } from '../protocol/constants.ts';
import type { StatementKind } from '../sql/types.ts';
import { canonicalJson, rowsSegment, sha256Hex, splitRows } from './chain.ts';
import type { ColumnInfo, NewEvent, ResultRecord, Session, SessionStart } from './types.ts';

/**
 * How an event becomes a stored record and back. Pure.
 *
 * The body of a record is the canonical JSON the chain hashes (chain.ts), stored as it is, so verifying never
 * re-encodes anything: it hashes the stored text. Two things are kept out of the body:
 *
 * - result rows: each result's `rows` becomes a descriptor `{format, count, bytes}` and the payloads themselves go,
 *   length-prefixed, into one byte string per event (chain.ts rowsSegment), decoded only when someone reads them;
 * - column definitions: the same few sets of columns come back in almost every event and were most of its bytes.
 *   Each result's `columns` becomes `columnSet`, the SHA-256 of the set's canonical JSON, and the set is stored
 *   once. The digest in the (hashed) body binds the definitions as firmly as if they were inline.
 */

/**
 * Statement kinds as bits of an integer (sessions.kinds), for the "sessions that ran a DROP" filter. The order is
 * part of the stored format: append new kinds at the end, never reorder. audit/record.test.ts checks that every kind
 * the SQL classifier knows has a bit.
 */
export const KIND_BITS: readonly StatementKind[] = [
  'select', 'insert', 'update', 'delete', 'replace', 'create', 'alter', 'drop', 'truncate', 'rename', 'grant',
  'revoke', 'set', 'use', 'show', 'describe', 'explain', 'call', 'do', 'load_data', 'into_outfile', 'lock',
  'transaction', 'prepare', 'kill', 'flush', 'other',
];
const KIND_INDEX = new Map(KIND_BITS.map((k, i) => [k, i]));

export function kindsMask(kinds: readonly string[] | undefined): number {
  let m = 0;
  if (kinds) for (const k of kinds) m |= 1 << (KIND_INDEX.get(k as StatementKind) ?? KIND_INDEX.get('other')!);
  return m;
}

export function kindsFromMask(mask: number): StatementKind[] {
  const out: StatementKind[] = [];
  for (let i = 0; i < KIND_BITS.length; i++) if (mask & (1 << i)) out.push(KIND_BITS[i]!);
  return out;
}

/** Event types counted in Session.statements. */
const STATEMENT_TYPES = new Set(['query', 'execute', 'init_db']);

/** Bits of the stored rows' format summary (event_rows.fmt), which lets a value search skip decoding. */
export const ROWS_TEXT = 1;
export const ROWS_BINARY = 2;
/** Binary rows with a FLOAT column: many bit patterns print alike, so no byte pattern can pre-filter them. */
export const ROWS_BINARY_FLOAT = 4;
/** Binary rows with a date/time column (a value search for a date decodes these). */
export const ROWS_BINARY_TEMPORAL = 8;

const TEMPORAL = new Set<number>([
  Type.TIMESTAMP, Type.DATE, Type.TIME, Type.DATETIME, Type.NEWDATE, Type.TIMESTAMP2, Type.DATETIME2, Type.TIME2,
]);

/** A set of column definitions, interned: its canonical JSON, the digest the body refers to it by, its origins. */
export interface ColumnSet {
  digest: string;
  text: string;
  /** `db.table.column` of each column with an origin, and every derivedFrom entry; sorted. */
  origins: string[];
  /** The origins as one colset key and its id (null when there are none). */
  colsetKey: string | null;
  colset: number | null;
}

// Keyed by the set's plain JSON, which is cheap to make (native) and equal for equal sets.
const columnSets = new Map<string, ColumnSet>();

// A frozen column list (the gateway keeps one per set of column definitions it saw) is looked up by identity first.
const columnSetsByList = new WeakMap<readonly ColumnInfo[], ColumnSet>();

export function columnSetOf(columns: readonly ColumnInfo[]): ColumnSet {
  const frozen = Object.isFrozen(columns);
  if (frozen) {
    const c = columnSetsByList.get(columns);
    if (c !== undefined) return c;
  }
  const c = columnSetByJson(columns);
  if (frozen) columnSetsByList.set(columns, c);
  return c;
}

function columnSetByJson(columns: readonly ColumnInfo[]): ColumnSet {
  const json = JSON.stringify(columns);
  let c = columnSets.get(json);
  if (!c) {
    const text = canonicalJson(columns);
    const origins = new Set<string>();
    addOrigins(columns, origins);
    const sorted = [...origins].sort();
    const key = sorted.length ? sorted.join('\n') : null;
    c = { digest: sha256Hex(text), text, origins: sorted, colsetKey: key, colset: key === null ? null : colsetId(key) };
    if (columnSets.size >= 5000) columnSets.clear();
    columnSets.set(json, c);
  }
  return c;
}

/** Digests of the column sets a stored body refers to (canonical JSON never has an unescaped quote inside a string). */
export function columnSetRefs(body: string): string[] {
  const out: string[] = [];
  for (let i = body.indexOf(COLUMN_SET_KEY); i >= 0; i = body.indexOf(COLUMN_SET_KEY, i + COLUMN_SET_KEY.length + 64)) {
    out.push(body.slice(i + COLUMN_SET_KEY.length, i + COLUMN_SET_KEY.length + 64));
  }
  return out;
}
const COLUMN_SET_KEY = '"columnSet":"';

export type ColumnResolver = (digest: string) => ColumnInfo[] | undefined;

export interface EncodedEvent {
  sessionId: string;
  seq: number;
  /** Canonical JSON of the event without sessionId and seq (they are in the chain link), rows as descriptors. */
  body: string;
  /** The captured rows of all result sets, or null when there are no row bytes. */
  rows: Buffer | null;
  /** ROWS_* bits. */
  fmt: number;
  /** The column sets the body refers to (on the way to the writer thread: those not handed over before). */
  columnSets: readonly Pick<ColumnSet, 'digest' | 'text'>[];
  /** Column origins (`db.table.column`, and derivedFrom) the event returned, sorted, one per line; null if none. */
  colsetKey: string | null;
  colset: number | null;
  /** Contributions to the session's counters. */
  statements: number;
  denied: number;
  approvals: number;
  kinds: number;
}

/** A 48-bit id for a set of column origins: fits a JavaScript number and SQLite/PostgreSQL integers. */
export function colsetId(key: string): number {
  return parseInt(sha256Hex(key).slice(0, 12), 16);
}

export function encodeEvent(e: NewEvent, captureRows: number): EncodedEvent {
  if (typeof e.sessionId !== 'string' || !e.sessionId) throw new TypeError('event without a sessionId');
  if (!Number.isSafeInteger(e.seq) || e.seq < 1) throw new TypeError(`event seq must be an integer ≥ 1, not ${e.seq}`);
  const segments: Buffer[] = [];
  let fmt = 0;
  const sets: ColumnSet[] = [];
  // The body's objects are literals with their keys in canonical order, so canonicalJson finds them sorted and hands
  // them to the native JSON.stringify, which leaves out the members that are undefined (as canonical JSON does). Every
  // event and every result has the same shape, which JSON.stringify is fastest with. A result keeps only the fields
  // that are stored: the gateway's result objects carry more (decoders, maskers).
  const encodeResult = (r: ResultRecord): Record<string, unknown> => {
    let columnSet: string | undefined;
    if (r.columns !== undefined) {
      const set = columnSetOf(r.columns);
      columnSet = set.digest;
      if (!sets.includes(set)) sets.push(set);
    }
    let rows: { bytes: number; count: number; format: 'text' | 'binary' } | undefined;
    if (r.rows !== undefined) {
      const rr = r.rows;
      const payloads = rr.payloads.length > captureRows ? rr.payloads.slice(0, captureRows) : rr.payloads;
      const seg = rowsSegment(payloads);
      segments.push(seg);
      rows = { bytes: seg.length, count: payloads.length, format: rr.format };
      if (payloads.length > 0) fmt |= rowFlags(rr.format, r.columns);
    }
    return {
      affectedRows: r.affectedRows, columnSet, error: r.error, lastInsertId: r.lastInsertId, rowCount: r.rowCount, rows,
      truncated: r.truncated, warnings: r.warnings,
    };
  };

  // The gateway passes the first result both as `result` and as `results[0]` when there are several: keep it once.
  const firstRepeated = e.result !== undefined && e.results !== undefined && e.results[0] === e.result;
  const body: Record<string, unknown> = {
    approval: e.approval, at: e.at, db: e.db, decision: e.decision, detail: e.detail, durationMs: e.durationMs,
    fingerprint: e.fingerprint, kinds: e.kinds, params: e.params,
    result: e.result !== undefined && !firstRepeated ? encodeResult(e.result) : undefined,
    resultIsFirst: firstRepeated ? true : undefined,
    results: e.results !== undefined ? e.results.map(encodeResult) : undefined,
    sql: e.sql, stmtId: e.stmtId, type: e.type,
  };
  // Fields the literal does not know yet are stored all the same (canonicalJson then sorts them into their place);
  // sessionId and seq are not (the chain link carries them).
  for (const k in e) {
    if (!Object.hasOwn(body, k) && k !== 'sessionId' && k !== 'seq' && Object.hasOwn(e, k)) body[k] = e[k as keyof NewEvent];
  }

  let rows: Buffer | null = segments.length === 1 ? segments[0]! : segments.length ? Buffer.concat(segments) : null;
  if (rows && rows.length === 0) rows = null;
  let colsetKey: string | null = null;
  let colset: number | null = null;
  if (sets.length === 1) ({ colsetKey, colset } = sets[0]!);
  else if (sets.length > 1) {
    const origins = [...new Set(sets.flatMap((c) => c.origins))].sort();
    if (origins.length) {
      colsetKey = origins.join('\n');
      colset = colsetId(colsetKey);
    }
  }
  const approvalStatus = e.approval?.status;
  return {
    sessionId: e.sessionId,
    seq: e.seq,
    body: canonicalJson(body),
    rows,
    fmt,
    columnSets: sets,
    colsetKey,
    colset,
    statements: STATEMENT_TYPES.has(e.type) ? 1 : 0,
    denied: e.decision?.action === 'deny' || approvalStatus === 'denied' || approvalStatus === 'timed_out' ? 1 : 0,
    approvals: e.decision?.action === 'approve' ? 1 : 0,
    kinds: kindsMask(e.kinds),
  };
}

function addOrigins(columns: readonly ColumnInfo[], into: Set<string>): void {
  for (const c of columns) {
    if (c.db || c.table || c.column) into.add(`${c.db}.${c.table}.${c.column}`);
    if (c.derivedFrom) for (const d of c.derivedFrom) into.add(d);
  }
}

function rowFlags(format: 'text' | 'binary', columns: readonly ColumnInfo[] | undefined): number {
  if (format === 'text') return ROWS_TEXT;
  let f = ROWS_BINARY;
  // Without column definitions the rows cannot be decoded at all; flag both so a search looks at them.
  if (!columns) return f | ROWS_BINARY_FLOAT | ROWS_BINARY_TEMPORAL;
  for (const c of columns) {
    if (c.type === Type.FLOAT) f |= ROWS_BINARY_FLOAT;
    else if (TEMPORAL.has(c.type)) f |= ROWS_BINARY_TEMPORAL;
  }
  return f;
}

interface RowsDescriptor {
  format: 'text' | 'binary';
  count: number;
  bytes: number;
}

/**
 * Rebuilds the event from its stored body and rows. Row payloads are views into `rows` (no copy); column sets come
 * from `columns` (a result whose set is unknown has no columns). Throws when the rows do not match the body's
 * descriptors.
 */
export function decodeEvent(sessionId: string, seq: number, body: string, rows: Buffer | null, columns: ColumnResolver): NewEvent {
  const o = JSON.parse(body) as Record<string, unknown>;
  const blob = rows ?? Buffer.alloc(0);
  let pos = 0;
  const decodeResult = (res: Record<string, unknown>): ResultRecord => {
    let r = res;
    if (typeof r.columnSet === 'string') {
      const { columnSet, ...rest } = r;
      const cols = columns(columnSet as string);
      r = cols ? { ...rest, columns: cols } : rest;
    }
    const d = r.rows as RowsDescriptor | undefined;
    if (!d) return r as ResultRecord;
    const end = pos + d.bytes;
    if (end > blob.length) throw new Error(`event ${sessionId}#${seq}: stored rows are shorter than described`);
    const payloads = splitRows(blob, pos, end);
    pos = end;
    if (payloads.length !== d.count) throw new Error(`event ${sessionId}#${seq}: ${payloads.length} rows stored, ${d.count} described`);
    return { ...r, rows: { format: d.format, payloads } } as ResultRecord;
  };
  const ev = { sessionId, seq, ...o } as NewEvent & { resultIsFirst?: boolean };
  if (o.result) ev.result = decodeResult(o.result as Record<string, unknown>);
  if (o.results) ev.results = (o.results as Record<string, unknown>[]).map(decodeResult);
  if (ev.resultIsFirst) {
    delete ev.resultIsFirst;
    if (ev.results) ev.result = ev.results[0];
  }
  return ev;
}

/**
 * Column sets read back, shared by the reads of one store: a bounded map from digest to the parsed definitions.
 * Stores fill it from the database before decoding (`missing`, then `add`).
 */
export class ColumnSetCache {
  readonly #map = new Map<string, ColumnInfo[]>();
  readonly #max: number;

  constructor(max = 10_000) {
    this.#max = max;
  }

  get: ColumnResolver = (digest) => this.#map.get(digest);

  /** Digests referred to by these bodies that are not cached yet. */
  missing(bodies: Iterable<string | null>): string[] {
    const out = new Set<string>();
    for (const b of bodies) if (b) for (const d of columnSetRefs(b)) if (!this.#map.has(d)) out.add(d);
    return [...out];
  }

  add(digest: string, text: string): void {
    if (this.#map.size >= this.#max) this.#map.delete(this.#map.keys().next().value!);
    this.#map.set(digest, JSON.parse(text) as ColumnInfo[]);
  }
}

/** The body of a session's header record (seq 0): the SessionStart without its id (the chain link carries it). */
export function sessionHeaderBody(s: SessionStart): string {
  const o: Record<string, unknown> = { ...s, record: 'session' };
  delete o.id;
  return canonicalJson(o);
}

export function sessionStartFromHeader(id: string, body: string): SessionStart {
  const o = JSON.parse(body) as Record<string, unknown>;
  delete o.record;
  return { ...(o as unknown as SessionStart), id };
}

/** Sorting and comparing times as text needs one format: ISO 8601 UTC with milliseconds. */
export function normTime(t: string): string {
  const d = new Date(t);
  if (Number.isNaN(d.getTime())) throw new TypeError(`not a time: ${JSON.stringify(t)}`);
  return d.toISOString();
}

// The second of the last isoTime call, and its text up to the milliseconds ("2026-11-21T23:49:50.").
let isoSecond = Number.NaN;
let isoPrefix = '';

/**
 * `new Date(ms).toISOString()` for an integer `ms` (Date.now()), the format normTime gives. The gateway stamps every
 * event: Node 24's toISOString takes about 0.8 µs, this about 0.08 µs, keeping the text up to the seconds of
 * the last second it was asked for.
 */
export function isoTime(ms: number): string {
  if (!Number.isSafeInteger(ms)) return new Date(ms).toISOString();
  const second = Math.floor(ms / 1000);
  if (second !== isoSecond) {
    const iso = new Date(second * 1000).toISOString();
    isoPrefix = iso.slice(0, iso.length - 4);
    isoSecond = second;
  }
  const milli = ms - second * 1000;
  return isoPrefix + (milli < 10 ? '00' : milli < 100 ? '0' : '') + milli + 'Z';
}

/** What a listing row holds, turned into a Session. */
export interface SessionRow {
  id: string;
  start: string;
  ended_at: string | null;
  end_cause: string | null;
  statements: number;
  denied: number;
  approvals: number;
  kinds: number;
}

export function sessionFromRow(r: SessionRow): Session {
  return {
    ...sessionStartFromHeader(r.id, r.start),
    endedAt: r.ended_at,
    endCause: r.end_cause,
    statements: Number(r.statements),
    denied: Number(r.denied),
    approvals: Number(r.approvals),
    kinds: kindsFromMask(Number(r.kinds)),
  };
}
