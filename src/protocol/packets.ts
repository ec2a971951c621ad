import { Reader, Writer } from './buffer.ts';
import { Cap } from './constants.ts';

/** Generic response packets: OK, ERR, EOF. */

export interface OkPacket {
  affectedRows: bigint;
  lastInsertId: bigint;
  status: number;
  warnings: number;
  info: string;
}

export interface ErrPacket {
  code: number;
  sqlState: string;
  message: string;
}

export interface EofPacket {
  warnings: number;
  status: number;
}

/** True for an EOF packet (0xfe, shorter than 9 bytes: a lenenc 0xfe prefix in a row needs 9). */
export function isEof(payload: Buffer): boolean {
  return payload.length > 0 && payload.length < 9 && payload[0] === 0xfe;
}

/** Decodes an OK packet (header 0x00, or 0xfe when it ends a result set under CLIENT_DEPRECATE_EOF). */
export function decodeOk(payload: Buffer, caps: number): OkPacket {
  const r = new Reader(payload);
  r.u8('OK header');
  const affectedRows = r.lenencBig('affected rows');
  const lastInsertId = r.lenencBig('last insert id');
  let status = 0;
  let warnings = 0;
  if (caps & Cap.PROTOCOL_41) {
    status = r.u16('status flags');
    warnings = r.u16('warnings');
  } else if (caps & Cap.TRANSACTIONS) {
    status = r.u16('status flags');
  }
  let info = '';
  if (!r.atEnd()) {
    if (caps & Cap.SESSION_TRACK) info = r.lenencString('info');
    else info = r.rest().toString('utf8');
  }
  return { affectedRows, lastInsertId, status, warnings, info };
}

export function decodeErr(payload: Buffer): ErrPacket {
  const r = new Reader(payload);
  r.u8('ERR header');
  const code = r.u16('error code');
  let sqlState = 'HY000';
  if (r.remaining > 0 && payload[r.pos] === 0x23 /* # */) {
    r.u8();
    sqlState = r.bytes(5, 'sql state').toString('latin1');
  }
  return { code, sqlState, message: r.rest().toString('utf8') };
}

export function decodeEof(payload: Buffer): EofPacket {
  if (payload.length >= 5) {
    return { warnings: payload.readUInt16LE(1), status: payload.readUInt16LE(3) };
  }
  return { warnings: 0, status: 0 };
}

/** Status flags of an end-of-result packet: EOF, or OK with 0xfe header under CLIENT_DEPRECATE_EOF. */
export function terminatorStatus(payload: Buffer, caps: number): { status: number; warnings: number } {
  if (isEof(payload)) return decodeEof(payload);
  const ok = decodeOk(payload, caps);
  return { status: ok.status, warnings: ok.warnings };
}

export function encodeOk(o: Partial<OkPacket> & { status: number }, caps: number, header = 0x00): Buffer {
  const w = new Writer(32);
  w.u8(header).lenenc(o.affectedRows ?? 0n).lenenc(o.lastInsertId ?? 0n);
  w.u16(o.status).u16(o.warnings ?? 0);
  if (o.info) {
    if (caps & Cap.SESSION_TRACK) w.lenencStr(o.info);
    else w.str(o.info);
  }
  return w.finish();
}

export function encodeErr(code: number, sqlState: string, message: string): Buffer {
  const w = new Writer(16 + message.length * 3);
  w.u8(0xff).u16(code).u8(0x23).str(sqlState.padEnd(5, '0').slice(0, 5)).str(message);
  return w.finish();
}

export function encodeEof(status: number, warnings = 0): Buffer {
  return Buffer.from([0xfe, warnings & 0xff, (warnings >> 8) & 0xff, status & 0xff, (status >> 8) & 0xff]);
}
