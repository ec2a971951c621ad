import { decodeRowCells, type CellValue } from '../protocol/rows.ts';
import type { ColumnInfo, NewEvent, ResultRecord } from './types.ts';

/**
 * "Which sessions saw this value": the parts both stores share. A store first narrows the events down with byte
 * patterns the stored rows must contain (SQLite `instr`, PostgreSQL `position`), then decodes only those and
 * compares cell by cell, so a pattern may match too much but must never miss:
 *
 * - a text-protocol cell, and a binary-protocol string or DECIMAL cell, holds the value's UTF-8 bytes verbatim;
 * - a binary integer cell holds it little-endian in 1, 2, 4 or 8 bytes, a DOUBLE as its 8 IEEE bytes;
 * - a binary FLOAT prints with 6 significant digits, so many bit patterns print alike: events with such columns
 *   (ROWS_BINARY_FLOAT) are always decoded when the value is a number, and likewise date/time columns
 *   (ROWS_BINARY_TEMPORAL) when the value looks like a date or time;
 * - for a substring search only the UTF-8 pattern means anything, so every event with binary rows is decoded.
 */

export interface ValueQuery {
  value: string;
  substring: boolean;
  bytes: Buffer;
  /** Patterns for binary rows (the UTF-8 bytes come first). */
  binaryPatterns: Buffer[];
  /** Decode every binary-row event with FLOAT / temporal columns. */
  numeric: boolean;
  temporal: boolean;
}

const INTEGER = /^-?(0|[1-9][0-9]*)$/;
const NUMBER = /^-?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][-+]?[0-9]+)?$/;
const TEMPORAL = /^(-?[0-9]+:[0-9]{2}:[0-9]{2}|[0-9]{4}-[0-9]{2}-[0-9]{2})/;

export function valueQuery(value: string, substring = false): ValueQuery {
  const bytes = Buffer.from(value, 'utf8');
  const q: ValueQuery = { value, substring, bytes, binaryPatterns: [bytes], numeric: false, temporal: false };
  if (substring) return q;
  if (INTEGER.test(value)) {
    const n = BigInt(value);
    for (const width of [1, 2, 4, 8]) {
      const bits = BigInt(width * 8);
      const fitsSigned = n >= -(1n << (bits - 1n)) && n < 1n << (bits - 1n);
      const fitsUnsigned = n >= 0n && n < 1n << bits;
      if (!fitsSigned && !fitsUnsigned) continue;
      const b = Buffer.alloc(width);
      let u = n < 0n ? (1n << bits) + n : n;
      for (let i = 0; i < width; i++) {
        b[i] = Number(u & 0xffn);
        u >>= 8n;
      }
      q.binaryPatterns.push(b);
    }
  }
  if (NUMBER.test(value) && Number.isFinite(Number(value))) {
    const d = Buffer.alloc(8);
    d.writeDoubleLE(Number(value));
    q.binaryPatterns.push(d);
    q.numeric = true;
  }
  q.temporal = TEMPORAL.test(value);
  return q;
}

/** The name a hit reports for a column: its origin `db.table.column`, or the name the client saw when computed. */
export function columnLabel(c: ColumnInfo): string {
  return c.db || c.table || c.column ? `${c.db}.${c.table}.${c.column}` : c.name;
}

function cellMatches(cell: CellValue, q: ValueQuery): boolean {
  if (cell === null) return false;
  if (typeof cell === 'string') return q.substring ? cell.includes(q.value) : cell === q.value;
  const b = Buffer.from(cell.base64, 'base64');
  return q.substring ? b.includes(q.bytes) : b.equals(q.bytes);
}

/** The results of an event, each once (`result` is often also `results[0]`). */
export function eventResults(e: NewEvent): ResultRecord[] {
  const out: ResultRecord[] = [];
  if (e.result) out.push(e.result);
  if (e.results) for (const r of e.results) if (r !== e.result) out.push(r);
  return out;
}

/** The columns of `e` in which some captured cell matches, as hit labels, in result order. */
export function matchingColumns(e: NewEvent, q: ValueQuery): string[] {
  const found = new Set<string>();
  for (const r of eventResults(e)) {
    if (!r.rows || !r.columns) continue;
    const cols = r.columns;
    const hit = new Array<boolean>(cols.length).fill(false);
    for (const payload of r.rows.payloads) {
      let cells: CellValue[];
      try {
        cells = decodeRowCells(r.rows.format, payload, cols);
      } catch {
        continue; // a row that does not decode cannot be said to hold the value
      }
      for (let i = 0; i < cells.length; i++) if (!hit[i] && cellMatches(cells[i]!, q)) hit[i] = true;
    }
    for (let i = 0; i < cols.length; i++) if (hit[i]) found.add(columnLabel(cols[i]!));
  }
  return [...found];
}

/**
 * A matcher for `db.table.column` patterns, `*` allowed within any part (`app.*.email`, `*.*.ssn`). Names compare
 * case-insensitively. Throws on a pattern that does not have three parts.
 */
export function columnMatcher(pattern: string): (origin: string) => boolean {
  const parts = pattern.split('.');
  if (parts.length !== 3 || parts.some((p) => p === '')) throw new TypeError(`column pattern must be db.table.column, not ${JSON.stringify(pattern)}`);
  const re = new RegExp(
    '^' + parts.map((p) => p.split('*').map((s) => s.replace(/[\\^$.|?+()[\]{}]/g, '\\$&')).join('[^.]*')).join('\\.') + '$',
    'i',
  );
  return (origin) => re.test(origin);
}
