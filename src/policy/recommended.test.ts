import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { RECOMMENDED_RULES, RECOMMENDED_TABLE, recommendedMarkdown } from './recommended.ts';
import { cls, ctx, engine, policy } from '../../test/helpers/policy.ts';

const pack = policy({ guardrails: 'recommended' });

function ruleFor(sql: string): string | null {
  const d = engine().decide(pack, cls(sql), ctx);
  assert.ok(d.action === 'deny' || d.rule === null, `${sql}: ${d.action} by ${d.rule}`);
  return d.rule;
}

describe('the recommended pack', () => {
  const denied: [string, string][] = [
    ['DROP DATABASE app', 'drop-database'],
    ['DROP SCHEMA IF EXISTS app', 'drop-database'],
    ['DROP TABLE users', 'drop-table'],
    ['DROP TABLE IF EXISTS a, b', 'drop-table'],
    ['TRUNCATE TABLE logs', 'drop-table'],
    ['TRUNCATE logs', 'drop-table'],
    ['ALTER TABLE logs DROP PARTITION p2019', 'drop-table'],
    ['ALTER TABLE logs TRUNCATE PARTITION p2019', 'drop-table'],
    ["GRANT ALL ON *.* TO 'x'@'%'", 'accounts'],
    ["REVOKE SELECT ON app.* FROM 'x'@'%'", 'accounts'],
    ["CREATE USER 'x'@'%' IDENTIFIED BY 'pw'", 'accounts'],
    ["DROP USER 'x'@'%'", 'accounts'],
    ["ALTER USER 'x'@'%' IDENTIFIED BY 'pw'", 'accounts'],
    ["RENAME USER 'x'@'%' TO 'y'@'%'", 'accounts'],
    ["SET PASSWORD FOR 'x'@'%' = PASSWORD('pw')", 'accounts'],
    ['CREATE ROLE auditor', 'accounts'],
    ["SET DEFAULT ROLE auditor FOR 'x'@'%'", 'accounts'],
    ["LOAD DATA INFILE '/tmp/x.csv' INTO TABLE t", 'load-data'],
    ["LOAD DATA LOCAL INFILE '/tmp/x.csv' INTO TABLE t", 'load-data'],
    ["LOAD XML LOCAL INFILE '/tmp/x.xml' INTO TABLE t", 'load-data'],
    ["SELECT * FROM users INTO OUTFILE '/tmp/u.csv'", 'into-outfile'],
    ["SELECT 1 INTO DUMPFILE '/tmp/x'", 'into-outfile'],
    ['SET GLOBAL max_connections = 10', 'set-global'],
    ['SET PERSIST max_connections = 10', 'set-global'],
    ['SET PERSIST_ONLY max_connections = 10', 'set-global'],
    ['SET @@global.max_connections = 10', 'set-global'],
    ['SET @x = 1, @@persist.max_connections = 10', 'set-global'],
    ['SET GLOBAL TRANSACTION ISOLATION LEVEL SERIALIZABLE', 'set-global'],
    ['SET sql_mode = \'\', GLOBAL general_log = 1', 'set-global'],
    ['UPDATE users SET active = 0', 'unbounded-write'],
    ['DELETE FROM users', 'unbounded-write'],
    ['DELETE FROM users WHERE 1', 'unbounded-write'],
    ['KILL 42', 'kill'],
    ['KILL QUERY 42', 'kill'],
    ['SHUTDOWN', 'shutdown'],
    ['RESTART', 'shutdown'],
    ["INSTALL PLUGIN x SONAME 'x.so'", 'plugins'],
    ["INSTALL SONAME 'x'", 'plugins'],
    ["UNINSTALL PLUGIN x", 'plugins'],
    ["CREATE FUNCTION f RETURNS STRING SONAME 'udf.so'", 'plugins'],
    ["CREATE AGGREGATE FUNCTION f RETURNS INTEGER SONAME 'udf.so'", 'plugins'],
    ["BINLOG 'AAAA'", 'unparsed'],
    ['PREPARE s FROM @q', 'unparsed'],
    ['BEGIN NOT ATOMIC SELECT 1; END', 'unparsed'],
  ];
  for (const [sql, name] of denied) {
    test(`denies ${sql}`, () => {
      assert.equal(ruleFor(sql), `recommended/${name}`);
    });
  }

  const allowed = [
    'SELECT * FROM users WHERE id = 1',
    'DROP TEMPORARY TABLE scratch',
    'DROP VIEW v',
    'DROP INDEX i ON t',
    'UPDATE users SET active = 0 WHERE id = 7',
    'DELETE FROM users WHERE id = 7',
    "SET @x = 'GLOBAL'",
    'SET @x = @@global.max_connections',
    "SET sql_mode = CONCAT(@@global.sql_mode, ',STRICT_ALL_TABLES')",
    'SET STATEMENT max_statement_time = 5 FOR SELECT @@global.max_connections',
    "SET SESSION sql_mode = ''",
    'SET ROLE auditor',
    'CREATE FUNCTION f() RETURNS INT RETURN 1',
    'EXPLAIN DELETE FROM users',
    // Not parsed, but plainly read-only.
    'SELECT a FROM t PROCEDURE ANALYSE()',
  ];
  for (const sql of allowed) {
    test(`allows ${sql}`, () => {
      assert.equal(ruleFor(sql), null);
    });
  }

  test('the reason names the guardrail, says why, and how to override it', () => {
    const d = engine().decide(pack, cls('DROP TABLE users'), ctx);
    assert.equal(
      d.reason,
      'The recommended guardrail recommended/drop-table denies DROP TABLE on app.users: it drops a table, and dropping or emptying a table loses data that no rollback returns; an earlier rule of the policy can allow or approve it.',
    );
  });

  test('a policy\'s own earlier rule overrides the pack', () => {
    const p = policy({ guardrails: 'recommended', rules: [{ kinds: ['truncate'], tables: ['app.scratch'], action: 'allow' }, { kinds: ['drop'], action: 'approve' }] });
    assert.equal(engine().decide(p, cls('TRUNCATE scratch'), ctx).action, 'allow');
    assert.equal(engine().decide(p, cls('TRUNCATE logs'), ctx).rule, 'recommended/drop-table');
    assert.equal(engine().decide(p, cls('DROP TABLE logs'), ctx).action, 'approve');
  });

  test('runs only with guardrails: recommended', () => {
    assert.equal(engine().decide(policy(), cls('DROP DATABASE app'), ctx).action, 'allow');
  });

  test('a DROP of an object that cannot be named fails closed', () => {
    const r = RECOMMENDED_RULES.find((x) => x.name === 'drop-table')!;
    const f = r.test({ info: { ...cls('DROP TABLE t').statements[0]!, object: undefined, text: 'DROP /* ? */ `x`' }, top: 0, where: '', unknown: false });
    assert.equal(f.result, 'unknown');
  });

  test('the table README quotes lists every rule once, as valid Markdown', () => {
    for (const line of recommendedMarkdown().split('\n')) assert.equal(line.split('|').length, 5, line);
    assert.equal(RECOMMENDED_TABLE.length, RECOMMENDED_RULES.length);
    assert.equal(new Set(RECOMMENDED_TABLE.map((r) => r.rule)).size, RECOMMENDED_TABLE.length);
    for (const r of RECOMMENDED_TABLE) assert.match(r.rule, /^recommended\/[a-z-]+$/);
  });
});
