import assert from 'node:assert/strict';
import { test } from 'node:test';
import type { PresentedResult } from '../audit/present.ts';
import { compareResult, compareResults } from './compare.ts';

const cols = (...names: string[]): PresentedResult['columns'] => names.map((name) => ({ name, db: 'd', table: 't', column: name, masked: name === 'email' ? 'partial' : null }));

test('equal rows and columns are the same', () => {
  const a: PresentedResult = { columns: cols('id', 'email'), rows: [['1', 'a***'], ['2', null]], rowCount: 2 };
  const d = compareResult(a, structuredClone(a));
  assert.equal(d.same, true);
  assert.deepEqual(d.reasons, []);
});

test('a changed row: counted, and shown as one removed and one added', () => {
  const rec: PresentedResult = { columns: cols('id', 'name'), rows: [['1', 'Ann'], ['2', 'Bob']], rowCount: 2 };
  const now: PresentedResult = { columns: cols('id', 'name'), rows: [['1', 'Ann'], ['2', 'Rob'], ['3', 'Cy']], rowCount: 3 };
  const d = compareResult(rec, now);
  assert.equal(d.same, false);
  assert.deepEqual(d.removed, [['2', 'Bob']]);
  assert.deepEqual(d.added, [['2', 'Rob'], ['3', 'Cy']]);
  assert.match(d.reasons.join('; '), /rows: recorded 2, now 3/);
});

test('a masking style that changed is a column difference', () => {
  const rec: PresentedResult = { columns: cols('id', 'email'), rows: [], rowCount: 0 };
  const now: PresentedResult = { columns: [{ name: 'id', db: 'd', table: 't', column: 'id', masked: null }, { name: 'email', db: 'd', table: 't', column: 'email', masked: null }], rows: [], rowCount: 0 };
  assert.match(compareResult(rec, now).reasons[0]!, /columns: recorded \(id, email \[partial\]\), now \(id, email\)/);
});

test('only the rows the recording kept are compared, the counts in full', () => {
  const rec: PresentedResult = { columns: cols('n'), rows: [['1'], ['2']], rowCount: 5 };
  const now: PresentedResult = { columns: cols('n'), rows: [['1'], ['2'], ['3'], ['4'], ['5']], rowCount: 5 };
  assert.equal(compareResult(rec, now).same, true);
});

test('order differences are reported as such', () => {
  const rec: PresentedResult = { columns: cols('n'), rows: [['1'], ['2']], rowCount: 2 };
  const now: PresentedResult = { columns: cols('n'), rows: [['2'], ['1']], rowCount: 2 };
  assert.deepEqual(compareResult(rec, now).reasons, ['the same rows in a different order']);
});

test('errors compare by code', () => {
  const e = (code: number, message: string): PresentedResult => ({ error: { code, message } });
  assert.equal(compareResult(e(1146, "Table 'a.b' doesn't exist"), e(1146, "Table 'a.b' doesn't exist (again)")).same, true);
  assert.equal(compareResult(e(1146, 'x'), { columns: cols('n'), rows: [], rowCount: 0 }).same, false);
});

test('several results: each compared, the count too', () => {
  const r: PresentedResult = { columns: cols('n'), rows: [['1']], rowCount: 1 };
  assert.equal(compareResults([r, r], [r, r]).same, true);
  assert.match(compareResults([r, r], [r]).reasons[0]!, /results: recorded 2, now 1/);
  const d = compareResults([r, r], [r, { ...r, rows: [['9']] }]);
  assert.match(d.reasons[0]!, /^result 2: /);
});
