import { Writer, lenencSize } from './buffer.ts';
import { BINARY_CHARSET, ColumnFlag, Type } from './constants.ts';
import { ProtocolError } from './errors.ts';

/**
 * Text (COM_QUERY) and binary (COM_STMT_EXECUTE) result rows: locating cells, decoding them to their text form,
 * and rebuilding a row in which some cells changed (masking) with every length re-encoded.
 */

/** What the row codecs need to know of a column. ColumnDefinition and the audit's ColumnInfo both fit. */
export interface RowColumn {
  type: number;
  flags: number;
  charset: number;
  decimals: number;
}

/** A cell in its text form; bytes of binary string/blob columns as base64; SQL NULL as null. */
export type CellValue = string | null | { base64: string };

/**
 * Cell spans: for column i, `spans[2i]` is the offset of its value bytes in the payload (after any length prefix)
 * and `spans[2i+1]` the end; both -1 for NULL.
 */
export type Spans = Int32Array;

function readLenenc(p: Buffer, pos: number, end: number): { n: number; size: number } {
  if (pos >= end) throw new ProtocolError('truncated row: a cell is missing');
  const b = p[pos]!;
  if (b < 0xfb) return { n: b, size: 1 };
  if (b === 0xfc) {
    if (pos + 3 > end) throw new ProtocolError('truncated row: cell length');
    return { n: p.readUInt16LE(pos + 1), size: 3 };
  }
  if (b === 0xfd) {
    if (pos + 4 > end) throw new ProtocolError('truncated row: cell length');
    return { n: p.readUIntLE(pos + 1, 3), size: 4 };
  }
  if (b === 0xfe) {
    if (pos + 9 > end) throw new ProtocolError('truncated row: cell length');
    const v = p.readBigUInt64LE(pos + 1);
    if (v > BigInt(Number.MAX_SAFE_INTEGER)) throw new ProtocolError('cell length is too large');
    return { n: Number(v), size: 9 };
  }
  throw new ProtocolError(`invalid cell length prefix 0x${b.toString(16)}`);
}

/** Locates the cells of a text-protocol row. */
export function scanTextRow(p: Buffer, columnCount: number, spans: Spans = new Int32Array(columnCount * 2)): Spans {
  let pos = 0;
  const end = p.length;
  for (let i = 0; i < columnCount; i++) {
    if (pos >= end) throw new ProtocolError(`truncated row: ${columnCount} cells expected, ${i} found`);
    if (p[pos] === 0xfb) {
      spans[2 * i] = -1;
      spans[2 * i + 1] = -1;
      pos++;
      continue;
    }
    const { n, size } = readLenenc(p, pos, end);
    const start = pos + size;
    if (start + n > end) throw new ProtocolError('truncated row: cell value');
    spans[2 * i] = start;
    spans[2 * i + 1] = start + n;
    pos = start + n;
  }
  if (pos !== end) throw new ProtocolError(`row has ${end - pos} bytes after its ${columnCount} cells`);
  return spans;
}

/** Bytes a binary-protocol value of this type occupies when it has a fixed size; -1 for length-prefixed types. */
function fixedSize(type: number): number {
  switch (type) {
    case Type.TINY:
      return 1;
    case Type.SHORT:
    case Type.YEAR:
      return 2;
    case Type.LONG:
    case Type.INT24:
    case Type.FLOAT:
      return 4;
    case Type.LONGLONG:
    case Type.DOUBLE:
      return 8;
    case Type.NULL:
      return 0;
    default:
      return -1;
  }
}

/** Temporal types carry their own one-byte length. */
function isTemporal(type: number): boolean {
  return (
    type === Type.DATE || type === Type.DATETIME || type === Type.TIMESTAMP || type === Type.TIME ||
    type === Type.NEWDATE || type === Type.DATETIME2 || type === Type.TIMESTAMP2 || type === Type.TIME2
  );
}

/**
 * Locates the cells of a binary-protocol row: 0x00, NULL bitmap (offset 2), then each non-NULL value.
 * For temporal types the span covers the length byte too (the value is self-describing).
 */
export function scanBinaryRow(p: Buffer, columns: readonly RowColumn[], spans: Spans = new Int32Array(columns.length * 2)): Spans {
  const n = columns.length;
  const bitmapLen = (n + 7 + 2) >> 3;
  if (p.length < 1 + bitmapLen) throw new ProtocolError('truncated binary row: NULL bitmap');
  if (p[0] !== 0x00) throw new ProtocolError(`binary row starts with 0x${p[0]!.toString(16)}, not 0x00`);
  let pos = 1 + bitmapLen;
  const end = p.length;
  for (let i = 0; i < n; i++) {
    const bit = i + 2;
    if (p[1 + (bit >> 3)]! & (1 << (bit & 7))) {
      spans[2 * i] = -1;
      spans[2 * i + 1] = -1;
      continue;
    }
    const t = columns[i]!.type;
    const fs = fixedSize(t);
    let start: number;
    let stop: number;
    if (fs >= 0) {
      start = pos;
      stop = pos + fs;
    } else if (isTemporal(t)) {
      if (pos >= end) throw new ProtocolError('truncated binary row: temporal length');
      start = pos;
      stop = pos + 1 + p[pos]!;
    } else {
      const { n: len, size } = readLenenc(p, pos, end);
      start = pos + size;
      stop = start + len;
    }
    if (stop > end) throw new ProtocolError(`truncated binary row: column ${i + 1}`);
    spans[2 * i] = start;
    spans[2 * i + 1] = stop;
    pos = stop;
  }
  if (pos !== end) throw new ProtocolError(`binary row has ${end - pos} bytes after its ${n} cells`);
  return spans;
}

/** Types whose bytes are text in the column's character set, unless that character set is `binary`. */
function isStringType(type: number): boolean {
  return (
    type === Type.VARCHAR || type === Type.VAR_STRING || type === Type.STRING || type === Type.TINY_BLOB ||
    type === Type.MEDIUM_BLOB || type === Type.LONG_BLOB || type === Type.BLOB || type === Type.BIT ||
    type === Type.GEOMETRY || type === Type.ENUM || type === Type.SET
  );
}

/** True when the column's values are bytes rather than text (BLOB, BINARY, VARBINARY, BIT, GEOMETRY). */
export function isBinaryColumn(c: RowColumn): boolean {
  return (isStringType(c.type) && c.charset === BINARY_CHARSET) || c.type === Type.GEOMETRY || c.type === Type.BIT;
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

function fraction(micro: number, decimals: number): string {
  const d = decimals > 0 && decimals <= 6 ? decimals : micro ? 6 : 0;
  if (d === 0) return '';
  return '.' + pad(micro, 6).slice(0, d);
}

/** The text form of one binary-protocol value (what the text protocol would have sent for it). */
export function binaryValueText(p: Buffer, start: number, end: number, c: RowColumn): string | { base64: string } {
  const unsigned = (c.flags & ColumnFlag.UNSIGNED) !== 0;
  switch (c.type) {
    case Type.TINY:
      return String(unsigned ? p.readUInt8(start) : p.readInt8(start));
    case Type.SHORT:
    case Type.YEAR:
      return String(unsigned || c.type === Type.YEAR ? p.readUInt16LE(start) : p.readInt16LE(start));
    case Type.LONG:
    case Type.INT24:
      return String(unsigned ? p.readUInt32LE(start) : p.readInt32LE(start));
    case Type.LONGLONG:
      return String(unsigned ? p.readBigUInt64LE(start) : p.readBigInt64LE(start));
    case Type.FLOAT:
      return String(Number(p.readFloatLE(start).toPrecision(6)));
    case Type.DOUBLE:
      return String(p.readDoubleLE(start));
    case Type.NULL:
      return '';
  }
  if (isTemporal(c.type)) {
    const len = p[start]!;
    const b = start + 1;
    if (c.type === Type.TIME || c.type === Type.TIME2) {
      if (len === 0) return '00:00:00' + fraction(0, c.decimals);
      const neg = p[b] === 1;
      const days = p.readUInt32LE(b + 1);
      const h = days * 24 + p[b + 5]!;
      const micro = len >= 12 ? p.readUInt32LE(b + 8) : 0;
      return `${neg ? '-' : ''}${pad(h, 2)}:${pad(p[b + 6]!, 2)}:${pad(p[b + 7]!, 2)}${fraction(micro, c.decimals)}`;
    }
    const y = len >= 4 ? p.readUInt16LE(b) : 0;
    const mo = len >= 4 ? p[b + 2]! : 0;
    const d = len >= 4 ? p[b + 3]! : 0;
    const date = `${pad(y, 4)}-${pad(mo, 2)}-${pad(d, 2)}`;
    if (c.type === Type.DATE || c.type === Type.NEWDATE) return date;
    const h = len >= 7 ? p[b + 4]! : 0;
    const mi = len >= 7 ? p[b + 5]! : 0;
    const s = len >= 7 ? p[b + 6]! : 0;
    const micro = len >= 11 ? p.readUInt32LE(b + 7) : 0;
    return `${date} ${pad(h, 2)}:${pad(mi, 2)}:${pad(s, 2)}${fraction(micro, c.decimals)}`;
  }
  if (isBinaryColumn(c)) return { base64: p.toString('base64', start, end) };
  return p.toString('utf8', start, end);
}

/** Decodes every cell of a row to its text form. */
export function decodeRowCells(format: 'text' | 'binary', payload: Buffer, columns: readonly RowColumn[]): CellValue[] {
  const spans = format === 'text' ? scanTextRow(payload, columns.length) : scanBinaryRow(payload, columns);
  const out: CellValue[] = new Array(columns.length);
  for (let i = 0; i < columns.length; i++) {
    const s = spans[2 * i]!;
    const e = spans[2 * i + 1]!;
    if (s < 0) out[i] = null;
    else if (format === 'binary') out[i] = binaryValueText(payload, s, e, columns[i]!);
    else if (isBinaryColumn(columns[i]!)) out[i] = { base64: payload.toString('base64', s, e) };
    else out[i] = payload.toString('utf8', s, e);
  }
  return out;
}

/** A new value for a cell: null for SQL NULL, or the value's bytes (for binary rows, encoded for the column's type). */
export type Replacement = Buffer | null;

/** Rebuilds a text-protocol row with some cells replaced (`replacements[i] === undefined`: unchanged). */
export function rebuildTextRow(p: Buffer, spans: Spans, replacements: readonly (Replacement | undefined)[]): Buffer {
  const n = spans.length >> 1;
  let size = 0;
  for (let i = 0; i < n; i++) {
    const r = replacements[i];
    if (r === undefined) {
      const s = spans[2 * i]!;
      size += s < 0 ? 1 : lenencSize(spans[2 * i + 1]! - s) + (spans[2 * i + 1]! - s);
    } else size += r === null ? 1 : lenencSize(r.length) + r.length;
  }
  const w = new Writer(size);
  for (let i = 0; i < n; i++) {
    const r = replacements[i];
    if (r === undefined) {
      const s = spans[2 * i]!;
      if (s < 0) w.u8(0xfb);
      else w.lenencBytes(p.subarray(s, spans[2 * i + 1]!));
    } else if (r === null) w.u8(0xfb);
    else w.lenencBytes(r);
  }
  return w.finish();
}

/**
 * Rebuilds a binary-protocol row with some cells replaced. A replacement for a length-prefixed type is the value
 * bytes (the prefix is added here); for fixed-size and temporal types it must already be the type's encoding.
 */
export function rebuildBinaryRow(p: Buffer, columns: readonly RowColumn[], spans: Spans, replacements: readonly (Replacement | undefined)[]): Buffer {
  const n = columns.length;
  const bitmapLen = (n + 7 + 2) >> 3;
  const bitmap = Buffer.from(p.subarray(1, 1 + bitmapLen));
  const w = new Writer(p.length + 64);
  w.u8(0x00).zeros(bitmapLen);
  for (let i = 0; i < n; i++) {
    const r = replacements[i];
    const bit = i + 2;
    const mask = 1 << (bit & 7);
    const t = columns[i]!.type;
    const prefixed = fixedSize(t) < 0 && !isTemporal(t);
    if (r === undefined) {
      const s = spans[2 * i]!;
      if (s < 0) continue; // bit stays set in the copied bitmap
      const e = spans[2 * i + 1]!;
      if (prefixed) w.lenencBytes(p.subarray(s, e));
      else w.bytes(p.subarray(s, e));
    } else if (r === null) {
      bitmap[bit >> 3] = bitmap[bit >> 3]! | mask;
    } else {
      bitmap[bit >> 3] = bitmap[bit >> 3]! & ~mask;
      if (prefixed) w.lenencBytes(r);
      else w.bytes(r);
    }
  }
  const out = w.finish();
  bitmap.copy(out, 1);
  return out;
}

/** True when a binary-protocol value of this type is sent with a length prefix (strings, decimals, blobs, JSON…). */
export function isLengthPrefixed(type: number): boolean {
  return fixedSize(type) < 0 && !isTemporal(type);
}

/**
 * A text row with some cells replaced, built as a packet with 4 bytes left free in front for the header
 * (the relay fills it in), copying the unchanged bytes between replaced cells in runs. Returns null when a replaced
 * cell's original is NULL or not minimally length-encoded (the caller uses rebuildTextRow then).
 */
export function rebuildTextRowFramed(p: Buffer, spans: Spans, replacements: readonly (Replacement | undefined)[]): Buffer | null {
  const n = spans.length >> 1;
  let size = p.length;
  for (let i = 0; i < n; i++) {
    const r = replacements[i];
    if (r === undefined) continue;
    const s = spans[2 * i]!;
    if (s < 0) return null;
    const len = spans[2 * i + 1]! - s;
    const k = lenencSize(len);
    const b = p[s - k];
    if (k === 1 ? b !== len : k === 3 ? b !== 0xfc : k === 4 ? b !== 0xfd : b !== 0xfe) return null;
    size += (r === null ? 1 : lenencSize(r.length) + r.length) - (k + len);
  }
  const out = Buffer.allocUnsafe(4 + size);
  out[0] = size & 0xff;
  out[1] = (size >> 8) & 0xff;
  out[2] = (size >> 16) & 0xff;
  let pos = 4;
  let from = 0;
  for (let i = 0; i < n; i++) {
    const r = replacements[i];
    if (r === undefined) continue;
    const s = spans[2 * i]!;
    const e = spans[2 * i + 1]!;
    const start = s - lenencSize(e - s);
    pos += p.copy(out, pos, from, start);
    if (r === null) out[pos++] = 0xfb;
    else {
      const l = r.length;
      if (l < 0xfb) out[pos++] = l;
      else if (l < 0x10000) { out[pos++] = 0xfc; out.writeUInt16LE(l, pos); pos += 2; }
      else if (l < 0x1000000) { out[pos++] = 0xfd; out.writeUIntLE(l, pos, 3); pos += 3; }
      else { out[pos++] = 0xfe; out.writeBigUInt64LE(BigInt(l), pos); pos += 8; }
      pos += r.copy(out, pos);
    }
    from = e;
  }
  p.copy(out, pos, from, p.length);
  return out;
}
