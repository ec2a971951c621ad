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
