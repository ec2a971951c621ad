import type { MaskStyle } from '../config/types.ts';
import { encodeColumnDefinition, type ColumnDefinition } from '../protocol/columns.ts';
import { BINARY_CHARSET, ColumnFlag, DEFAULT_CHARSET, Type } from '../protocol/constants.ts';
import {
  binaryValueText, isBinaryColumn, isLengthPrefixed, rebuildBinaryRow, rebuildTextRow, rebuildTextRowFramed, scanBinaryRow, scanTextRow,
  type Replacement, type RowColumn,
} from '../protocol/rows.ts';
import { charsetKind, type CharsetKind } from './charsets.ts';
import { Det, Detectors } from './detectors.ts';
import type { MaskSet } from './maskset.ts';
import {
  KeyedHasher, REDACTED, REDACTED_BYTES, digitHeavyBytes, hashNumber, hashToken, type HashKey,
  partialAuto, partialDigits, partialEmail, partialEnds, partialPem, starDigits,
} from './styles.ts';
import type { ResultMasker } from './types.ts';

/**
 * Rewrites the rows of one result set. Built once from the column definitions, then called per row on the hot
 * path: the spans and the replacement list are allocated here once, a row in which nothing changes costs one scan
 * of its cells and returns null (the gateway forwards the original bytes), and only rows that change are rebuilt.
 *
 * Masked columns are retyped to VAR_STRING: `****`, a hash or `j***@example.com` is not a valid INT or DATE, and
 * both protocols must carry the same masked text so that `query` and `execute` return identical rows. Columns
 * that content detectors examine keep their type; a replacement there is a value of the same type (digits in an
 * integer, see styles.ts), so the row never becomes undecodable.
 */

/** How a column is treated. */
export const PLAIN = 0, MASKED = 1, DETECT_TEXT = 2, DETECT_INT = 3;

/** What masking a row changes (replaceCells). */
const NONE = 0, IN_PLACE = 1, REPLACED = 2;

const DROPPED_FLAGS = ColumnFlag.NOT_NULL | ColumnFlag.UNSIGNED | ColumnFlag.ZEROFILL | ColumnFlag.BINARY | ColumnFlag.BLOB;

function isTextType(t: number): boolean {
  return t === Type.VARCHAR || t === Type.VAR_STRING || t === Type.STRING || t === Type.TINY_BLOB || t === Type.MEDIUM_BLOB ||
    t === Type.LONG_BLOB || t === Type.BLOB || t === Type.ENUM || t === Type.SET || t === Type.JSON;
}

function isIntegerType(c: ColumnDefinition): boolean {
  return c.type === Type.LONGLONG || c.type === Type.LONG || ((c.type === Type.NEWDECIMAL || c.type === Type.DECIMAL) && c.decimals === 0);
}

/** How a column's text form is encoded: numbers, dates and JSON are ASCII/UTF-8 whatever their declared set. */
function textKind(c: ColumnDefinition): CharsetKind {
  if (isBinaryColumn(c)) return 'bytes';
  if (!isTextType(c.type) || c.type === Type.JSON) return 'utf8';
  const k = charsetKind(c.charset);
  return k === 'bytes' ? 'utf8' : k;
}

/** How one column is treated: masked by a rule, examined by detectors (as text or as an integer), or left alone. */
export function columnMode(c: ColumnDefinition, style: MaskStyle | null, masks: MaskSet): number {
  if (style !== null) return MASKED;
  if (masks.detectors.size === 0) return PLAIN;
  if (isTextType(c.type)) {
    const k = textKind(c);
    return k === 'utf8' || k === 'single' || k === 'bytes' ? DETECT_TEXT : PLAIN;
  }
  return masks.numericDetectors && isIntegerType(c) ? DETECT_INT : PLAIN;
}

/** True when some column of the result set needs a look at every row: otherwise no masker at all. */
export function anyWork(columns: readonly ColumnDefinition[], styles: readonly (MaskStyle | null)[], masks: MaskSet): boolean {
  for (let i = 0; i < columns.length; i++) if (columnMode(columns[i]!, styles[i]!, masks) !== PLAIN) return true;
  return false;
}

/** A masked column's new definition: a string in the column's own text character set, else utf8mb4. */
export function retypeColumn(c: ColumnDefinition): ColumnDefinition {
  const keepCharset = isTextType(c.type) && c.charset !== BINARY_CHARSET && charsetKind(c.charset) !== 'wide';
  return {
    ...c,
    type: Type.VAR_STRING,
    charset: keepCharset ? c.charset : DEFAULT_CHARSET,
    // Room for the longest masked form of the value (the text of a number or date, a hash, a partial email).
    length: Math.min(0xffffffff, Math.max(c.length + 128, 256)),
    flags: c.flags & ~DROPPED_FLAGS,
    decimals: 0,
  };
}

/**
 * Encoded replacement definitions, per engine. Encoding one costs more than building the rest of a masker
 * (measured 1.7 µs), and the same columns come back with every execution of a query.
 */
export class DefinitionCache {
  private readonly map = new Map<string, Buffer>();

  encode(c: ColumnDefinition): Buffer {
    const key = `${c.catalog}\u0000${c.schema}\u0000${c.table}\u0000${c.orgTable}\u0000${c.name}\u0000${c.orgName}\u0000${c.charset}\u0000${c.length}\u0000${c.type}\u0000${c.flags}\u0000${c.decimals}`;
    let b = this.map.get(key);
    if (b === undefined) {
      b = encodeColumnDefinition(c);
      if (this.map.size >= 4096) this.map.clear();
      this.map.set(key, b);
    }
    return b;
  }
}

export interface MaskerOptions {
  masks: MaskSet;
  hashKey: HashKey;
  /** Shared encoded definitions (the buffers are only read: the gateway writes them out as they are). */
  definitions?: DefinitionCache;
  columns: readonly ColumnDefinition[];
  styles: readonly (MaskStyle | null)[];
  binary: boolean;
}

export class RowMasker implements ResultMasker {
  readonly styles: readonly (MaskStyle | null)[];
  readonly columnDefs: readonly (Buffer | null)[];
  readonly examinesEveryRow: boolean;
  readonly detectorColumns: readonly boolean[];

  private readonly binary: boolean;
  private readonly hashKey: HashKey;
  private hasherOrNull: KeyedHasher | null = null;
  private readonly inCols: readonly ColumnDefinition[];
  /** The definitions rows are rebuilt against (masked columns retyped). */
  private readonly outCols: readonly RowColumn[];
  private readonly mode: number[];
  /** Input text kind per column, for partial masks. */
  private readonly kinds: CharsetKind[];
  /** Output charset is single-byte: masked text is written as latin1 bytes. */
  private readonly singleOut: boolean[];
  /** Indices of the columns that need looking at in every row. */
  private readonly work: number[];
  private readonly detectors: Detectors;
  private readonly detectorStyle: (MaskStyle | null)[];
  private readonly spans: Int32Array;
  private readonly repl: (Replacement | undefined)[];
  private readonly matches: number[] = [];
  /** Masked columns whose partial form of a digit-shaped value can be written over the value itself. */
  private readonly inPlace: boolean[];
  /** Cells of the current row to mask in place (maskRowFramed). */
  private readonly star: boolean[];

  constructor(o: MaskerOptions) {
    const n = o.columns.length;
    this.binary = o.binary;
    this.hashKey = o.hashKey;
    this.inCols = o.columns;
    this.styles = o.styles;
    this.detectors = new Detectors(o.masks.detectors.keys());
    this.detectorStyle = [];
    for (let id = 0; id <= Det.pem; id++) this.detectorStyle.push(null);
    for (const [name, style] of o.masks.detectors) this.detectorStyle[Det[name]] = style;
    this.detectorStyle[Det.pem] = this.detectorStyle[Det.api_key]!;
    const nullDetector = [...o.masks.detectors.values()].includes('null');
    const cache = o.definitions;
    const encode = (c: ColumnDefinition): Buffer => (cache ? cache.encode(c) : encodeColumnDefinition(c));

    this.mode = new Array<number>(n);
    this.kinds = new Array<CharsetKind>(n);
    this.singleOut = new Array<boolean>(n);
    this.inPlace = new Array<boolean>(n).fill(false);
    this.star = new Array<boolean>(n).fill(false);
    const defs: (Buffer | null)[] = new Array<Buffer | null>(n).fill(null);
    const outCols: RowColumn[] = new Array<RowColumn>(n);
    const detectorColumns: boolean[] = new Array<boolean>(n).fill(false);
    const work: number[] = [];
    for (let i = 0; i < n; i++) {
      const c = o.columns[i]!;
      const mode = columnMode(c, o.styles[i]!, o.masks);
      this.mode[i] = mode;
      this.kinds[i] = textKind(c);
      this.singleOut[i] = false;
      outCols[i] = c;
      if (mode === PLAIN) continue;
      work.push(i);
      if (mode === MASKED) {
        const k = this.kinds[i];
        this.inPlace[i] = o.styles[i] === 'partial' && (k === 'single' || k === 'utf8') && (!o.binary || isLengthPrefixed(c.type));
        const r = retypeColumn(c);
        this.singleOut[i] = charsetKind(r.charset) === 'single';
        outCols[i] = r;
        defs[i] = encode(r);
        continue;
      }
      detectorColumns[i] = true;
      // The `null` style may empty a cell of a NOT NULL column: say so in its definition.
      if (nullDetector && c.flags & ColumnFlag.NOT_NULL) defs[i] = encode({ ...c, flags: c.flags & ~ColumnFlag.NOT_NULL });
    }
    this.columnDefs = defs;
    this.outCols = outCols;
    this.detectorColumns = detectorColumns;
    this.examinesEveryRow = detectorColumns.some((x) => x);
    this.work = work;
    this.spans = new Int32Array(n * 2);
    this.repl = new Array<Replacement | undefined>(n).fill(undefined);
  }

  /** Created on first use: most maskers never hash. */
  private get hasher(): KeyedHasher {
    this.hasherOrNull ??= new KeyedHasher(this.hashKey);
    return this.hasherOrNull;
  }

  /**
   * The row as the client must see it, for the relay. Null: the payload itself, as it is now: nothing changed, or
   * every change was written over its cell (a digit-shaped value under `partial`, `***-**-6789`, keeps its length),
   * and nothing else changed. Otherwise a new packet with 4 bytes of header room in front.
   */
  maskRowFramed(payload: Buffer): Buffer | null {
    const spans = this.binary ? scanBinaryRow(payload, this.inCols, this.spans) : scanTextRow(payload, this.inCols.length, this.spans);
    const changed = this.replaceCells(payload, spans, true);
    if (changed === NONE) return null;
    const work = this.work;
    if (changed === IN_PLACE) {
      for (let w = 0; w < work.length; w++) {
        const i = work[w]!;
        if (this.star[i]) {
          starDigits(payload, spans[2 * i]!, spans[2 * i + 1]!);
          this.star[i] = false;
        }
      }
      return null;
    }
    // Some cell changes length: the cells marked for masking in place get their replacement like the others.
    for (let w = 0; w < work.length; w++) {
      const i = work[w]!;
      if (!this.star[i]) continue;
      this.star[i] = false;
      this.repl[i] = this.maskCell(payload, spans[2 * i]!, spans[2 * i + 1]!, i);
    }
    let out = this.binary ? null : rebuildTextRowFramed(payload, spans, this.repl);
    if (out === null) {
      const row = this.binary ? rebuildBinaryRow(payload, this.outCols, spans, this.repl) : rebuildTextRow(payload, spans, this.repl);
      out = Buffer.allocUnsafe(4 + row.length);
      out.writeUIntLE(row.length, 0, 3);
      row.copy(out, 4);
    }
    this.clearReplacements();
    return out;
  }

  maskRow(payload: Buffer): Buffer | null {
    const spans = this.binary ? scanBinaryRow(payload, this.inCols, this.spans) : scanTextRow(payload, this.inCols.length, this.spans);
    if (this.replaceCells(payload, spans, false) === NONE) return null;
    const out = this.binary ? rebuildBinaryRow(payload, this.outCols, spans, this.repl) : rebuildTextRow(payload, spans, this.repl);
    this.clearReplacements();
    return out;
  }

  /**
   * Fills `repl` with the replacement of every cell that changes. `inPlace`: a cell whose masked form can be written
   * over it is marked in `star` instead. NONE: nothing changes; IN_PLACE: only marked cells; REPLACED: some cell
   * has a replacement.
   */
  private replaceCells(payload: Buffer, spans: Int32Array, inPlace: boolean): number {
    const work = this.work;
    const repl = this.repl;
    let changed = NONE;
    for (let w = 0; w < work.length; w++) {
      const i = work[w]!;
      const s = spans[2 * i]!;
      if (s < 0) continue; // NULL stays NULL in every style
      const e = spans[2 * i + 1]!;
      const m = this.mode[i];
      if (inPlace && m === MASKED && this.inPlace[i] && digitHeavyBytes(payload, s, e)) {
        this.star[i] = true;
        if (changed === NONE) changed = IN_PLACE;
        continue;
      }
      let r: Replacement | undefined;
      if (m === MASKED) r = this.maskCell(payload, s, e, i);
      else if (m === DETECT_TEXT) r = this.detectText(payload, s, e, i);
      else r = this.binary ? this.detectBinaryInt(payload, s, e, i) : this.detectTextInt(payload, s, e);
      if (r !== undefined) {
        repl[i] = r;
        changed = REPLACED;
      }
    }
    return changed;
  }

  private clearReplacements(): void {
    for (let w = 0; w < this.work.length; w++) this.repl[this.work[w]!] = undefined;
  }

  // ---- masked columns ----

  /** The value's bytes as the text protocol shows them (binary rows: numbers and dates rendered to text). */
  private valueBytes(p: Buffer, s: number, e: number, i: number): Buffer {
    const c = this.inCols[i]!;
    if (!this.binary || isLengthPrefixed(c.type)) return p.subarray(s, e);
    const v = binaryValueText(p, s, e, c);
    return typeof v === 'string' ? Buffer.from(v, 'latin1') : Buffer.from(v.base64, 'base64');
  }

  private maskCell(p: Buffer, s: number, e: number, i: number): Replacement {
    const style = this.styles[i]!;
    if (style === 'null') return null;
    if (style === 'redact') return REDACTED_BYTES;
    if (style === 'hash') return Buffer.from(hashToken(this.hasher, this.valueBytes(p, s, e, i)), 'latin1');
    const kind = this.kinds[i]!;
    // Text as sent (every text-row cell, binary strings) is read in place; binary numbers and dates are rendered.
    let src = p;
    let vs = s;
    let ve = e;
    if (this.binary && !isLengthPrefixed(this.inCols[i]!.type)) {
      src = this.valueBytes(p, s, e, i);
      vs = 0;
      ve = src.length;
    }
    if (kind === 'single' || kind === 'utf8') {
      const fast = partialDigitsBytes(src, vs, ve);
      if (fast) return fast;
    }
    const v = src.subarray(vs, ve);
    let text: string;
    if (kind === 'bytes') text = v.toString('hex');
    else if (kind === 'single') text = v.toString('latin1');
    else if (kind === 'utf8') text = v.toString('utf8');
    else return REDACTED_BYTES; // a multi-byte or wide character set we do not decode: no partial form
    const masked = partialAuto(text);
    return Buffer.from(masked, this.singleOut[i] ? 'latin1' : 'utf8');
  }

  // ---- content detectors ----

  private detectText(p: Buffer, s: number, e: number, i: number): Replacement | undefined {
    const m = this.matches;
    if (m.length !== 0) m.length = 0;
    this.detectors.scan(p, s, e, m);
    if (m.length === 0) return undefined;
    const kept = keepFirstOfOverlapping(m);
    for (let k = 0; k < kept.length; k += 3) if (this.detectorStyle[kept[k + 2]!] === 'null') return null;
    const json = this.inCols[i]!.type === Type.JSON || firstNonSpace(p, s, e) === 123 || firstNonSpace(p, s, e) === 91;
    const parts: Buffer[] = [];
    let pos = s;
    for (let k = 0; k < kept.length; k += 3) {
      const ms = kept[k]!;
      const me = kept[k + 1]!;
      const id = kept[k + 2]!;
      if (ms > pos) parts.push(p.subarray(pos, ms));
      parts.push(Buffer.from(this.detectedReplacement(p, ms, me, id, json), 'latin1'));
      pos = me;
    }
    if (pos < e) parts.push(p.subarray(pos, e));
    return Buffer.concat(parts);
  }

  /** The masked form of one detected value (ASCII). */
  private detectedReplacement(p: Buffer, s: number, e: number, id: number, json: boolean): string {
    const style = this.detectorStyle[id]!;
    if (json && allDigits(p, s, e)) {
      // A bare number inside JSON must stay a valid JSON number (no leading zeros, no asterisks).
      return this.numericForm(style, p.subarray(s, e), e - s).toString();
    }
    const text = p.toString('latin1', s, e);
    switch (style) {
      case 'redact':
        return REDACTED;
      case 'hash':
        return hashToken(this.hasher, p.subarray(s, e));
      default:
        switch (id) {
          case Det.credit_card:
          case Det.ssn:
          case Det.phone:
            return partialDigits(text);
          case Det.email:
            return partialEmail(text);
          case Det.pem:
            return partialPem(text);
          default:
            return partialEnds(text);
        }
    }
  }

  /** The same styles as numbers, for cells that must stay numeric: redact 0, partial the last 4 digits, hash a keyed number. */
  private numericForm(style: MaskStyle, digits: ArrayLike<number>, n: number): bigint {
    if (style === 'redact') return 0n;
    if (style === 'hash') return hashNumber(this.hasher, Uint8Array.from({ length: n }, (_, k) => digits[k]!), n - 1);
    let v = 0n;
    for (let k = Math.max(0, n - 4); k < n; k++) v = v * 10n + BigInt(digits[k]! - 48);
    return v;
  }

  /** An integer cell in a text row: ASCII digits (a DECIMAL without decimals too). */
  private detectTextInt(p: Buffer, s: number, e: number): Replacement | undefined {
    const n = e - s;
    if (n < 9 || n > 19 || p[s] === 45) return undefined;
    const d = this.detectors.digits;
    for (let k = 0; k < n; k++) {
      const c = p[s + k]!;
      if (c < 48 || c > 57) return undefined;
      d[k] = c;
    }
    const id = this.detectors.integer(n);
    if (id < 0) return undefined;
    const style = this.detectorStyle[id]!;
    if (style === 'null') return null;
    return Buffer.from(this.numericForm(style, d, n).toString(), 'latin1');
  }

  /** An integer cell in a binary row: 4 or 8 bytes little-endian, or a DECIMAL's ASCII digits. */
  private detectBinaryInt(p: Buffer, s: number, e: number, i: number): Replacement | undefined {
    const c = this.inCols[i]!;
    if (isLengthPrefixed(c.type)) return this.detectTextInt(p, s, e);
    const unsigned = (c.flags & ColumnFlag.UNSIGNED) !== 0;
    const d = this.detectors.digits;
    let n: number;
    if (c.type === Type.LONG) {
      const v = unsigned ? p.readUInt32LE(s) : p.readInt32LE(s);
      if (v < 100_000_000) return undefined;
      n = writeDigits(d, v);
    } else {
      const lo = p.readUInt32LE(s);
      const hi = p.readUInt32LE(s + 4);
      if (!unsigned && hi >= 0x80000000) return undefined; // negative
      const approx = hi * 4294967296 + lo;
      if (approx < 100_000_000) return undefined;
      if (approx <= Number.MAX_SAFE_INTEGER) n = writeDigits(d, approx);
      else {
        // Only a card number can be this long. Its first digit (which the float gets right, or off by one at a
        // power-of-ten boundary) rules most values out before any exact conversion: 1, 8 and 9 start no card.
        const lead = Number(String(approx)[0]);
        if (!this.detectors.enabled('credit_card') || lead === 1 || lead === 8 || lead === 9) return undefined;
        const str = p.readBigUInt64LE(s).toString();
        n = str.length;
        for (let k = 0; k < n; k++) d[k] = str.charCodeAt(k);
      }
    }
    const id = this.detectors.integer(n);
    if (id < 0) return undefined;
    const style = this.detectorStyle[id]!;
    if (style === 'null') return null;
    const v = this.numericForm(style, d, n);
    if (c.type === Type.LONG) {
      const b = Buffer.allocUnsafe(4);
      if (unsigned) b.writeUInt32LE(Number(v));
      else b.writeInt32LE(Number(v));
      return b;
    }
    const b = Buffer.allocUnsafe(8);
    if (unsigned) b.writeBigUInt64LE(v);
    else b.writeBigInt64LE(v);
    return b;
  }
}

/** Writes the decimal digits (ASCII) of a non-negative safe integer; returns their count. */
function writeDigits(d: number[], v: number): number {
  let n = 0;
  for (let x = v; x > 0 || n === 0; x = Math.floor(x / 10)) n++;
  let x = v;
  for (let k = n - 1; k >= 0; k--) {
    d[k] = 48 + (x % 10);
    x = Math.floor(x / 10);
  }
  return n;
}

function allDigits(p: Uint8Array, s: number, e: number): boolean {
  for (let k = s; k < e; k++) if (p[k]! < 48 || p[k]! > 57) return false;
  return e > s;
}

function firstNonSpace(p: Uint8Array, s: number, e: number): number {
  for (let k = s; k < e; k++) {
    const c = p[k]!;
    if (c !== 32 && c !== 9 && c !== 10 && c !== 13) return c;
  }
  return -1;
}

/** Sorts (start, end, id) triples by start and drops any that overlaps an earlier kept one (longer first on ties). */
function keepFirstOfOverlapping(m: number[]): number[] {
  if (m.length === 3) return m;
  const idx: number[] = [];
  for (let k = 0; k < m.length; k += 3) idx.push(k);
  idx.sort((a, b) => m[a]! - m[b]! || m[b + 1]! - m[a + 1]!);
  const out: number[] = [];
  let end = -1;
  for (const k of idx) {
    if (m[k]! < end) continue;
    out.push(m[k]!, m[k + 1]!, m[k + 2]!);
    end = m[k + 1]!;
  }
  return out;
}

/** `partialAuto` of a digit-heavy ASCII value (digitHeavyBytes) straight on the bytes; null for anything else. */
function partialDigitsBytes(v: Buffer, s: number, e: number): Buffer | null {
  if (!digitHeavyBytes(v, s, e)) return null;
  const out = Buffer.allocUnsafe(e - s);
  v.copy(out, 0, s, e);
  starDigits(out, 0, e - s);
  return out;
}
