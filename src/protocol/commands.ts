import { Reader, Writer } from './buffer.ts';
import { Cap, Com, Type, TYPE_NAMES } from './constants.ts';
import { ProtocolError } from './errors.ts';

/**
 * Client commands. `decodeCommand` gives each command its own shape (one dispatch point); everything the gateway does
 * not decode further is `other`, and the gateway decides what to do with it.
 */
export type Command =
  | { kind: 'quit' }
  | { kind: 'query'; sql: string }
  | { kind: 'init_db'; db: string }
  | { kind: 'field_list'; table: string; wildcard: string }
  | { kind: 'statistics' }
  | { kind: 'ping' }
  | { kind: 'process_kill'; id: number }
  | { kind: 'change_user'; payload: Buffer }
  | { kind: 'stmt_prepare'; sql: string }
  | { kind: 'stmt_execute'; stmtId: number; payload: Buffer }
  | { kind: 'stmt_bulk_execute'; stmtId: number; payload: Buffer }
  | { kind: 'stmt_send_long_data'; stmtId: number; param: number; data: Buffer }
  | { kind: 'stmt_close'; stmtId: number }
  | { kind: 'stmt_reset'; stmtId: number }
  | { kind: 'stmt_fetch'; stmtId: number; rows: number }
  | { kind: 'set_option'; option: number }
  | { kind: 'reset_connection' }
  | { kind: 'other'; code: number };

export function decodeCommand(payload: Buffer): Command {
  if (payload.length === 0) throw new ProtocolError('empty command packet');
  const r = new Reader(payload, 1);
  const code = payload[0]!;
  switch (code) {
    case Com.QUIT:
      return { kind: 'quit' };
    case Com.QUERY:
      return { kind: 'query', sql: r.rest().toString('utf8') };
    case Com.INIT_DB:
      return { kind: 'init_db', db: r.rest().toString('utf8') };
    case Com.FIELD_LIST: {
      const table = r.nulString('table name', true);
      return { kind: 'field_list', table, wildcard: r.rest().toString('utf8') };
    }
    case Com.STATISTICS:
      return { kind: 'statistics' };
    case Com.PING:
      return { kind: 'ping' };
    case Com.PROCESS_KILL:
      return { kind: 'process_kill', id: r.u32('connection id') };
    case Com.CHANGE_USER:
      return { kind: 'change_user', payload };
    case Com.STMT_PREPARE:
      return { kind: 'stmt_prepare', sql: r.rest().toString('utf8') };
    case Com.STMT_EXECUTE:
      return { kind: 'stmt_execute', stmtId: r.u32('statement id'), payload };
    case Com.STMT_BULK_EXECUTE:
      return { kind: 'stmt_bulk_execute', stmtId: r.u32('statement id'), payload };
    case Com.STMT_SEND_LONG_DATA: {
      const stmtId = r.u32('statement id');
      const param = r.u16('parameter id');
      return { kind: 'stmt_send_long_data', stmtId, param, data: r.rest() };
    }
    case Com.STMT_CLOSE:
      return { kind: 'stmt_close', stmtId: r.u32('statement id') };
    case Com.STMT_RESET:
      return { kind: 'stmt_reset', stmtId: r.u32('statement id') };
    case Com.STMT_FETCH: {
      const stmtId = r.u32('statement id');
      return { kind: 'stmt_fetch', stmtId, rows: r.u32('row count') };
    }
    case Com.SET_OPTION:
      return { kind: 'set_option', option: r.u16('option') };
    case Com.RESET_CONNECTION:
      return { kind: 'reset_connection' };
    default:
      return { kind: 'other', code };
  }
}

/** Names for commands the gateway refuses, for messages and the audit record. */
export function commandName(code: number): string {
  for (const [k, v] of Object.entries(Com)) if (v === code) return `COM_${k}`;
  return `command 0x${code.toString(16).padStart(2, '0')}`;
}

export function encodeQuery(sql: string): Buffer {
  return new Writer(sql.length + 8).u8(Com.QUERY).str(sql).finish();
}

export function encodeInitDb(db: string): Buffer {
  return new Writer(db.length + 8).u8(Com.INIT_DB).str(db).finish();
}

export interface ChangeUser {
  user: string;
  authResponse: Buffer;
  database: string;
  charset: number | null;
  authPlugin: string | null;
  attributes: Map<string, string>;
}

export function decodeChangeUser(payload: Buffer, caps: number): ChangeUser {
  const r = new Reader(payload, 1);
  const user = r.nulString('user name');
  const authResponse = caps & Cap.SECURE_CONNECTION ? r.bytes(r.u8('auth response length'), 'auth response') : r.nulBytes('auth response');
  const database = r.nulString('database', true);
  let charset: number | null = null;
  let authPlugin: string | null = null;
  const attributes = new Map<string, string>();
  if (r.remaining >= 2) {
    charset = r.u16('charset');
    if (caps & Cap.PLUGIN_AUTH && !r.atEnd()) authPlugin = r.nulString('auth plugin', true);
    if (caps & Cap.CONNECT_ATTRS && !r.atEnd()) {
      const a = new Reader(r.bytes(r.lenenc('attributes length'), 'attributes'));
      while (!a.atEnd()) attributes.set(a.lenencString('attribute name'), a.lenencString('attribute value'));
    }
  }
  return { user, authResponse, database, charset, authPlugin, attributes };
}

export function encodeChangeUser(c: ChangeUser, caps: number): Buffer {
  const w = new Writer(128).u8(Com.CHANGE_USER).nulStr(c.user);
  if (caps & Cap.SECURE_CONNECTION) w.u8(c.authResponse.length).bytes(c.authResponse);
  else w.bytes(c.authResponse).u8(0);
  w.nulStr(c.database);
  w.u16(c.charset ?? 45);
  if (caps & Cap.PLUGIN_AUTH) w.nulStr(c.authPlugin ?? '');
  if (caps & Cap.CONNECT_ATTRS) {
    const a = new Writer(128);
    for (const [k, v] of c.attributes) a.lenencStr(k).lenencStr(v);
    w.lenencBytes(a.finish());
  }
  return w.finish();
}

/** COM_STMT_PREPARE_OK. */
export interface PrepareOk {
  stmtId: number;
  columns: number;
  params: number;
  warnings: number;
}

export function decodePrepareOk(payload: Buffer): PrepareOk {
  const r = new Reader(payload, 1);
  const stmtId = r.u32('statement id');
  const columns = r.u16('column count');
  const params = r.u16('parameter count');
  let warnings = 0;
  if (r.remaining >= 3) {
    r.skip(1);
    warnings = r.u16('warnings');
  }
  return { stmtId, columns, params, warnings };
}

/** A parameter type as bound by COM_STMT_EXECUTE: type byte and the unsigned flag. */
export interface ParamType {
  type: number;
  unsigned: boolean;
}

/** A decoded parameter, JSON-safe: integers beyond 2^53 and decimals as strings, bytes as base64. */
export interface DecodedParam {
  type: string;
  value: string | number | boolean | null;
  unsigned?: boolean;
  encoding?: 'base64';
}

export interface ExecuteRequest {
  stmtId: number;
  /** Cursor flags (CursorType). */
  flags: number;
  /** Types in effect (newly bound, or remembered from the previous execute). */
  types: ParamType[];
  /** True when this execute bound new types (remember them for later executes of the statement). */
  newTypes: boolean;
  params: DecodedParam[];
}

/**
 * Decodes COM_STMT_EXECUTE. Parameter types arrive only when new-params-bound is 1; otherwise the types of the
 * statement's previous execute apply (`previousTypes`). Parameters whose data came by COM_STMT_SEND_LONG_DATA are
 * absent from the values and taken from `longData`.
 */
export function decodeExecute(
  payload: Buffer,
  paramCount: number,
  previousTypes: ParamType[] | null,
  longData: ReadonlyMap<number, Buffer>,
): ExecuteRequest {
  const r = new Reader(payload, 1);
  const stmtId = r.u32('statement id');
  const flags = r.u8('cursor flags');
  r.u32('iteration count');
  if (paramCount === 0) return { stmtId, flags, types: [], newTypes: false, params: [] };
  const nullBitmap = r.bytes((paramCount + 7) >> 3, 'NULL bitmap');
  const bound = r.u8('new params bound flag');
  const types = readParamTypes(r, paramCount, bound === 1, previousTypes, 'COM_STMT_EXECUTE');
  const params: DecodedParam[] = [];
  for (let i = 0; i < paramCount; i++) {
    const t = types[i]!;
    const name = TYPE_NAMES[t.type] ?? `TYPE_${t.type}`;
    if (nullBitmap[i >> 3]! & (1 << (i & 7)) || t.type === Type.NULL) {
      params.push({ type: name, value: null });
      continue;
    }
    const ld = longData.get(i);
    if (ld) {
      params.push(bytesParam(name, t.type, ld));
      continue;
    }
    params.push(readParam(r, t, name));
  }
  return { stmtId, flags, types, newTypes: bound === 1, params };
}

function bytesParam(name: string, type: number, b: Buffer): DecodedParam {
  const isBlob = type === Type.BLOB || type === Type.TINY_BLOB || type === Type.MEDIUM_BLOB || type === Type.LONG_BLOB || type === Type.GEOMETRY || type === Type.BIT;
  if (!isBlob) {
    const s = b.toString('utf8');
    // Valid UTF-8 round-trips; anything else is kept as bytes.
    if (Buffer.byteLength(s) === b.length && !s.includes('\uFFFD')) return { type: name, value: s };
  }
  return { type: name, value: b.toString('base64'), encoding: 'base64' };
}

function pad(n: number, w: number): string {
  return String(n).padStart(w, '0');
}

function readParam(r: Reader, t: ParamType, name: string): DecodedParam {
  const u = t.unsigned;
  const num = (v: number | bigint): DecodedParam => {
    const out: DecodedParam = {
      type: name,
      value: typeof v === 'bigint' ? (v >= -9007199254740991n && v <= 9007199254740991n ? Number(v) : v.toString()) : v,
    };
    if (u) out.unsigned = true;
    return out;
  };
  switch (t.type) {
    case Type.TINY: {
      const v = r.u8('TINY parameter');
      return num(u ? v : (v << 24) >> 24);
    }
    case Type.SHORT:
    case Type.YEAR: {
      const v = r.u16('SHORT parameter');
      return num(u ? v : (v << 16) >> 16);
    }
    case Type.LONG:
    case Type.INT24: {
      const b = r.bytes(4, 'LONG parameter');
      return num(u ? b.readUInt32LE(0) : b.readInt32LE(0));
    }
    case Type.LONGLONG: {
      const b = r.bytes(8, 'LONGLONG parameter');
      return num(u ? b.readBigUInt64LE(0) : b.readBigInt64LE(0));
    }
    case Type.FLOAT:
      return { type: name, value: r.bytes(4, 'FLOAT parameter').readFloatLE(0) };
    case Type.DOUBLE:
      return { type: name, value: r.bytes(8, 'DOUBLE parameter').readDoubleLE(0) };
    case Type.DATE:
    case Type.DATETIME:
    case Type.TIMESTAMP:
    case Type.NEWDATE: {
      const len = r.u8('date length');
      const b = r.bytes(len, 'date parameter');
      const y = len >= 4 ? b.readUInt16LE(0) : 0;
      const date = `${pad(y, 4)}-${pad(len >= 4 ? b[2]! : 0, 2)}-${pad(len >= 4 ? b[3]! : 0, 2)}`;
      if (t.type === Type.DATE || t.type === Type.NEWDATE) return { type: name, value: date };
      let s = `${date} ${pad(len >= 7 ? b[4]! : 0, 2)}:${pad(len >= 7 ? b[5]! : 0, 2)}:${pad(len >= 7 ? b[6]! : 0, 2)}`;
      if (len >= 11) s += '.' + pad(b.readUInt32LE(7), 6);
      return { type: name, value: s };
    }
    case Type.TIME: {
      const len = r.u8('time length');
      const b = r.bytes(len, 'time parameter');
      if (len === 0) return { type: name, value: '00:00:00' };
      const h = b.readUInt32LE(1) * 24 + b[5]!;
      let s = `${b[0] === 1 ? '-' : ''}${pad(h, 2)}:${pad(b[6]!, 2)}:${pad(b[7]!, 2)}`;
      if (len >= 12) s += '.' + pad(b.readUInt32LE(8), 6);
      return { type: name, value: s };
    }
    default: {
      const b = r.lenencBytes(`${name} parameter`);
      if (t.type === Type.DECIMAL || t.type === Type.NEWDECIMAL) return { type: name, value: b.toString('latin1') };
      return bytesParam(name, t.type, b);
    }
  }
}

/** COM_STMT_BULK_EXECUTE flags (MariaDB). */
export const BulkFlag = {
  SEND_UNIT_RESULTS: 64,
  SEND_TYPES_TO_SERVER: 128,
} as const;

export interface BulkExecuteRequest {
  stmtId: number;
  flags: number;
  types: ParamType[];
  /** One list of parameters per row; DEFAULT and IGNORE indicators appear as their names with a null value. */
  rows: DecodedParam[][];
}

/**
 * The parameter types of an execute: sent with this command (type byte, flags byte with the unsigned bit, per
 * parameter), or the ones bound by an earlier execute of the statement.
 */
function readParamTypes(r: Reader, paramCount: number, sent: boolean, previousTypes: ParamType[] | null, command: string): ParamType[] {
  if (sent) {
    const types: ParamType[] = [];
    for (let i = 0; i < paramCount; i++) {
      const t = r.u8('parameter type');
      const f = r.u8('parameter flags');
      types.push({ type: t, unsigned: (f & 0x80) !== 0 });
    }
    return types;
  }
  if (previousTypes && previousTypes.length === paramCount) return previousTypes;
  throw new ProtocolError(`${command} without parameter types, and none were bound before`);
}

/**
 * Decodes MariaDB's COM_STMT_BULK_EXECUTE: statement id, flags, the parameter types (when SEND_TYPES_TO_SERVER),
 * then rows of parameters, each preceded by an indicator byte (0 value, 1 NULL, 2 DEFAULT, 3 IGNORE).
 */
export function decodeBulkExecute(payload: Buffer, paramCount: number, previousTypes: ParamType[] | null): BulkExecuteRequest {
  const r = new Reader(payload, 1);
  const stmtId = r.u32('statement id');
  const flags = r.u16('bulk flags');
  const types = readParamTypes(r, paramCount, (flags & BulkFlag.SEND_TYPES_TO_SERVER) !== 0, previousTypes, 'COM_STMT_BULK_EXECUTE');
  const rows: DecodedParam[][] = [];
  if (paramCount === 0) return { stmtId, flags, types, rows };
  while (!r.atEnd()) {
    const row: DecodedParam[] = [];
    for (let i = 0; i < paramCount; i++) {
      const t = types[i]!;
      const name = TYPE_NAMES[t.type] ?? `TYPE_${t.type}`;
      const indicator = r.u8('parameter indicator');
      if (indicator === 0) row.push(readParam(r, t, name));
      else if (indicator === 1) row.push({ type: name, value: null });
      else if (indicator === 2) row.push({ type: 'DEFAULT', value: null });
      else if (indicator === 3) row.push({ type: 'IGNORE', value: null });
      else throw new ProtocolError(`invalid bulk parameter indicator ${indicator}`);
    }
    rows.push(row);
  }
  return { stmtId, flags, types, rows };
}
