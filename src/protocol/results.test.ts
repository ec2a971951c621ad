import { test } from 'node:test';
import assert from 'node:assert/strict';
import { ResponseTracker, type ResponseShape, type PacketRole } from './results.ts';
import { Cap, GATEWAY_CAPABILITIES } from './constants.ts';
import { deprecateEof, legacy } from '../../test/fixtures/packets.ts';
import { ProtocolError } from './errors.ts';

const MODERN = GATEWAY_CAPABILITIES;
const LEGACY = (GATEWAY_CAPABILITIES & ~Cap.DEPRECATE_EOF) >>> 0;

function roles(hex: string[], shape: ResponseShape, caps: number): PacketRole[] {
  const t = new ResponseTracker();
  t.begin(shape, caps);
  const out: PacketRole[] = [];
  for (const h of hex) {
    assert.equal(t.done, false, 'response ended early');
    const p = Buffer.from(h, 'hex').subarray(4);
    out.push(t.next(p.length ? p[0]! : -1, p.length, () => p));
  }
  assert.equal(t.done, true, 'response did not end');
  return out;
}

test('a text result set, with and without EOF packets (captured from MariaDB)', () => {
  assert.deepEqual(roles(deprecateEof.select_text!, 'query', MODERN), ['column_count', 'column_def', 'column_def', 'column_def', 'column_def', 'row', 'rows_end']);
  assert.deepEqual(roles(legacy.select_text!, 'query', LEGACY), ['column_count', 'column_def', 'column_def', 'column_def', 'column_def', 'metadata_eof', 'row', 'rows_end']);
});

test('several result sets follow each other while MORE_RESULTS_EXISTS is set', () => {
  assert.deepEqual(roles(deprecateEof.multi!, 'query', MODERN), ['column_count', 'column_def', 'row', 'rows_end', 'column_count', 'column_def', 'row', 'rows_end']);
});

test('OK and ERR end a response', () => {
  assert.deepEqual(roles(deprecateEof.ok!, 'query', MODERN), ['ok']);
  assert.deepEqual(roles(deprecateEof.error!, 'query', MODERN), ['err']);
});

test('PREPARE: OK, parameter definitions, column definitions', () => {
  const r = roles(deprecateEof.prepare!, 'prepare', MODERN);
  assert.deepEqual(r, ['prepare_ok', 'param_def', 'column_def', 'column_def', 'column_def', 'column_def', 'column_def', 'column_def']);
  const l = roles(legacy.prepare!, 'prepare', LEGACY);
  assert.deepEqual(l, ['prepare_ok', 'param_def', 'metadata_eof', 'column_def', 'column_def', 'column_def', 'column_def', 'column_def', 'column_def', 'metadata_eof']);
});

test('EXECUTE: a binary result set', () => {
  assert.deepEqual(roles(deprecateEof.execute!, 'execute', MODERN), ['column_count', 'column_def', 'column_def', 'column_def', 'column_def', 'column_def', 'column_def', 'row', 'rows_end']);
});

test('a row whose first cell starts with 0xfe is a row, not the end (decode by state)', () => {
  const t = new ResponseTracker();
  t.begin('query', MODERN);
  const cc = Buffer.from([1]);
  t.next(1, 1, () => cc);
  const def = Buffer.from(deprecateEof.select_text![1]!, 'hex').subarray(4);
  assert.equal(t.next(def[0]!, def.length, () => def), 'column_def');
  // A row packet of 16 MiB - 1 starting with 0xfe (a lenenc 8-byte length) and its continuation starting with 0xff.
  assert.equal(t.next(0xfe, 0xffffff, () => Buffer.alloc(0)), 'row');
  assert.equal(t.next(0xff, 10, () => Buffer.alloc(0)), 'continuation');
  const end = Buffer.from('fe00000200000000', 'hex');
  assert.equal(t.next(0xfe, end.length, () => end), 'rows_end');
  assert.equal(t.done, true);
});

test('a packet after the end of a response is a protocol error', () => {
  const t = new ResponseTracker();
  t.begin('simple', MODERN);
  const ok = Buffer.from('00000002000000', 'hex');
  t.next(0, ok.length, () => ok);
  assert.throws(() => t.next(0, ok.length, () => ok), ProtocolError);
});

test('LOCAL INFILE request: the client sends its file, then the server answers', () => {
  const t = new ResponseTracker();
  t.begin('query', MODERN);
  const req = Buffer.from('fb2f746d702f78', 'hex');
  assert.equal(t.next(0xfb, req.length, () => req), 'infile_request');
  assert.equal(t.awaitingInfile, true);
  t.infileSent();
  const ok = Buffer.from('00010002000000', 'hex');
  assert.equal(t.next(0, ok.length, () => ok), 'ok');
  assert.equal(t.done, true);
  assert.equal(t.facts.affectedRows, 1n);
});
