import assert from 'node:assert/strict';
import { test } from 'node:test';
import { decodeExecute, type DecodedParam } from './commands.ts';
import { encodeStmtClose, encodeStmtExecute, encodeStmtPrepare } from './stmt.ts';

test('COM_STMT_PREPARE and COM_STMT_CLOSE', () => {
  assert.deepEqual([...encodeStmtPrepare('SELECT ?')], [0x16, ...Buffer.from('SELECT ?')]);
  // 0x19, statement id 0x01020304 little-endian
  assert.deepEqual([...encodeStmtClose(0x01020304)], [0x19, 0x04, 0x03, 0x02, 0x01]);
});

test('COM_STMT_EXECUTE: the recorded parameters decode back to the same values', () => {
  const recorded: DecodedParam[] = [
    { type: 'LONGLONG', value: 7 },
    { type: 'LONG', value: -42 },
    { type: 'LONGLONG', value: '18446744073709551615', unsigned: true },
    { type: 'DOUBLE', value: 2.5 },
    { type: 'VAR_STRING', value: 'héllo' },
    { type: 'NULL', value: null },
    { type: 'BLOB', value: Buffer.from([0, 1, 255]).toString('base64'), encoding: 'base64' },
    { type: 'NEWDECIMAL', value: '12.340' },
    { type: 'DATETIME', value: '2026-01-31 12:00:05' },
  ];
  const payload = encodeStmtExecute(9, recorded);
  // header: command, statement id, no cursor, one iteration
  assert.deepEqual([...payload.subarray(0, 10)], [0x17, 9, 0, 0, 0, 0x00, 1, 0, 0, 0]);
  const back = decodeExecute(payload, recorded.length, null, new Map());
  assert.equal(back.stmtId, 9);
  assert.equal(back.newTypes, true);
  assert.deepEqual(back.params.map((p) => p.value), [7, -42, '18446744073709551615', 2.5, 'héllo', null, Buffer.from([0, 1, 255]).toString('base64'), '12.340', '2026-01-31 12:00:05']);
  assert.equal(back.params[2]!.unsigned, true);
  assert.equal(back.params[6]!.encoding, 'base64');
});

test('COM_STMT_EXECUTE without parameters is the 10-byte header', () => {
  assert.equal(encodeStmtExecute(1, []).length, 10);
});
