// Recording: a session is recorded completely (text queries, prepared statements with typed parameters,
// multi-statements, an error, USE) and reads back in order with the rows the client received; nothing any client
// got an answer for is lost to a kill -9 of the gateway; a store that cannot record refuses statements (1290).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { spawn, type ChildProcess } from 'node:child_process';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import mysql from 'mysql2/promise';
import { startTestGateway, writeTestConfig, defaultYaml, repoRoot, type TestGateway } from '../helpers/gateway.ts';
import { waitForPort } from '../helpers/ports.ts';
import { startPostgres } from '../helpers/postgres.ts';
import { openAuditStore } from '../../src/audit/index.ts';
import { presentEvent } from '../../src/audit/present.ts';
import { generateKeyPairSync } from 'node:crypto';

const CI = { user: 'ci', password: 'ci-secret-0123456789' };

/** mysql2 rows as text cells, the way the text protocol (and the audit record) has them. */
function asText(rows: unknown[][]): (string | null)[][] {
  return rows.map((r) => r.map((v) => {
    if (v === null) return null;
    if (v instanceof Date) return v.toISOString();
    if (Buffer.isBuffer(v)) return v.toString('base64');
    return String(v);
  }));
}

describe('a session is recorded completely and reads back as the client saw it', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway();
  });
  after(async () => {
    await gw?.stop();
  });

  test('text, prepared (int, decimal, date, blob, NULL), multi-statement, error, USE', async () => {
    const db = gw.upstream.database;
    const c = await mysql.createConnection({ host: '127.0.0.1', port: gw.port(), ...CI, multipleStatements: true, dateStrings: true, rowsAsArray: true });
    const client: { sql: string; rows?: unknown[][]; error?: number }[] = [];
    const q = async (sql: string, params?: (string | number | Buffer | null)[]) => {
      try {
        const [r] = params ? await c.execute(sql, params) : await c.query(sql);
        client.push({ sql, rows: Array.isArray(r) ? (r as unknown[][]) : undefined });
      } catch (e) {
        client.push({ sql, error: (e as { errno: number }).errno });
      }
    };
    await q(`USE ${db}`);
    await q('CREATE TABLE things (id INT PRIMARY KEY, price DECIMAL(8,2), day DATE, data BLOB, note VARCHAR(20))');
    await q('INSERT INTO things VALUES (?, ?, ?, ?, ?)', [1, '12.34', '2024-02-29', Buffer.from([0, 1, 255]), null]);
    await q('INSERT INTO things VALUES (?, ?, ?, ?, ?)', [2, '0.50', '1999-12-31', Buffer.from('blob'), 'two']);
    await q('SELECT id, price, day, HEX(data) AS hx, note FROM things WHERE id >= ? ORDER BY id', [1]);
    await q('SELECT COUNT(*) AS n FROM things; SELECT note FROM things ORDER BY id');
    await q('SELECT * FROM no_such_table');
    await q("SELECT id, note FROM things WHERE note IS NULL");
    await c.end();

    const [s] = await gw.gateway.store.listSessions({ subject: 'ci', limit: 1 });
    // The disconnect is recorded as the session closes.
    let full = await gw.gateway.store.getSession(s!.id);
    for (let i = 0; i < 40 && !full!.events.some((e) => e.type === 'disconnect'); i++) {
      await new Promise((r) => setTimeout(r, 50));
      full = await gw.gateway.store.getSession(s!.id);
    }
    const events = full!.events.map(presentEvent);
    assert.deepEqual(events.map((e) => e.seq), events.map((_e, i) => i + 1), 'numbered in order, no gaps');
    assert.equal(events[0]!.type, 'connect');
    assert.equal(events.at(-1)!.type, 'disconnect');

    const statements = events.filter((e) => e.type === 'query' || e.type === 'execute');
    assert.deepEqual(statements.map((e) => e.sql), client.map((x) => x.sql), 'every statement, in order');

    const ins = events.find((e) => e.type === 'execute' && e.sql?.startsWith('INSERT') && e.params?.[0]?.value === 1)!;
    // Types as the client bound them (mysql2 sends JS numbers as DOUBLE and decimals/dates as strings).
    assert.deepEqual(ins.params!.map((p) => p.type), ['DOUBLE', 'VAR_STRING', 'VAR_STRING', 'BLOB', 'NULL']);
    assert.deepEqual(ins.params!.slice(0, 3).map((p) => p.value), [1, '12.34', '2024-02-29']);
    assert.equal(ins.params![3]!.encoding, 'base64');
    assert.equal(Buffer.from(String(ins.params![3]!.value), 'base64').toString('hex'), '0001ff');
    assert.equal(ins.params![4]!.value, null);

    // Rows as the client received them.
    const sel = events.find((e) => e.type === 'execute' && e.sql?.startsWith('SELECT id, price'))!;
    assert.deepEqual(sel.rows, asText(client.find((x) => x.sql.startsWith('SELECT id, price'))!.rows!));
    assert.equal(sel.rowCount, 2);
    assert.deepEqual(sel.columns!.map((col) => [col.name, col.table, col.column]), [['id', 'things', 'id'], ['price', 'things', 'price'], ['day', 'things', 'day'], ['hx', '', ''], ['note', 'things', 'note']]);

    const multi = events.find((e) => e.sql?.startsWith('SELECT COUNT(*)'))!;
    assert.equal(multi.results!.length, 2);
    assert.deepEqual(multi.results![0]!.rows, [['2']]);
    assert.deepEqual(multi.results![1]!.rows, [[null], ['two']]);

    const err = events.find((e) => e.sql === 'SELECT * FROM no_such_table')!;
    assert.equal(err.error?.code, 1146);
    const use = events.find((e) => e.sql === `USE ${db}`)!;
    assert.deepEqual(use.kinds, ['use']);
    assert.ok(events.every((e) => e.type === 'connect' || e.type === 'disconnect' || typeof e.durationMs === 'number' || e.type === 'prepare' || e.type === 'stmt_close'));
  });
});

describe('nothing acknowledged is lost when the gateway is killed with SIGKILL', () => {
  let child: ChildProcess | null = null;
  let dir = '';
  after(() => {
    if (child && child.exitCode === null) child.kill('SIGKILL');
    if (dir) rmSync(dir, { recursive: true, force: true });
  });

  test('kill -9 mid-workload: every statement a client got an answer for is in the store', { timeout: 180_000 }, async (t) => {
    const cfg = await writeTestConfig();
    dir = cfg.dir;
    child = spawn(process.execPath, [join(repoRoot, 'bin', 'agentgate.js'), 'serve', '--config', cfg.configFile], {
      env: { ...process.env, ...cfg.env },
      stdio: 'ignore',
    });
    await waitForPort('127.0.0.1', cfg.parts.ports.app!, 30_000);
    const acked: string[] = [];
    let stop = false;
    const worker = async (w: number) => {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: cfg.parts.ports.app!, ...CI });
      c.on('error', () => {});
      for (let i = 0; !stop; i++) {
        const sql = `SELECT ${w} AS worker, ${i} AS n /* w${w}-${i} */`;
        try {
          await c.query(sql);
          acked.push(sql);
        } catch {
          return;
        }
      }
    };
    const workers = [1, 2, 3, 4, 5, 6].map((w) => worker(w).catch(() => {}));
    while (acked.length < 1500) await new Promise((r) => setTimeout(r, 20));
    child.kill('SIGKILL');
    stop = true;
    await Promise.all(workers);
    const total = acked.length;
    t.diagnostic(`${total} statements acknowledged before the kill`);
    assert.ok(total >= 1000);

    const store = openAuditStore(`sqlite:${join(cfg.dir, 'audit.db')}`, {
      instanceId: 'reader',
      signingKeyPem: generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString(),
      fsync: false,
      checkpointEvery: 1000,
      checkpointInterval: 60_000,
    });
    await store.init();
    try {
      const recorded = new Set<string>();
      for (const s of await store.listSessions({ limit: 100 })) {
        for (const e of (await store.getSession(s.id))!.events) if (e.sql) recorded.add(e.sql);
      }
      const missing = acked.filter((sql) => !recorded.has(sql));
      assert.deepEqual(missing, [], `${missing.length} acknowledged statements missing from the store`);
      const v = await store.verify();
      assert.equal(v.ok, true, `the chain verifies after the crash: ${JSON.stringify(v)}`);
    } finally {
      await store.close();
    }
  });
});

describe('a store that cannot record refuses statements', () => {
  test('PostgreSQL store stopped: 1290 "agentgate: audit unavailable"; started again: statements run', { timeout: 120_000 }, async () => {
    const pg = await startPostgres();
    const gw = await startTestGateway({
      yaml: (p) => defaultYaml(p).replace(/store: sqlite:.*\n/, `store: ${pg.url}\n`),
    });
    try {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: gw.port(), ...CI });
      await c.query('SELECT 1');
      pg.pause();
      let refusal = null as { errno?: number; sqlState?: string; message: string } | null;
      for (let i = 0; i < 20 && !refusal; i++) {
        try {
          await c.query('SELECT 2');
        } catch (e) {
          refusal = e as typeof refusal;
        }
      }
      assert.ok(refusal, 'statements kept running while the store was down');
      assert.equal(refusal!.errno, 1290);
      assert.equal(refusal!.sqlState, 'HY000');
      assert.match(refusal!.message, /^agentgate: audit unavailable/);
      pg.resume();
      let ok = false;
      for (let i = 0; i < 100 && !ok; i++) {
        try {
          await c.query('SELECT 3');
          ok = true;
        } catch {
          await new Promise((r) => setTimeout(r, 100));
        }
      }
      assert.ok(ok, 'the gateway recovers once the store is back');
      await c.end().catch(() => {});
    } finally {
      await gw.stop();
      pg.stop();
    }
  });
});
