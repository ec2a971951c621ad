import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { classify } from './classify.ts';
import type { ServerFlavor } from './types.ts';

const MARIA: ServerFlavor = { version: 101119, mariadb: true };
const one = (sql: string, f: ServerFlavor = MARIA) => {
  const c = classify(sql, f);
  assert.equal(c.statements.length, 1, sql);
  return c.statements[0]!;
};

test('output lineage: aliases, functions, stars, derived tables', () => {
  const s = one('SELECT u.ssn AS a, LOWER(email), 1, u.*, d.x FROM users u JOIN (SELECT id, CONCAT(ssn, name) AS x FROM app.users) d ON d.id = u.id');
  assert.deepEqual(s.outputColumns, [
    { index: 0, name: 'a', sources: [{ db: null, table: 'users', column: 'ssn' }], computed: false },
    { index: 1, name: 'LOWER(email)', sources: [{ db: null, table: 'users', column: 'email' }], computed: true },
    { index: 2, name: '1', sources: [], computed: true },
    { index: 3, name: null, sources: [], computed: false, star: [{ db: null, table: 'users' }] },
    { index: 4, name: 'x', sources: [{ db: 'app', table: 'users', column: 'ssn' }, { db: 'app', table: 'users', column: 'name' }], computed: true, indexUncertain: true },
  ]);
  assert.deepEqual(s.tablesRead, [{ db: null, table: 'users' }, { db: 'app', table: 'users' }]);
  assert.deepEqual(s.predicateColumns, [{ db: 'app', table: 'users', column: 'id' }, { db: null, table: 'users', column: 'id' }]);
});

test('names are lower-cased for matching; the output name keeps its spelling', () => {
  const s = one('SELECT `SSN` AS `Tax` FROM `App`.`Users`');
  assert.deepEqual(s.outputColumns![0], { index: 0, name: 'Tax', sources: [{ db: 'app', table: 'users', column: 'ssn' }], computed: false });
});

test('an ambiguous unqualified column lists every candidate table', () => {
  const s = one('SELECT ssn FROM users, orders');
  assert.deepEqual(s.outputColumns![0]!.sources, [{ db: null, table: 'users', column: 'ssn' }, { db: null, table: 'orders', column: 'ssn' }]);
});

test('a correlated subquery resolves outer aliases', () => {
  const s = one('SELECT (SELECT MAX(p.amount) FROM payments p WHERE p.order_id = o.id) FROM orders o');
  assert.deepEqual(s.outputColumns![0]!.sources, [{ db: null, table: 'payments', column: 'amount' }]);
  assert.ok(s.predicateColumns.some((c) => c.table === 'orders' && c.column === 'id'));
});

test('UNION merges sources by position and is never a plain column', () => {
  const s = one('SELECT id, name FROM products UNION SELECT id, ssn FROM users');
  assert.deepEqual(s.outputColumns!.map((o) => o.sources.map((c) => `${c.table}.${c.column}`)), [['products.id', 'users.id'], ['products.name', 'users.ssn']]);
  assert.ok(s.outputColumns!.every((o) => o.computed));
});

test('EXPLAIN keeps the statement aside; ANALYZE and EXPLAIN ANALYZE carry its kinds', () => {
  const e = one('EXPLAIN DELETE FROM users');
  assert.deepEqual(e.kinds, ['explain']);
  assert.deepEqual(e.explained?.kinds, ['delete']);
  assert.equal(e.unboundedWrite, null);
  assert.deepEqual(one('ANALYZE DELETE FROM users').kinds, ['delete', 'explain']);
  assert.equal(one('ANALYZE DELETE FROM users').unboundedWrite, true);
});

test('PREPARE classifies its text; from a variable it cannot', () => {
  const p = one("PREPARE s FROM 'UPDATE users SET a = 1'");
  assert.deepEqual(p.kinds, ['update', 'prepare']);
  assert.equal(p.prepared?.length, 1);
  assert.equal(p.prepared?.[0]?.unboundedWrite, true);
  assert.equal(p.unboundedWrite, true);
  const v = classify('PREPARE s FROM @sql', MARIA);
  assert.equal(v.parsed, false);
  assert.deepEqual(v.kinds, ['prepare']);
});

test('stored program bodies are listed, not run; anonymous blocks run', () => {
  const p = one('CREATE PROCEDURE p() BEGIN DELETE FROM users; END');
  assert.deepEqual(p.kinds, ['create']);
  assert.equal(p.object, 'procedure');
  assert.deepEqual(p.body?.map((b) => b.kinds), [['delete']]);
  const b = classify('BEGIN NOT ATOMIC DELETE FROM users; END', MARIA);
  assert.deepEqual(b.kinds, ['delete']);
  assert.equal(b.parsed, false);
});

test('literalDependent marks classifications a fingerprint cache must not share', () => {
  assert.equal(classify('SELECT a FROM t WHERE id = 5', MARIA).literalDependent, false);
  assert.equal(classify('DELETE FROM t WHERE 1 = 1', MARIA).literalDependent, true);
  assert.equal(classify('DELETE FROM t WHERE id = 1', MARIA).literalDependent, false);
  assert.equal(classify("PREPARE s FROM 'DROP TABLE t'", MARIA).literalDependent, true);
  assert.equal(classify('SELECT a, b FROM t ORDER BY 2', MARIA).literalDependent, true);
  assert.equal(classify('DELETE FROM t LIMIT 5', MARIA).literalDependent, true);
  // the two really differ though their fingerprints agree
  const x = classify('DELETE FROM t WHERE 1 = 1', MARIA), y = classify('DELETE FROM t WHERE 1 = 2', MARIA);
  assert.equal(x.fingerprint, y.fingerprint);
  assert.notEqual(x.statements[0]!.unboundedWrite, y.statements[0]!.unboundedWrite);
});

test('a declared sql_mode removes the backslash ambiguity', () => {
  const sql = "SELECT 'a\\'; DROP TABLE users; -- '";
  assert.equal(classify(sql, MARIA).parsed, false);
  assert.deepEqual(classify(sql, { ...MARIA, noBackslashEscapes: false }).kinds, ['select']);
  assert.equal(classify(sql, { ...MARIA, noBackslashEscapes: false }).parsed, true);
  assert.deepEqual(classify(sql, { ...MARIA, noBackslashEscapes: true }).kinds, ['select', 'drop']);
});

test('the parser rejects what it does not understand and the lexer classifies it', () => {
  const c = classify('UPDATE users SET a = 1 WHERE id = 1 garbage', MARIA);
  assert.equal(c.parsed, false);
  assert.deepEqual(c.kinds, ['update']);
  assert.deepEqual(c.statements[0]!.tablesWritten, [{ db: null, table: 'users' }]);
});

test('deep nesting does not crash', () => {
  const deep = 'SELECT ' + '('.repeat(20000) + '1' + ')'.repeat(20000);
  const c = classify(deep, MARIA);
  assert.deepEqual(c.kinds, ['select']);
});

test('property: classify never throws', () => {
  fc.assert(fc.property(fc.string({ maxLength: 150 }), (sql) => {
    classify(sql, MARIA);
  }), { numRuns: 2000 });
});
