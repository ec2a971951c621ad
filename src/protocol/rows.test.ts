import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { decodeRowCells, rebuildBinaryRow, rebuildTextRow, scanBinaryRow, scanTextRow, type RowColumn } from './rows.ts';
import { decodeColumnDefinition } from './columns.ts';
import { Writer } from './buffer.ts';
import { Type } from './constants.ts';
import { deprecateEof } from '../../test/fixtures/packets.ts';

const payloadOf = (hex: string) => Buffer.from(hex, 'hex').subarray(4);

test('a captured text row decodes to its text form, NULL included', () => {
  const pk = deprecateEof.select_text!;
  const cols = pk.slice(1, 5).map((h) => decodeColumnDefinition(payloadOf(h)));
  assert.deepEqual(cols.map((c) => c.name), ['a', 'b', 'c', 'd']);
  assert.deepEqual(decodeRowCells('text', payloadOf(pk[5]!), cols), ['1', null, 'héllo', '2.50']);
});

test('a captured binary row decodes: string, DATETIME(6), negative int, double, bytes, NULL', () => {
  const pk = deprecateEof.execute!;
  const cols = pk.slice(1, 7).map((h) => decodeColumnDefinition(payloadOf(h)));
  const cells = decodeRowCells('binary', payloadOf(pk[7]!), cols);
  assert.equal(cells[0], 'hi');
  assert.equal(cells[1], '2024-01-02 03:04:05.123456');
  assert.equal(cells[2], '-5');
  assert.equal(cells[3], '1.5');
  assert.deepEqual(cells[4], { base64: Buffer.from([0, 255]).toString('base64') });
  assert.equal(cells[5], null);
});

test('rebuilding a text row with replaced cells re-encodes lengths (1-, 3- and 4-byte lengths)', () => {
  const row = new Writer().lenencStr('abc').u8(0xfb).lenencStr('z').finish();
  const spans = scanTextRow(row, 3);
  const big = Buffer.alloc(70_000, 0x61);
  const out = rebuildTextRow(row, spans, [Buffer.alloc(300, 0x62), Buffer.from('now set'), big]);
  const cols: RowColumn[] = [0, 1, 2].map(() => ({ type: Type.VAR_STRING, flags: 0, charset: 45, decimals: 0 }));
  const cells = decodeRowCells('text', out, cols);
  assert.equal(cells[0], 'b'.repeat(300));
  assert.equal(cells[1], 'now set');
  assert.equal((cells[2] as string).length, 70_000);
  assert.deepEqual(decodeRowCells('text', rebuildTextRow(row, spans, [undefined, undefined, null]), cols), ['abc', null, null]);
});

test('rebuilding a binary row can set and clear NULL bits and re-prefix strings', () => {
  const cols: RowColumn[] = [
    { type: Type.LONG, flags: 0, charset: 63, decimals: 0 },
    { type: Type.VAR_STRING, flags: 0, charset: 45, decimals: 0 },
    { type: Type.VAR_STRING, flags: 0, charset: 45, decimals: 0 },
  ];
  // 0x00, bitmap (column 3 NULL: bit 4), LONG 7, 'secret'
  const row = new Writer().u8(0).u8(0x10).u32(7).lenencStr('secret').finish();
  const spans = scanBinaryRow(row, cols);
  assert.deepEqual(decodeRowCells('binary', row, cols), ['7', 'secret', null]);
  const masked = rebuildBinaryRow(row, cols, spans, [null, Buffer.from('****'), Buffer.from('filled')]);
  assert.deepEqual(decodeRowCells('binary', masked, cols), [null, '****', 'filled']);
});

const textCell = fc.oneof(fc.constant(null), fc.uint8Array({ maxLength: 400 }).map((a) => Buffer.from(a)));

test('text rows: scan then rebuild without changes gives the same bytes (property)', () => {
  fc.assert(fc.property(fc.array(textCell, { minLength: 1, maxLength: 12 }), (cells) => {
    const w = new Writer();
    for (const c of cells) c === null ? w.u8(0xfb) : w.lenencBytes(c);
    const row = Buffer.from(w.finish());
    const spans = scanTextRow(row, cells.length);
    assert.deepEqual(rebuildTextRow(row, spans, []), row);
  }));
});
