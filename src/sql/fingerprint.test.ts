import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { fingerprint } from './fingerprint-text.ts';
import type { ServerFlavor } from './types.ts';

const MARIA: ServerFlavor = { version: 101119, mariadb: true };
const fp = (s: string) => fingerprint(s, MARIA);

test('literals become ?, keywords upper-case, whitespace and comments normalised', () => {
  assert.equal(fp("select  name\nfrom users /* c */ where id = 42 and email = 'a@b' -- x"),
    'SELECT name FROM users WHERE id = ? AND email = ?');
  assert.equal(fp("SELECT X'41', 0x41, b'1', 1.5e3, TRUE, _utf8mb4'x', N'y', 'a' 'b'"), 'SELECT ? , ? , ? , ? , ? , ? , ? , ?');
  assert.equal(fp('SELECT a FROM t WHERE a = -5 AND b - 1 > 0'), 'SELECT a FROM t WHERE a = ? AND b - ? > ?');
  assert.equal(fp('SELECT a FROM t WHERE a IS NULL'), 'SELECT a FROM t WHERE a IS NULL');
});

test('IN lists and VALUES tuples collapse', () => {
  assert.equal(fp('SELECT * FROM t WHERE id IN (1, 2, 3)'), fp('SELECT * FROM t WHERE id IN (7)'));
  assert.equal(fp('SELECT * FROM t WHERE id IN (1, 2, 3)'), 'SELECT * FROM t WHERE id IN ( ... )');
  assert.equal(fp("INSERT INTO t VALUES (1, 'a'), (2, 'b'), (3, 'c')"), fp("INSERT INTO t VALUES (9, 'z')"));
  assert.notEqual(fp('SELECT * FROM t WHERE id IN (a, 2)'), fp('SELECT * FROM t WHERE id IN (1, 2)'));
});

test('executable comments are expanded before fingerprinting', () => {
  assert.equal(fp('/*!50000 DROP TABLE users */'), 'DROP TABLE users');
  assert.equal(fp('SELECT 1 /*!50000 ; DROP TABLE users */'), 'SELECT ? ; DROP TABLE users');
  assert.equal(fp('SELECT 1 /*!99999 ; DROP TABLE users */'), 'SELECT ?');
});

test('identifiers keep their spelling; quoted ones are re-quoted', () => {
  assert.equal(fp('SELECT `a b` FROM Users'), 'SELECT `a b` FROM Users');
  assert.notEqual(fp('SELECT a FROM users'), fp('SELECT b FROM users'));
});

test('property: the fingerprint ignores literal values', () => {
  const lit = fc.oneof(
    fc.integer({ min: 0, max: 1e9 }).map(String),
    fc.string({ maxLength: 12 }).map((s) => `'${s.replace(/\\/g, '\\\\').replace(/'/g, "''")}'`),
    fc.double({ noNaN: true, noDefaultInfinity: true, min: 0 }).map((d) => String(d).replace('Infinity', '1')),
    fc.constant('TRUE'), fc.constant("X'0A'"), fc.constant('0xFF'),
  );
  const shape = (a: string, b: string, c: string) => `SELECT name, ${a} FROM users WHERE id = ${b} AND status IN (${c}, ${a}) LIMIT ${b}`;
  fc.assert(fc.property(lit, lit, lit, lit, lit, lit, (a, b, c, d, e, f) => {
    assert.equal(fp(shape(a, b, c)), fp(shape(d, e, f)));
  }), { numRuns: 1000 });
});
