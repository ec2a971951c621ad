import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { ClassifierCache, shapeRepresentative } from './cache.ts';
import { classify } from './classify.ts';
import { literalVariants, template } from '../../test/helpers/sql-templates.ts';
import type { ServerFlavor } from './types.ts';

const MARIA: ServerFlavor = { version: 101119, mariadb: true };

test('the cache returns the same frozen result, keyed by flavor too, within its bound', () => {
  const cache = new ClassifierCache({ maxEntries: 3 });
  const a = cache.classify('SELECT 1', MARIA);
  assert.equal(cache.classify('SELECT 1', MARIA), a);
  assert.ok(Object.isFrozen(a) && Object.isFrozen(a.statements[0]));
  const mysql = cache.classify('/*!50700 DROP TABLE t */', { version: 80036, mariadb: false });
  assert.deepEqual(mysql.kinds, ['drop']);
  assert.deepEqual(cache.classify('/*!50700 DROP TABLE t */', MARIA).kinds, []);
  cache.classify('SELECT 2', MARIA);
  cache.classify('SELECT 3', MARIA);
  assert.ok(cache.entries <= 2 * 3, `${cache.entries} entries`);
  assert.notEqual(cache.classify('SELECT 1', MARIA), a); // evicted, recomputed
  assert.equal(cache.hits, 1);
});

test('a bounded cache keeps what is used: 100,000 texts through a cache of 1,000', () => {
  const cache = new ClassifierCache({ maxEntries: 1000 });
  const hot = cache.classify('SELECT name FROM users WHERE id = 1', MARIA);
  for (let i = 0; i < 100_000; i++) {
    cache.classify(`UPDATE t${i} SET a = b`, MARIA);
    if (i % 100 === 0) assert.equal(cache.classify('SELECT name FROM users WHERE id = 1', MARIA), hot);
  }
  assert.ok(cache.entries <= 2 * 1000, `${cache.entries} entries`);
});

test('texts that differ only in literals share a classification, each with its own text', () => {
  const cache = new ClassifierCache();
  const a = cache.classify('SELECT c, pad FROM sbtest1 WHERE id = 17', MARIA);
  const b = cache.classify('SELECT c, pad FROM sbtest1 WHERE id = 18', MARIA);
  assert.equal(cache.shapeHits, 1);
  assert.equal(b.statements[0]!.text, 'SELECT c, pad FROM sbtest1 WHERE id = 18');
  assert.deepEqual(b, classify('SELECT c, pad FROM sbtest1 WHERE id = 18', MARIA));
  assert.equal(b.statements[0]!.outputColumns, a.statements[0]!.outputColumns);
  assert.ok(Object.isFrozen(b) && Object.isFrozen(b.statements) && Object.isFrozen(b.statements[0]));
  // Made from its shape, a text is kept by itself only once it comes a second time: from then on it is an exact
  // hit, the same object.
  const hits = cache.hits;
  const b2 = cache.classify('SELECT c, pad FROM sbtest1 WHERE id = 18', MARIA);
  assert.equal(cache.shapeHits, 2);
  assert.deepEqual(b2, b);
  assert.equal(cache.classify('SELECT c, pad FROM sbtest1 WHERE id = 18', MARIA), b2);
  assert.equal(cache.hits, hits + 1);
  // A text classified afresh is kept at once.
  assert.equal(cache.classify('SELECT c, pad FROM sbtest1 WHERE id = 17', MARIA), a);
  // Another kind of literal, other spacing, a comment: another shape.
  cache.classify("SELECT c, pad FROM sbtest1 WHERE id = '19'", MARIA);
  cache.classify('SELECT c, pad FROM sbtest1 WHERE id =  20', MARIA);
  cache.classify('SELECT c, pad FROM sbtest1 WHERE id = 21 -- x', MARIA);
  cache.classify('SELECT c, pad FROM sbtest1 WHERE id = 2.5', MARIA);
  assert.equal(cache.shapeHits, 2);
  // What depends only on tables and lineage can be kept once per shape.
  assert.equal(shapeRepresentative(b), a);
  assert.equal(shapeRepresentative(a), a);
  const other = cache.classify('SELECT c FROM sbtest1 WHERE id = 18', MARIA);
  assert.equal(shapeRepresentative(other), other);
});

test('a classification a literal decided, or that holds a literal, is not shared by shape', () => {
  const pairs: [string, string][] = [
    ['DELETE FROM t WHERE 1 = 1', 'DELETE FROM t WHERE 1 = 2'], // unbounded or not
    ['UPDATE t SET a = 1 WHERE 1', 'UPDATE t SET a = 1 WHERE 0'],
    ['SELECT a FROM t ORDER BY 1', 'SELECT a FROM t ORDER BY 2'],
    ['DELETE FROM t LIMIT 0', 'DELETE FROM t LIMIT 10'],
    ["PREPARE s FROM 'SELECT 1'", "PREPARE s FROM 'DROP TABLE users'"],
    ["SELECT 'abc' FROM t", "SELECT 'def' FROM t"], // the name is the literal
    ["SELECT ssn AS 'x' FROM users", "SELECT ssn AS 'y' FROM users"], // the alias is the literal
    ["SELECT ssn 'x' FROM users", "SELECT ssn 'y' FROM users"],
    ['SELECT 1 + a FROM t', 'SELECT 2 + a FROM t'],
    ["SELECT a FROM t WHERE b = 'it''s'", "SELECT a FROM t WHERE b = 'x\\'; DROP TABLE t; -- '"],
    ["SELECT a FROM t INTO OUTFILE '/tmp/a'", "SELECT a FROM t INTO OUTFILE '/tmp/b'"],
    ['SELECT 1; SELECT 2', 'SELECT 3; SELECT 4'],
  ];
  for (const [x, y] of pairs) {
    const cache = new ClassifierCache();
    cache.classify(x, MARIA);
    const got = cache.classify(y, MARIA);
    assert.deepEqual(got, classify(y, MARIA), y);
    assert.equal(cache.shapeHits, 0, `${y} came from the shape of ${x}`);
  }
});

// Statements with literal slots (test/helpers/sql-templates.ts): every fill must classify through the cache exactly as
// classify() does.
test('property: through the cache, every text classifies as classify() says, whatever came before', () => {
  const flavors: ServerFlavor[] = [MARIA, { ...MARIA, noBackslashEscapes: true }, { ...MARIA, noBackslashEscapes: false }];
  const cache = new ClassifierCache({ maxEntries: 200 });
  fc.assert(fc.property(template, fc.constantFrom(...flavors), (sql, flavor) => {
    // Fill the same template's literal positions differently: digits to other digits, string contents to others.
    for (const v of literalVariants(sql)) assert.deepEqual(cache.classify(v, flavor), classify(v, flavor), v);
  }), { numRuns: 3000 });
  assert.ok(cache.shapeHits > 500, `${cache.shapeHits} shape hits`);
});

test('property: random token soup classifies through the cache as classify() says', () => {
  const piece = fc.constantFrom('SELECT', 'DELETE', 'FROM', 'users', 'WHERE', 'id', '=', '1', '2', "'x'", "'y'", '(', ')', ',', ';',
    '/*!50000', '*/', 'UNION', 'JOIN', 'ON', 'BEGIN', 'END', 'IF', 'PREPARE s FROM', 'WITH', 'AS', '*', '.', 'OR', 'x', 'LIMIT', 'ORDER BY');
  const cache = new ClassifierCache({ maxEntries: 50 });
  fc.assert(fc.property(fc.array(piece, { maxLength: 25 }).map((a) => a.join(' ')), (sql) => {
    assert.deepEqual(cache.classify(sql, MARIA), classify(sql, MARIA));
  }), { numRuns: 5000 });
});
