// Stock clients through the gateway, with only host/port/user/password (and TLS options) changed, get the results
// they get directly: Debian's mariadb CLI (plaintext with a service account, TLS with a JWT), mysql2 (query and
// execute), the mariadb connector, and sysbench oltp_read_write with prepared statements.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import * as mariadb from 'mariadb';
import { startTestGateway, defaultYaml, type TestGateway } from '../helpers/gateway.ts';
import { startTestIssuer } from '../helpers/oidc.ts';

const run = promisify(execFile);

const SCHEMA = [
  `CREATE TABLE people (
    id INT PRIMARY KEY AUTO_INCREMENT, name VARCHAR(50) NOT NULL, email VARCHAR(100), born DATE, score DECIMAL(6,2),
    ratio DOUBLE, active TINYINT(1), big BIGINT UNSIGNED, photo BLOB, seen DATETIME(3), notes TEXT)`,
  `INSERT INTO people (name, email, born, score, ratio, active, big, photo, seen, notes) VALUES
    ('Ada', 'ada@example.com', '1815-12-10', 99.50, 0.125, 1, 18446744073709551615, X'89504E47', '2024-05-06 07:08:09.123', 'first'),
    ('Grace', NULL, '1906-12-09', -1.25, 1e-10, 0, 0, NULL, NULL, 'ünïcödé ✓'),
    ('Linus', 'linus@example.org', NULL, NULL, NULL, NULL, 42, X'', '1970-01-01 00:00:01.000', '')`,
];

/** What a mysql2 field tells an application (its raw packet buffer differs with socket chunking, so it is left out). */
const fieldInfo = (fs: unknown) => (fs as Record<string, unknown>[]).map((f) => ({
  name: f.name, type: f.type, columnType: f.columnType, columnLength: f.columnLength, characterSet: f.characterSet,
  flags: f.flags, decimals: f.decimals, schema: f.schema, table: f.table, orgTable: f.orgTable, orgName: f.orgName,
}));

const QUERIES = [
  'SELECT * FROM people ORDER BY id',
  'SELECT id, name, LENGTH(notes) AS n, score * 2 AS doubled FROM people WHERE id > 1 ORDER BY id DESC',
  "SELECT COUNT(*) AS c, SUM(score) AS s, GROUP_CONCAT(name ORDER BY name) AS names FROM people",
  "SELECT 1 AS one, 'two' AS two, NULL AS three, 4.5 AS four, CAST('2020-01-01' AS DATE) AS five",
];

describe('stock clients get the same results through the gateway as directly', () => {
  let gw: TestGateway;
  let idp: Awaited<ReturnType<typeof startTestIssuer>>;
  let direct: { host: string; port: number; user: string; password: string; database: string };

  before(async () => {
    idp = await startTestIssuer({ audience: 'agentgate' });
    gw = await startTestGateway({
      yaml: (p) => defaultYaml(p, {
        identity: `  oidc:\n    - { issuer: "${idp.issuer}", audience: agentgate, jwksUri: "${idp.jwksUri}" }`,
      }),
    });
    const u = gw.upstream;
    direct = { host: u.host, port: u.port, user: u.user, password: u.password, database: u.database };
    const c = await mysql.createConnection({ ...direct, multipleStatements: true });
    for (const s of SCHEMA) await c.query(s);
    await c.end();
  });

  after(async () => {
    await gw?.stop();
    await idp?.close();
  });

  const cli = (args: string[]) => run('mariadb', ['--batch', '--column-type-info', ...args], { encoding: 'utf8', maxBuffer: 64 << 20 });

  test('mariadb CLI, plaintext, service account: same output and column metadata', async () => {
    const sql = QUERIES.join('; ');
    const a = await cli([`-h${direct.host}`, `-P${direct.port}`, `-u${direct.user}`, `-p${direct.password}`, '--skip-ssl', direct.database, '-e', sql]);
    const b = await cli(['-h127.0.0.1', `-P${gw.port()}`, '-uci', '-pci-secret-0123456789', '--skip-ssl', direct.database, '-e', sql]);
    assert.equal(b.stdout, a.stdout);
    assert.match(a.stdout, /Ada/);
  });

  test('mariadb CLI, TLS verified against the gateway certificate, JWT as the password', async () => {
    const jwt = await idp.sign({ sub: 'agent-7', groups: ['agents'] });
    const sql = QUERIES.join('; ');
    const a = await cli([`-h${direct.host}`, `-P${direct.port}`, `-u${direct.user}`, `-p${direct.password}`, '--skip-ssl', direct.database, '-e', sql]);
    const b = await cli(['-h127.0.0.1', `-P${gw.port()}`, '-uagent-7', `-p${jwt}`, '--ssl', `--ssl-ca=${gw.certs.ca}`, '--ssl-verify-server-cert', direct.database, '-e', sql]);
    assert.equal(b.stdout, a.stdout);
    const tls = await cli(['-h127.0.0.1', `-P${gw.port()}`, '-uagent-7', `-p${jwt}`, '--ssl', `--ssl-ca=${gw.certs.ca}`, '-e', 'SELECT 1']);
    assert.match(tls.stdout, /1/);
    const sessions = await gw.gateway.store.listSessions({ subject: 'agent-7' });
    assert.ok(sessions.length >= 2);
    assert.equal(sessions[0]!.identity.via, 'oidc');
    assert.equal(sessions[0]!.tls, true);
  });

  test('mysql2: query and execute return the same rows and fields', async () => {
    const a = await mysql.createConnection({ ...direct, dateStrings: true, supportBigNumbers: true });
    const b = await mysql.createConnection({ host: '127.0.0.1', port: gw.port(), user: 'ci', password: 'ci-secret-0123456789', database: direct.database, dateStrings: true, supportBigNumbers: true });
    for (const q of QUERIES) {
      const [ra, fa] = await a.query(q);
      const [rb, fb] = await b.query(q);
      assert.deepEqual(rb, ra, q);
      assert.deepEqual(fieldInfo(fb), fieldInfo(fa), `fields of ${q}`);
      const [ea, efa] = await a.execute(q);
      const [eb, efb] = await b.execute(q);
      assert.deepEqual(eb, ea, `execute ${q}`);
      assert.deepEqual(fieldInfo(efb), fieldInfo(efa), `execute fields of ${q}`);
    }
    const [pa] = await a.execute('SELECT ? AS s, ? AS n, ? AS d, ? AS b, ? AS z', ['x', 42, '2024-01-02', Buffer.from([1, 2]), null]);
    const [pb] = await b.execute('SELECT ? AS s, ? AS n, ? AS d, ? AS b, ? AS z', ['x', 42, '2024-01-02', Buffer.from([1, 2]), null]);
    assert.deepEqual(pb, pa);
    await a.end();
    await b.end();
  });

  test('the mariadb connector: query, execute, and a batch as one COM_STMT_BULK_EXECUTE', async () => {
    const opts = { dateStrings: true, bigIntAsNumber: false, checkDuplicate: false };
    const a = await mariadb.createConnection({ ...direct, ...opts });
    const b = await mariadb.createConnection({ host: '127.0.0.1', port: gw.port(), user: 'ci', password: 'ci-secret-0123456789', database: direct.database, ...opts });
    for (const q of QUERIES) {
      assert.deepEqual(await b.query(q), await a.query(q), q);
      assert.deepEqual(await b.execute(q), await a.execute(q), `execute ${q}`);
    }
    await b.query('CREATE TEMPORARY TABLE t (id INT, v VARCHAR(10))');
    const r = await b.batch('INSERT INTO t VALUES (?, ?)', [[1, 'a'], [2, 'b'], [3, 'c']]);
    // One OK for the whole batch, as directly: the gateway offers MariaDB's bulk capability and relays the command.
    assert.equal((r as { affectedRows: number }).affectedRows, 3);
    assert.deepEqual(await b.query('SELECT * FROM t ORDER BY id'), [{ id: 1, v: 'a' }, { id: 2, v: 'b' }, { id: 3, v: 'c' }]);
    const s = (await gw.gateway.store.listSessions({ subject: 'ci', limit: 1 }))[0]!;
    const ev = (await gw.gateway.store.getSession(s.id))!.events.find((e) => e.type === 'execute' && e.detail?.bulk);
    assert.deepEqual((ev!.detail!.bulk as { params: { value: unknown }[][] }).params.map((row) => row.map((p) => p.value)), [[1, 'a'], [2, 'b'], [3, 'c']]);
    await a.end();
    await b.end();
  });

  test('sysbench oltp_read_write with prepared statements runs without errors', { timeout: 120_000 }, async () => {
    const common = [`--mysql-host=127.0.0.1`, `--mysql-port=${gw.port()}`, '--mysql-user=ci', '--mysql-password=ci-secret-0123456789',
      `--mysql-db=${direct.database}`, '--tables=2', '--table-size=2000', '--mysql-ssl=off'];
    await run('sysbench', ['oltp_read_write', ...common, 'prepare'], { encoding: 'utf8' });
    const out = await run('sysbench', ['oltp_read_write', ...common, '--db-ps-mode=auto', '--threads=4', '--time=5', '--report-interval=0', 'run'], { encoding: 'utf8' });
    assert.match(out.stdout, /queries:\s+(\d+)/);
    const queries = Number(/queries:\s+(\d+)/.exec(out.stdout)![1]);
    assert.ok(queries > 500, `only ${queries} queries`);
    // oltp_read_write tolerates deadlocks between its own threads ("ignored errors"); anything else is fatal.
    assert.doesNotMatch(out.stdout + out.stderr, /FATAL/);
    assert.match(out.stdout, /reconnects:\s+0 /);
    // The prepared statements really went through as COM_STMT_EXECUTE, and were recorded with their parameters.
    const s = (await gw.gateway.store.listSessions({ subject: 'ci', limit: 10 }))[0]!;
    const full = await gw.gateway.store.getSession(s.id);
    assert.ok(full!.events.some((e) => e.type === 'execute' && (e.params?.length ?? 0) > 0));
    await run('sysbench', ['oltp_read_write', ...common, 'cleanup'], { encoding: 'utf8' });
  });
});

