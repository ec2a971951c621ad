// Runs the bypass corpus (test/fixtures/sql-corpus.ts) through classify() and checks every expectation.
// With AGENTGATE_TEST_MARIADB set (npm test sets it), also checks that MariaDB accepts or rejects each entry as
// the corpus says, on a scratch schema rebuilt for every entry.
import { test } from 'node:test';
import assert from 'node:assert/strict';
import { classify } from './classify.ts';
import type { ColumnRef, StatementInfo } from './types.ts';
import { SQL_CORPUS, CORPUS_SCHEMA } from '../../test/fixtures/sql-corpus.ts';

const MARIADB = { version: 101119, mariadb: true };

function name(c: { db: string | null; table: string | null }): string {
  return c.db !== null ? `${c.db}.${c.table}` : `${c.table}`;
}

function colName(c: ColumnRef): string {
  return `${c.table === null ? '?' : name(c)}.${c.column}`;
}

/** Statements including those nested in PREPARE/EXPLAIN/bodies that run now. */
function all(stmts: StatementInfo[]): StatementInfo[] {
  return stmts.flatMap((s) => [s, ...all(s.prepared ?? [])]);
}

test('the corpus has at least 200 entries, each with a note', () => {
  assert.ok(SQL_CORPUS.length >= 200, `only ${SQL_CORPUS.length} entries`);
  for (const e of SQL_CORPUS) assert.ok(e.note.length > 0, e.sql);
});

for (const [i, e] of SQL_CORPUS.entries()) {
  test(`corpus #${i}: ${e.note}`, () => {
    const c = classify(e.sql, e.flavor ?? MARIADB);
    const where = `\n  sql: ${JSON.stringify(e.sql)}\n  got: ${JSON.stringify(c.statements.map((s) => ({ kinds: s.kinds, parsed: s.parsed })))}`;
    assert.deepEqual(c.kinds, e.kinds, 'kinds' + where);
    assert.equal(c.parsed, e.parsed ?? true, 'parsed' + where);
    if (e.statements !== undefined) assert.equal(c.statements.length, e.statements, 'statement count' + where);
    const stmts = all(c.statements);
    if (e.tablesWritten !== undefined) {
      const got = new Set(c.statements.flatMap((s) => s.tablesWritten.map((t) => name(t).replace(/\.\*$/, '.*'))));
      const gotNames = new Set([...got].map((n) => n.endsWith('.*') ? n : n));
      const normalized = new Set([...gotNames].map((n) => n.startsWith('null.') ? n.slice(5) : n));
      assert.deepEqual([...normalized].sort(), [...e.tablesWritten].sort(), 'tablesWritten' + where);
    }
    if (e.unbounded !== undefined) {
      const writes = stmts.filter((s) => s.unboundedWrite !== null);
      assert.ok(writes.length > 0, 'no UPDATE/DELETE found' + where);
      assert.equal(writes.some((s) => s.unboundedWrite === true), e.unbounded, 'unboundedWrite' + where);
    }
    if (e.predicateColumns !== undefined) {
      const got = new Set(stmts.flatMap((s) => [...s.predicateColumns, ...(s.body ?? []).flatMap((b) => b.predicateColumns)]).map(colName));
      for (const want of e.predicateColumns) assert.ok(got.has(want), `predicate ${want} missing, got ${[...got].join(', ')}` + where);
    }
    if (e.outputSources !== undefined) {
      const first = c.statements[0]!;
      const got = new Set<string>();
      for (const o of first.outputColumns ?? []) {
        for (const s of o.sources) got.add(colName(s));
        for (const t of o.star ?? []) got.add(`${name(t)}.*`);
      }
      for (const want of e.outputSources) assert.ok(got.has(want), `output source ${want} missing, got ${[...got].join(', ')}` + where);
    }
    if (e.into !== undefined) assert.ok(stmts.some((s) => s.into === e.into), 'into' + where);
    if (e.localInfile !== undefined) assert.equal(stmts.some((s) => s.localInfile), e.localInfile, 'localInfile' + where);
  });
}

const server = process.env.AGENTGATE_TEST_MARIADB;
test('MariaDB accepts or rejects the corpus entries as they say', { skip: server === undefined ? 'AGENTGATE_TEST_MARIADB not set' : false }, async () => {
  const { createConnection } = await import('mysql2/promise');
  const [host, port] = server!.split(':');
  const options = { host, port: Number(port), user: 'root', multipleStatements: true };
  const admin = await createConnection(options);
  const db = 'sqlcorpus_scratch';
  const failures: string[] = [];
  // Entries about 10.11.19 exactly (/*!101119 vs /*!101120) only hold on that server version.
  const [rows] = await admin.query('SELECT VERSION() AS v');
  const m = /^(\d+)\.(\d+)\.(\d+)/.exec(String((rows as { v: string }[])[0]!.v))!;
  const version = Number(m[1]) * 10000 + Number(m[2]) * 100 + Number(m[3]);
  try {
    for (const e of SQL_CORPUS) {
      if (e.server === undefined) continue;
      if (version !== 101119 && /\/\*M?!1011\d\d/.test(e.sql)) continue;
      // a fresh session per entry: prepared statements, locks and variables must not leak between entries
      const conn = await createConnection(options);
      await conn.query(`DROP DATABASE IF EXISTS ${db}`);
      await conn.query(`CREATE DATABASE ${db}`);
      await conn.query(`USE ${db}`);
      for (const s of CORPUS_SCHEMA) await conn.query(s);
      let outcome: 'ok' | 'error' = 'ok';
      let message = '';
      try {
        await conn.query(e.sql);
      } catch (err) {
        outcome = 'error';
        message = (err as Error).message;
      }
      if (outcome !== e.server) failures.push(`${JSON.stringify(e.sql)}: expected ${e.server}, got ${outcome} ${message}`);
      await conn.end();
    }
  } finally {
    await admin.query(`DROP DATABASE IF EXISTS ${db}`).catch(() => undefined);
    for (const o of ['PROCEDURE p_corpus', 'FUNCTION f_corpus']) await admin.query(`DROP ${o.split(' ')[0]} IF EXISTS ${db}.${o.split(' ')[1]}`).catch(() => undefined);
    await admin.end();
  }
  assert.deepEqual(failures, []);
});
