import assert from 'node:assert/strict';
import { test } from 'node:test';
import { compareStatements, normalise, statementsOfFile, type Ran } from './expect.ts';

const F = { version: 101119, mariadb: true };
const ran = (...texts: string[]): Ran[] => texts.map((text, i) => ({ seq: i + 2, text }));

test('normalised text ignores spacing, comments, case, identifier quoting and the quote character', () => {
  assert.equal(normalise('select  id\n FROM `Users` /* why */ where name = "ann";', F), normalise("SELECT id FROM users WHERE name = 'ann'", F));
  assert.notEqual(normalise('SELECT 1', F), normalise('SELECT 2', F));
  assert.notEqual(normalise("SELECT 'a'", F), normalise("SELECT 'A'", F));
});

test('a .sql file is split the way the server splits (a compound statement stays whole)', () => {
  const file = `-- setup
SELECT 1;
CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END;
UPDATE t SET a = 'x;y' WHERE id = 3;
`;
  assert.deepEqual(statementsOfFile(file, F), ['SELECT 1', 'CREATE PROCEDURE p() BEGIN SELECT 1; SELECT 2; END', "UPDATE t SET a = 'x;y' WHERE id = 3"]);
});

test('identical: every statement in order', () => {
  const r = compareStatements(['SELECT 1', 'UPDATE t SET a = 1 WHERE id = 2'], ran('select 1', 'update t set a=1 where id=2'), 'text', F);
  assert.equal(r.same, true);
  assert.deepEqual(r.counts, { same: 2, altered: 0, missing: 0, extra: 0 });
});

test('extra, missing and altered statements, in session order', () => {
  const r = compareStatements(
    ['SELECT 1', 'UPDATE t SET a = 1 WHERE id = 2', 'SELECT 3', 'DELETE FROM t WHERE id = 9'],
    ran('SELECT 1', 'UPDATE t SET a = 1 WHERE id = 3', 'DROP TABLE t', 'SELECT 3'),
    'text', F,
  );
  assert.equal(r.same, false);
  assert.deepEqual(r.items.map((i) => i.kind), ['same', 'altered', 'extra', 'same', 'missing']);
  const altered = r.items[1] as Extract<(typeof r.items)[number], { kind: 'altered' }>;
  assert.equal(altered.expectedText, 'UPDATE t SET a = 1 WHERE id = 2');
  assert.equal(altered.ran.text, 'UPDATE t SET a = 1 WHERE id = 3');
  assert.equal(altered.ran.seq, 3);
  assert.deepEqual(r.counts, { same: 2, altered: 1, missing: 1, extra: 1 });
});

test('by fingerprint, different literals are the same statement', () => {
  const exp = ['UPDATE t SET a = 1 WHERE id = 2'];
  assert.equal(compareStatements(exp, ran('UPDATE t SET a = 5 WHERE id = 7'), 'fingerprint', F).same, true);
  assert.equal(compareStatements(exp, ran('UPDATE t SET a = 5 WHERE id = 7'), 'text', F).same, false);
  assert.equal(compareStatements(exp, ran('UPDATE t SET b = 1 WHERE id = 2'), 'fingerprint', F).same, false);
});

test('order matters: a swapped pair is one match plus one extra and one missing', () => {
  const r = compareStatements(['SELECT 1', 'SELECT 2'], ran('SELECT 2', 'SELECT 1'), 'text', F);
  assert.equal(r.same, false);
  assert.equal(r.counts.same, 1);
  assert.equal(r.counts.missing + r.counts.extra + r.counts.altered > 0, true);
});

test('nothing ran: every expected statement is missing', () => {
  const r = compareStatements(['SELECT 1', 'SELECT 2'], [], 'text', F);
  assert.deepEqual(r.items.map((i) => i.kind), ['missing', 'missing']);
});
