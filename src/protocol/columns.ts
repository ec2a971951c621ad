import { Reader, Writer } from './buffer.ts';

/** Column definition (Protocol::ColumnDefinition41). */
export interface ColumnDefinition {
  catalog: string;
  /** Origin schema, table and column (empty when computed); `table`/`name` are what the client sees (aliases). */
  schema: string;
  table: string;
  orgTable: string;
  name: string;
  orgName: string;
  charset: number;
  length: number;
  type: number;
  flags: number;
  decimals: number;
}

export function decodeColumnDefinition(payload: Buffer): ColumnDefinition {
  const r = new Reader(payload);
  const catalog = r.lenencString('catalog');
  const schema = r.lenencString('schema');
  const table = r.lenencString('table');
  const orgTable = r.lenencString('org_table');
  const name = r.lenencString('name');
  const orgName = r.lenencString('org_name');
  r.lenenc('fixed-length fields length');
  const charset = r.u16('character set');
  const length = r.u32('column length');
  const type = r.u8('column type');
  const flags = r.u16('flags');
  const decimals = r.u8('decimals');
  return { catalog, schema, table, orgTable, name, orgName, charset, length, type, flags, decimals };
}

export function encodeColumnDefinition(c: ColumnDefinition): Buffer {
  return new Writer(64)
    .lenencStr(c.catalog)
    .lenencStr(c.schema)
    .lenencStr(c.table)
    .lenencStr(c.orgTable)
    .lenencStr(c.name)
    .lenencStr(c.orgName)
    .lenenc(0x0c)
    .u16(c.charset)
    .u32(c.length)
    .u8(c.type)
    .u16(c.flags)
    .u8(c.decimals)
    .zeros(2)
    .finish();
}

/**
 * The column definitions of recent result sets, by their bytes: a statement run again (a prepared statement
 * executed, a text of the same shape) gets the very array it got before, decoded once, instead of a fresh decode.
 * What is built from a set (its masker, the audit's column list) can then be kept by that array's identity.
 * Payloads are compared in full, so any change of any byte is a different set. A few sets per session; the least
 * recently used goes first.
 */
export class ColumnDefCache {
  private readonly max: number;
  private entries: { payloads: Buffer[]; defs: readonly ColumnDefinition[] }[] = [];

  constructor(max = 8) {
    this.max = max;
  }

  /**
   * The definitions these column-definition packets encode; each payload starts `offset` bytes into its buffer (4 for
   * packets with their header). Kept copies of the payloads: the buffers may be views that change.
   */
  defs(packets: readonly Buffer[], offset = 0): readonly ColumnDefinition[] {
    const es = this.entries;
    for (let i = es.length - 1; i >= 0; i--) {
      const e = es[i]!;
      if (samePayloads(e.payloads, packets, offset)) {
        if (i !== es.length - 1) {
          es.splice(i, 1);
          es.push(e);
        }
        return e.defs;
      }
    }
    const payloads = packets.map((p) => Buffer.from(p.subarray(offset)));
    const defs = Object.freeze(payloads.map((p) => Object.freeze(decodeColumnDefinition(p))));
    if (es.length >= this.max) es.shift();
    es.push({ payloads, defs });
    return defs;
  }
}

function samePayloads(a: readonly Buffer[], b: readonly Buffer[], offset: number): boolean {
  if (a.length !== b.length) return false;
  for (let i = 0; i < a.length; i++) {
    const x = a[i]!;
    const y = b[i]!;
    const n = x.length;
    if (y.length - offset !== n) return false;
    if (n > 256) {
      if (x.compare(y, offset) !== 0) return false;
      continue;
    }
    // Definitions are short: a loop costs less than a call into the runtime.
    for (let j = 0; j < n; j++) if (x[j] !== y[offset + j]) return false;
  }
  return true;
}
