import { test } from 'node:test';
import assert from 'node:assert/strict';
import fc from 'fast-check';
import { splitStatements } from './split.ts';
import type { ServerFlavor } from './types.ts';

const MARIA: ServerFlavor = { version: 101119, mariadb: true };
const texts = (sql: string) => splitStatements(sql, MARIA).map((s) => s.text);

test('splits on ; outside strings, comments and identifiers', () => {
  // a statement's text runs from its first token to its last: comments around it are not part of it
  assert.deepEqual(texts("SELECT ';'; SELECT `;`; SELECT 1 -- ;\n; SELECT /* ; */ 2 /* ; */"), [
    "SELECT ';'", 'SELECT `;`', 'SELECT 1', 'SELECT /* ; */ 2',
  ]);
});

test('a ; inside a running executable comment splits; the markers are gone from the text', () => {
  assert.deepEqual(texts('SELECT 1 /*!50000 ; DROP TABLE users */'), ['SELECT 1', 'DROP TABLE users']);
  assert.deepEqual(texts('SELECT 1 /*!99999 ; DROP TABLE users */ + 1'), ['SELECT 1 /*!99999 ; DROP TABLE users */ + 1']);
});

test('empty statements are dropped', () => {
  assert.deepEqual(texts(';; SELECT 1 ;; ; SELECT 2;'), ['SELECT 1', 'SELECT 2']);
  assert.deepEqual(texts(' ; -- nothing\n'), []);
});

test('stored program bodies are not split', () => {
  assert.deepEqual(texts('CREATE PROCEDURE p() BEGIN SELECT 1; IF a THEN SELECT 2; END IF; END; SELECT 3'), [
    'CREATE PROCEDURE p() BEGIN SELECT 1; IF a THEN SELECT 2; END IF; END', 'SELECT 3',
  ]);
  assert.deepEqual(texts('CREATE DEFINER=`root`@`%` TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = CASE WHEN 1 THEN 2 END; END; DO 1'), [
    'CREATE DEFINER=`root`@`%` TRIGGER t BEFORE INSERT ON x FOR EACH ROW BEGIN SET NEW.a = CASE WHEN 1 THEN 2 END; END', 'DO 1',
  ]);
  assert.deepEqual(texts('CREATE FUNCTION f() RETURNS INT RETURN 1; SELECT f()'), ['CREATE FUNCTION f() RETURNS INT RETURN 1', 'SELECT f()']);
  assert.deepEqual(texts('CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; END; SELECT 1'), [
    'CREATE EVENT e ON SCHEDULE EVERY 1 DAY DO BEGIN DELETE FROM t; END', 'SELECT 1',
  ]);
  // A body that is one statement ends at its ;, even when it mentions a column named begin.
  assert.deepEqual(texts('CREATE PROCEDURE p() SELECT begin FROM t; DROP TABLE x'), ['CREATE PROCEDURE p() SELECT begin FROM t', 'DROP TABLE x']);
  // BEGIN as a column inside a block body does not open a block either.
  assert.deepEqual(texts('CREATE PROCEDURE p() BEGIN SELECT begin FROM t; END; DROP TABLE x'), ['CREATE PROCEDURE p() BEGIN SELECT begin FROM t; END', 'DROP TABLE x']);
  // A handler with a block, loops and labels.
  assert.deepEqual(texts('CREATE PROCEDURE p() BEGIN DECLARE CONTINUE HANDLER FOR SQLSTATE \'23000\', NOT FOUND BEGIN END; l: LOOP LEAVE l; END LOOP l; REPEAT SET @a = 1; UNTIL 1 END REPEAT; END; SELECT 9').length, 2);
});

test('MariaDB anonymous blocks are one statement; BEGIN alone is a transaction', () => {
  assert.deepEqual(texts('BEGIN NOT ATOMIC SELECT 1; SELECT 2; END; SELECT 3'), ['BEGIN NOT ATOMIC SELECT 1; SELECT 2; END', 'SELECT 3']);
  assert.deepEqual(texts('IF 1 THEN SELECT 1; ELSE SELECT 2; END IF; SELECT 3'), ['IF 1 THEN SELECT 1; ELSE SELECT 2; END IF', 'SELECT 3']);
  assert.deepEqual(texts('BEGIN; SELECT 1; COMMIT'), ['BEGIN', 'SELECT 1', 'COMMIT']);
});

test('property: joining the raw pieces gives the text back', () => {
  const piece = fc.constantFrom('SELECT 1', ';', ' ', "'a;b'", '`c;d`', '/*!50000 ; */', '/* ; */', '-- x\n', '#\n', 'BEGIN',
    'END', 'IF', 'THEN', 'CREATE PROCEDURE p()', '"q;"', '\\', "'", '/*', '*/', 'x');
  fc.assert(fc.property(fc.array(piece, { maxLength: 30 }).map((a) => a.join('')), (sql) => {
    const parts = splitStatements(sql, MARIA);
    if (parts.length > 0) assert.equal(parts.map((p) => p.raw).join(''), sql);
    for (const p of parts) assert.ok(p.text.length > 0);
  }), { numRuns: 3000 });
  fc.assert(fc.property(fc.string({ maxLength: 120 }), (sql) => {
    const parts = splitStatements(sql, MARIA);
    if (parts.length > 0) assert.equal(parts.map((p) => p.raw).join(''), sql);
  }), { numRuns: 2000 });
});
