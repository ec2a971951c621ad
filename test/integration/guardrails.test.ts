// The bypass corpus (test/fixtures/sql-corpus.ts) replayed through a running gateway with a real client: every
// statement is classified as the corpus says, and no masked value reaches the client through the text or the binary
// protocol, in rows or in errors. The same SELECT through mysql2 query and execute returns identically masked rows.
// `policy explain` names the deciding rule for every entry.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { startTestGateway, defaultYaml, repoRoot, type TestGateway } from '../helpers/gateway.ts';
import { CORPUS_SCHEMA, SQL_CORPUS, type CorpusEntry } from '../fixtures/sql-corpus.ts';
import { classify } from '../../src/sql/index.ts';
import { createPolicyEngine } from '../../src/policy/index.ts';
import { partialAuto } from '../../src/policy/styles.ts';
import { presentEvent } from '../../src/audit/present.ts';
import { eventually } from '../helpers/wait.ts';
import { join } from 'node:path';

const run = promisify(execFile);

const POLICIES = `  - name: agents
    groups: [agents]
    targets: ["*"]
    guardrails: recommended
    rules:
      - { name: audit-log-is-append-only, kinds: [update, delete, truncate], tables: ["*.audit_log"], action: deny }
      - { name: no-schema-changes, kinds: [create, alter, rename], action: deny }
    masking:
      - columns: ["*.users.ssn", "*.users.email"]
        style: redact
      - columns: ["*.payments.card"]
        style: partial
      - detect: [credit_card, ssn, email]
        style: redact
  - name: ops
    groups: [ci, dba]
    targets: ["*"]`;

/** The values masking must keep from the agent, and forms that would give them away. */
const SECRETS = ['123-45-6789', '987-65-4321', 'ann@example.com', 'bob@example.com', '4111111111111111'];
const LEAKS = SECRETS.flatMap((s) => [
  s,
  Buffer.from(s).toString('hex').toUpperCase(),
  Buffer.from(s).toString('base64'),
  [...s].reverse().join(''),
]);

function leaked(text: string): string | null {
  const upper = text.toUpperCase();
  for (const l of LEAKS) if (upper.includes(l.toUpperCase())) return l;
  return null;
}

/** Everything a client received, as text (buffers both as UTF-8 and hex). */
function flatten(v: unknown): string {
  if (v === null || v === undefined) return '';
  if (Buffer.isBuffer(v)) return `${v.toString('utf8')} ${v.toString('hex')}`;
  if (v instanceof Date) return v.toISOString();
  if (Array.isArray(v)) return v.map(flatten).join('\u0001');
  if (typeof v === 'object') return Object.values(v as Record<string, unknown>).map(flatten).join('\u0001');
  return String(v);
}

const runnable = (e: CorpusEntry) => e.server === 'ok' && !e.flavor;

describe('the bypass corpus through the gateway', () => {
  let gw: TestGateway;
  let admin: mysql.Connection;
  const seen: { sql: string; via: string; text: string }[] = [];

  async function resetSchema(): Promise<void> {
    const db = gw.upstream.database;
    await admin.query(`DROP DATABASE IF EXISTS ${db}`);
    await admin.query(`CREATE DATABASE ${db} CHARACTER SET utf8mb4`);
    await admin.query(`USE ${db}`);
    for (const s of CORPUS_SCHEMA) await admin.query(s);
  }

  before(async () => {
    gw = await startTestGateway({ yaml: (p) => defaultYaml(p, { policies: POLICIES }) });
    const u = gw.upstream;
    admin = await mysql.createConnection({ host: u.host, port: u.port, user: u.user, password: u.password, multipleStatements: true });
    await resetSchema();
  });

  /** A fresh agent connection per entry: session state (HANDLERs, variables, locks) never carries over. */
  const agentConnection = () =>
    mysql.createConnection({ host: '127.0.0.1', port: gw.port(), user: 'agent', password: 'agent-secret-0123456789', database: gw.upstream.database, multipleStatements: true });

  after(async () => {
    await admin?.end().catch(() => {});
    await gw?.stop();
  });

  test('at least 150 corpus statements run through the gateway; none leaks a masked value (text protocol)', { timeout: 300_000 }, async (t) => {
    const entries = SQL_CORPUS.filter(runnable);
    assert.ok(entries.length >= 150, `${entries.length} runnable entries`);
    let answered = 0;
    for (const e of entries) {
      await resetSchema();
      const agent = await agentConnection();
      try {
        const [rows, fields] = await agent.query(e.sql);
        seen.push({ sql: e.sql, via: 'query', text: flatten(rows) + flatten(fields) });
        answered++;
      } catch (err) {
        seen.push({ sql: e.sql, via: 'query', text: (err as Error).message });
        // A refusal or a server error; either way the connection goes on.
        if ((err as { fatal?: boolean }).fatal) throw new Error(`${e.sql}: the connection broke: ${(err as Error).message}`);
      }
      // What a follow-up SHOW WARNINGS would reveal (values echoed in warnings).
      const [w] = await agent.query('SHOW WARNINGS');
      seen.push({ sql: `${e.sql} → SHOW WARNINGS`, via: 'query', text: flatten(w) });
      await agent.end();
    }
    t.diagnostic(`${entries.length} statements, ${answered} answered with data or OK, the rest refused or failed`);
    const leaks = seen.map((s) => ({ ...s, leak: leaked(s.text) })).filter((s) => s.leak);
    assert.deepEqual(leaks.map((l) => `${l.sql} [${l.via}] leaked ${l.leak}`), []);
  });

  test('every corpus statement was recorded with the kinds the corpus expects', async () => {
    const byText = new Map<string, string[]>();
    for (const s of await gw.gateway.store.listSessions({ subject: 'agent', limit: 1000 })) {
      for (const ev of (await gw.gateway.store.getSession(s.id))!.events) {
        if (ev.type === 'query' && ev.sql && ev.sql !== 'SHOW WARNINGS') byText.set(ev.sql, ev.kinds ?? []);
      }
    }
    const wrong: string[] = [];
    for (const e of SQL_CORPUS.filter(runnable)) {
      const k = byText.get(e.sql);
      // The corpus classifies without knowing sql_mode (ambiguous backslashes fail closed); the gateway knows the
      // session's NO_BACKSLASH_ESCAPES from the server's status flags and classifies exactly.
      const known = classify(e.sql, { version: 101119, mariadb: true, noBackslashEscapes: false }).kinds;
      const expected = e.note.includes('NO_BACKSLASH_ESCAPES') ? known : e.kinds;
      if (!k) wrong.push(`${e.sql}: not recorded`);
      else if (JSON.stringify(k) !== JSON.stringify(expected)) wrong.push(`${e.sql}: recorded ${k.join(',')}, expected ${expected.join(',')}`);
    }
    assert.deepEqual(wrong, []);
  });

  test('the binary protocol (prepared statements) leaks nothing either', { timeout: 300_000 }, async () => {
    const leaksFound: string[] = [];
    for (const e of SQL_CORPUS.filter(runnable)) {
      if (e.sql.includes(';')) continue; // one statement per prepare
      await resetSchema();
      const agent = await agentConnection();
      try {
        const [rows, fields] = await agent.execute(e.sql);
        const l = leaked(flatten(rows) + flatten(fields));
        if (l) leaksFound.push(`${e.sql} leaked ${l}`);
      } catch (err) {
        const l = leaked((err as Error).message);
        if (l) leaksFound.push(`${e.sql} (error) leaked ${l}`);
      }
      await agent.end();
    }
    assert.deepEqual(leaksFound, []);
  });

  test('the same SELECT through query and execute returns identically masked rows', async () => {
    await resetSchema();
    const agent = await agentConnection();
    const selects = [
      'SELECT * FROM users ORDER BY id',
      'SELECT id, ssn AS x, LOWER(email) AS e FROM users ORDER BY id',
      "SELECT CONCAT(ssn, '') AS c, card FROM users JOIN payments ON payments.id = users.id",
      'SELECT d.* FROM (SELECT ssn, email, name FROM users) d',
      'WITH c AS (SELECT ssn FROM users) SELECT ssn FROM c',
      'SELECT name FROM products UNION SELECT ssn FROM users',
    ];
    for (const sql of selects) {
      const [q] = await agent.query(sql);
      const [x] = await agent.execute(sql);
      assert.deepEqual(x, q, sql);
      assert.equal(leaked(flatten(q)), null, sql);
      assert.match(flatten(q), /\*\*\*\*/, `${sql}: nothing looks masked`);
    }
    await agent.end();
  });

  test('texts that differ only in their literals are each masked, in any order, on one connection', async () => {
    await resetSchema();
    const agent = await agentConnection();
    // The gateway classifies these by shape after the first of each; masking must not care.
    const texts = [
      'SELECT id, name FROM users WHERE id = 1',
      'SELECT id, ssn, email FROM users WHERE id = 999',
      'SELECT id, ssn, email FROM users WHERE id = 1',
      'SELECT id, ssn, email FROM users WHERE id = 2',
      "SELECT id, ssn, email FROM users WHERE name = 'nobody'",
      "SELECT id, ssn, email FROM users WHERE name <> 'nobody'",
      "SELECT CONCAT(ssn, 'a') AS s FROM users WHERE id = 1",
      "SELECT CONCAT(ssn, 'b') AS s FROM users WHERE id = 2",
      "SELECT ssn AS 'x' FROM users WHERE id = 1",
      "SELECT ssn AS 'y' FROM users WHERE id = 2",
      'SELECT id, name FROM users WHERE id = 2',
    ];
    let masked = 0;
    for (const sql of texts) {
      const [rows] = await agent.query(sql);
      const text = flatten(rows);
      assert.equal(leaked(text), null, sql);
      if (/\*\*\*\*/.test(text)) masked++;
    }
    assert.equal(masked, 7, 'every text that returns a secret shows it masked');
    await agent.end();
  });

  test('a long result is masked on every row in both protocols, and the audit keeps what the client saw', { timeout: 120_000 }, async () => {
    await resetSchema();
    // Card numbers of many shapes: digit-shaped ones are masked in the bytes as they arrive, others ('n/a') are
    // rebuilt with another length, NULLs stay NULL; 30,000 rows span many reads, so rows straddle read boundaries.
    await admin.query(`INSERT INTO payments SELECT seq, seq, 1.00,
      CASE WHEN seq % 11 = 0 THEN NULL WHEN seq % 7 = 0 THEN 'n/a'
           ELSE CONCAT('5500 ', LPAD(seq % 10000, 4, '0'), ' 0000 ', LPAD(seq % 9973, 4, '0')) END
      FROM seq_2_to_30001`);
    const [plain] = (await admin.query('SELECT id, card FROM payments ORDER BY id')) as unknown as [{ id: number; card: string | null }[]];
    const expected = plain.map((r) => ({ id: r.id, card: r.card === null ? null : partialAuto(r.card) }));
    assert.equal(expected.length, 30_001);
    assert.ok(expected.some((r) => r.card === partialAuto('n/a')) && expected.some((r) => r.card === null));
    assert.equal(expected[1]!.card, '**** **** **** 0002');
    const agent = await agentConnection();
    const sql = 'SELECT id, card FROM payments ORDER BY id';
    /** The first row that differs from what is expected (a short message, not a diff of 30,000 rows). */
    const firstWrong = (rows: unknown, want: unknown[]): string | null => {
      const got = rows as unknown[];
      if (got.length !== want.length) return `${got.length} rows, ${want.length} expected`;
      const k = got.findIndex((r, i) => JSON.stringify(r) !== JSON.stringify(want[i]));
      return k < 0 ? null : `row ${k}: ${JSON.stringify(got[k])}, expected ${JSON.stringify(want[k])}`;
    };
    const [q] = await agent.query(sql);
    assert.equal(firstWrong(q, expected), null, 'text protocol');
    const [x] = await agent.execute(sql);
    assert.equal(firstWrong(x, expected), null, 'binary protocol');
    await agent.end();

    const recorded = await eventually(async () => {
      const [s] = await gw.gateway.store.listSessions({ subject: 'agent', limit: 1 });
      return (await gw.gateway.store.getSession(s!.id))!.events.map(presentEvent).find((e) => e.type === 'query' && e.sql === sql);
    }, 2000, 'the SELECT recorded');
    assert.ok(recorded.rows && recorded.rows.length > 100, 'rows were recorded');
    assert.equal(firstWrong(recorded.rows, expected.slice(0, recorded.rows.length).map((r) => [String(r.id), r.card])), null, 'recorded');
  });

  test('an error message that echoes a masked value is scrubbed, and so is SHOW WARNINGS after it', async () => {
    await resetSchema();
    await admin.query('ALTER TABLE users ADD UNIQUE KEY uniq_email (email)');
    const agent = await agentConnection();
    await assert.rejects(agent.query("UPDATE users SET email = 'bob@example.com' WHERE id = 1"), (e: { errno?: number; message: string }) => {
      assert.equal(e.errno, 1062);
      assert.match(e.message, /^Duplicate entry '\*\*\*\*' for key/);
      return true;
    });
    await agent.query("SELECT ssn + 0 AS n FROM users");
    const [w] = (await agent.query('SHOW WARNINGS')) as unknown as [{ Message: string }[]];
    assert.ok(w.length > 0);
    for (const row of w) assert.equal(leaked(row.Message), null, row.Message);
    await assert.rejects(agent.query('GET DIAGNOSTICS CONDITION 1 @m = MESSAGE_TEXT'), (e: { errno?: number }) => e.errno === 1227);
    await agent.end();
  });

  test('policy explain names the deciding rule for every corpus entry', async () => {
    const engine = createPolicyEngine({ policies: gw.config.policies, hashKey: Buffer.alloc(32, 1) });
    const policy = gw.config.policies[0]!;
    const identity = { subject: 'agent', groups: ['agents'], via: 'service_account' as const };
    const missing: string[] = [];
    for (const e of SQL_CORPUS) {
      const cls = classify(e.sql, e.flavor ?? { version: 101119, mariadb: true });
      const d = engine.explain(policy, cls, { identity, target: 'app', db: gw.upstream.database });
      if (d.action !== 'allow' && !d.rule) missing.push(`${e.sql}: ${d.action} without a rule`);
      if (!d.reason) missing.push(`${e.sql}: no reason`);
      if (d.rule && !d.trace.some((r) => r.rule === d.rule && r.matched)) missing.push(`${e.sql}: rule ${d.rule} not in the trace`);
    }
    assert.deepEqual(missing, []);
    // And through the command line, for a few of them.
    for (const sql of ['DROP TABLE users', "SELECT id FROM users WHERE ssn LIKE '1%'", 'DELETE FROM audit_log WHERE id = 1', 'SELECT 1']) {
      const r = await run(process.execPath, [join(repoRoot, 'bin', 'agentgate.js'), 'policy', 'explain', '--config', gw.configFile,
        '--groups', 'agents', '--target', 'app', '--sql', sql, '--json'], { env: { ...process.env, UPSTREAM_PASSWORD: gw.upstream.password } });
      const doc = JSON.parse(r.stdout) as { decision?: { action: string; rule: string | null }; action?: string; rule?: string | null };
      const decision = doc.decision ?? (doc as { action: string; rule: string | null });
      if (sql !== 'SELECT 1') assert.ok(decision.rule, `${sql}: ${r.stdout}`);
      else assert.equal(decision.action, 'allow');
    }
  });
});
