import { Writer } from './buffer.ts';
import type { DecodedParam } from './commands.ts';
import { Com, Type } from './constants.ts';

/**
 * Prepared-statement commands as a client sends them: for re-running a recorded session's prepared statements with
 * their recorded parameters (`agentgate sessions replay --execute`). The parameters come back in the form
 * `decodeExecute` recorded them in, and are bound in a form the server converts to the same value: integers as
 * LONGLONG, floating point as DOUBLE, decimals as NEWDECIMAL text, dates and times and text as VAR_STRING, bytes
 * as BLOB.
 */

export function encodeStmtPrepare(sql: string): Buffer {
  return new Writer(Buffer.byteLength(sql) + 8).u8(Com.STMT_PREPARE).str(sql).finish();
}

export function encodeStmtClose(stmtId: number): Buffer {
  return new Writer(5).u8(Com.STMT_CLOSE).u32(stmtId).finish();
}

const INTEGER_TYPES = new Set(['TINY', 'SHORT', 'LONG', 'INT24', 'LONGLONG', 'YEAR']);
const FLOAT_TYPES = new Set(['FLOAT', 'DOUBLE']);
const DECIMAL_TYPES = new Set(['DECIMAL', 'NEWDECIMAL']);

/** COM_STMT_EXECUTE without a cursor, binding new parameter types. */
export function encodeStmtExecute(stmtId: number, params: readonly DecodedParam[]): Buffer {
  const n = params.length;
  const w = new Writer(64).u8(Com.STMT_EXECUTE).u32(stmtId).u8(0).u32(1);
  if (n === 0) return w.finish();
  const bitmap = Buffer.alloc((n + 7) >> 3);
  const types = new Writer(n * 2);
  const values = new Writer(64);
  params.forEach((p, i) => {
    if (p.value === null) {
      bitmap[i >> 3] = bitmap[i >> 3]! | (1 << (i & 7));
      types.u8(Type.NULL).u8(0);
      return;
    }
    if (p.encoding === 'base64') {
      types.u8(Type.BLOB).u8(0);
      values.lenencBytes(Buffer.from(String(p.value), 'base64'));
      return;
    }
    if (typeof p.value === 'boolean') {
      types.u8(Type.LONGLONG).u8(0);
      values.u64(p.value ? 1n : 0n);
      return;
    }
    if (INTEGER_TYPES.has(p.type)) {
      const v = BigInt(p.value);
      types.u8(Type.LONGLONG).u8(p.unsigned ? 0x80 : 0);
      values.u64(v < 0n ? (1n << 64n) + v : v);
      return;
    }
    if (FLOAT_TYPES.has(p.type) && typeof p.value === 'number') {
      types.u8(Type.DOUBLE).u8(0);
      const b = Buffer.alloc(8);
      b.writeDoubleLE(p.value);
      values.bytes(b);
      return;
    }
    types.u8(DECIMAL_TYPES.has(p.type) ? Type.NEWDECIMAL : Type.VAR_STRING).u8(0);
    values.lenencStr(String(p.value));
  });
  return w.bytes(bitmap).u8(1).bytes(types.finish()).bytes(values.finish()).finish();
}
