import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { STATEMENT_KINDS } from '../sql/types.ts';
import { canonicalJson, sha256Hex } from './chain.ts';
import {
  colsetId, columnSetRefs, decodeEvent, encodeEvent, isoTime, KIND_BITS, kindsFromMask, kindsMask, ROWS_BINARY, ROWS_BINARY_FLOAT,
  ROWS_TEXT, sessionHeaderBody, sessionStartFromHeader,
} from './record.ts';
import type { EncodedEvent } from './record.ts';
import type { ColumnInfo, NewEvent, ResultRecord } from './types.ts';

/** What a store does on read: find each column set the body refers to. */
const sets = (enc: EncodedEvent) => (d: string) => {
  const c = enc.columnSets.find((x) => x.digest === d);
  return c ? (JSON.parse(c.text) as ColumnInfo[]) : undefined;
};

const col = (name: string, over: Partial<ColumnInfo> = {}): ColumnInfo => ({
  name, db: 'app', table: 'users', column: name, type: 253, flags: 0, charset: 45, decimals: 0, masked: null, ...over,
});

describe('kinds', () => {
  test('every statement kind has a bit, and a mask round-trips', () => {
    for (const k of STATEMENT_KINDS) assert.ok(KIND_BITS.includes(k), `kind ${k} has no bit in KIND_BITS`);
    assert.ok(KIND_BITS.length <= 31);
    assert.deepEqual(kindsFromMask(kindsMask(['drop', 'select', 'drop'])), ['select', 'drop']);
  });
});

describe('encodeEvent / decodeEvent', () => {
  const rows = [Buffer.from('\x01a\x01b'), Buffer.from('\x01c\xfb', 'latin1')];
  const e: NewEvent = {
    sessionId: 's', seq: 2, at: '2025-01-01T00:00:00.000Z', type: 'query', sql: 'SELECT a, b FROM t', kinds: ['select'],
    decision: { action: 'allow', policy: 'p', rule: null },
    result: { columns: [col('a'), col('b', { derivedFrom: ['app.secret.b'] })], rows: { format: 'text', payloads: rows }, rowCount: 5 },
  };

  test('keeps rows out of the body as a descriptor, and gives them back', () => {
    const enc = encodeEvent(e, 1000);
    const body = JSON.parse(enc.body);
    assert.deepEqual(body.result.rows, { format: 'text', count: 2, bytes: 4 + 4 + 4 + 3 });
    assert.equal(body.sessionId, undefined);
    assert.equal(body.seq, undefined);
    assert.equal(enc.body, canonicalJson(body));
    assert.equal(enc.fmt, ROWS_TEXT);
    const back = decodeEvent('s', 2, enc.body, enc.rows, sets(enc));
    assert.deepEqual(back.result!.rows!.payloads, rows);
    assert.equal(back.result!.rowCount, 5);
    assert.equal(back.sql, e.sql);
    assert.deepEqual(back.result!.columns, e.result!.columns);
  });

  test('writes every field in canonical order, leaves out what is unset or not stored, keeps fields it does not know', () => {
    const r1 = { rowCount: 0, affectedRows: 3, lastInsertId: '7', warnings: 1, truncated: 'maxRows', masker: () => 0 };
    const r2 = { error: { code: 1146, sqlState: '42S02', message: "Table 't' doesn't exist" } };
    const full = {
      type: 'query', seq: 4, sessionId: 's', zeta: [1], stmtId: undefined, sql: 'UPDATE t SET a = 1; SELECT 1', params: [null, 'x'],
      kinds: ['update', 'select'], fingerprint: 'f', durationMs: 1.5, detail: { z: 1, a: 2 }, mid: 'kept',
      decision: { action: 'approve', policy: 'p', reason: 'why', rule: 'r' }, db: 'app', at: '2025-01-01T00:00:00.000Z',
      approval: { id: 'a1', status: 'approved', by: ['dba'] }, result: r1, results: [r1, r2],
    } as unknown as NewEvent;
    assert.equal(encodeEvent(full, 1000).body,
      '{"approval":{"by":["dba"],"id":"a1","status":"approved"},"at":"2025-01-01T00:00:00.000Z","db":"app",' +
      '"decision":{"action":"approve","policy":"p","reason":"why","rule":"r"},"detail":{"a":2,"z":1},"durationMs":1.5,' +
      '"fingerprint":"f","kinds":["update","select"],"mid":"kept","params":[null,"x"],"resultIsFirst":true,' +
      '"results":[{"affectedRows":3,"lastInsertId":"7","rowCount":0,"truncated":"maxRows","warnings":1},' +
      '{"error":{"code":1146,"message":"Table \'t\' doesn\'t exist","sqlState":"42S02"}}],' +
      '"sql":"UPDATE t SET a = 1; SELECT 1","type":"query","zeta":[1]}');
    // The first result alone: stored as `result`.
    const one = encodeEvent({ ...full, results: undefined }, 1000);
    assert.match(one.body, /"params":\[null,"x"\],"result":\{"affectedRows":3,/);
    assert.doesNotMatch(one.body, /resultIsFirst|"results"|masker/);
  });

  test('keeps column definitions out of the body, referred to by the digest of their canonical JSON', () => {
    const enc = encodeEvent(e, 1000);
    const body = JSON.parse(enc.body);
    assert.equal(body.result.columns, undefined);
    assert.equal(body.result.columnSet, sha256Hex(canonicalJson(e.result!.columns)));
    assert.deepEqual(columnSetRefs(enc.body), [body.result.columnSet]);
    assert.equal(enc.columnSets.length, 1);
    assert.equal(enc.columnSets[0]!.text, canonicalJson(e.result!.columns));
    // Unknown column set on read: the result has no columns, the rest decodes.
    const back = decodeEvent('s', 2, enc.body, enc.rows, () => undefined);
    assert.equal(back.result!.columns, undefined);
    assert.equal(back.result!.rows!.payloads.length, 2);
  });

  test('indexes column origins, derived ones included', () => {
    const enc = encodeEvent(e, 1000);
    assert.equal(enc.colsetKey, 'app.secret.b\napp.users.a\napp.users.b');
    assert.equal(enc.colset, colsetId(enc.colsetKey!));
    assert.ok(enc.colset! > 0 && Number.isSafeInteger(enc.colset!));
  });

  test('keeps at most captureRows payloads but the full row count', () => {
    const enc = encodeEvent(e, 1);
    const back = decodeEvent('s', 2, enc.body, enc.rows, sets(enc));
    assert.deepEqual(back.result!.rows!.payloads, rows.slice(0, 1));
    assert.equal(back.result!.rowCount, 5);
    assert.equal(encodeEvent(e, 0).rows, null);
  });

  test('stores the first result once when it is also results[0], and leaves out gateway-only fields', () => {
    const r1 = { ...e.result!, masker: { mask() {} }, defs: [{ x: 1 }] } as ResultRecord;
    const r2: ResultRecord = { columns: [col('n', { type: 4, charset: 63 })], rows: { format: 'binary', payloads: [Buffer.from([0, 0, 1, 2, 3, 4])] }, rowCount: 1 };
    const multi: NewEvent = { ...e, result: r1, results: [r1, r2] };
    const enc = encodeEvent(multi, 1000);
    const body = JSON.parse(enc.body);
    assert.equal(body.result, undefined);
    assert.equal(body.resultIsFirst, true);
    assert.equal(body.results[0].masker, undefined);
    assert.equal(body.results[0].defs, undefined);
    assert.equal(enc.fmt, ROWS_TEXT | ROWS_BINARY | ROWS_BINARY_FLOAT);
    assert.equal(enc.columnSets.length, 2);
    const back = decodeEvent('s', 2, enc.body, enc.rows, sets(enc));
    assert.equal(back.result, back.results![0]);
    assert.deepEqual(back.results![1]!.columns, r2.columns);
    assert.deepEqual(back.results![1]!.rows!.payloads, r2.rows!.payloads);
  });

  test('counts statements, denials and approvals for the session listing', () => {
    assert.deepEqual(pick(encodeEvent(e, 0)), [1, 0, 0]);
    assert.deepEqual(pick(encodeEvent({ ...e, decision: { action: 'deny', policy: 'p', rule: 'r' } }, 0)), [1, 1, 0]);
    assert.deepEqual(pick(encodeEvent({ ...e, decision: { action: 'approve', policy: 'p', rule: 'r' }, approval: { id: 'a', status: 'denied' } }, 0)), [1, 1, 1]);
    assert.deepEqual(pick(encodeEvent({ ...e, type: 'ping' }, 0)), [0, 0, 0]);
  });

  test('refuses an event without a session or with a seq below 1', () => {
    assert.throws(() => encodeEvent({ ...e, sessionId: '' }, 0), /sessionId/);
    assert.throws(() => encodeEvent({ ...e, seq: 0 }, 0), /seq/);
  });

  test('rows that disagree with their descriptor are refused when read', () => {
    const enc = encodeEvent(e, 1000);
    assert.throws(() => decodeEvent('s', 2, enc.body, enc.rows!.subarray(0, 10), sets(enc)), /shorter|truncated/);
  });
});

test('a session header round-trips without its id', () => {
  const s = { id: 'x', target: 'app', identity: { subject: 'u', groups: ['g'], via: 'oidc' as const }, client: '1.2.3.4:5', tls: true, startedAt: '2025-01-01T00:00:00.000Z', instanceId: 'i', policy: 'p' };
  const body = sessionHeaderBody(s);
  assert.ok(!body.includes('"id"'));
  assert.deepEqual(sessionStartFromHeader('x', body), s);
});

test('isoTime writes what toISOString writes, across seconds, years and in any order', () => {
  const base = Date.UTC(2026, 10, 21, 23, 59, 59, 990);
  const times = [
    0, 1, 9, 10, 99, 100, 999, 1000, -1, -999, -1000, -1001,
    base, base + 1, base + 9, base + 10, base + 11, base + 999, base - 1000, base + 86_400_000 * 40,
    Date.UTC(9999, 11, 31, 23, 59, 59, 999), Date.UTC(10000, 0, 1), Date.UTC(-1, 0, 1, 0, 0, 0, 5), Date.now(),
  ];
  // Every value twice, in order and then back and forth, so a kept second is reused and replaced.
  for (const t of [...times, ...times.reverse(), 1.5, -0.5]) assert.equal(isoTime(t), new Date(t).toISOString(), String(t));
  for (let t = base - 2500; t < base + 2500; t += 7) assert.equal(isoTime(t), new Date(t).toISOString(), String(t));
});

function pick(x: { statements: number; denied: number; approvals: number }): number[] {
  return [x.statements, x.denied, x.approvals];
}
