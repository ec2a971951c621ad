// Commands whose meaning the gateway must translate rather than forward blindly: COM_CHANGE_USER (re-authenticates
// through the gateway's identity), KILL (names the gateway's connection ids), LOAD DATA LOCAL INFILE (refused unless
// a policy allows it).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { Readable } from 'node:stream';
import mysql from 'mysql2/promise';
import { startTestGateway, defaultYaml, type TestGateway } from '../helpers/gateway.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { untilRunning } from '../helpers/mariadb.ts';
import { Writer } from '../../src/protocol/buffer.ts';

const CI = { user: 'ci', password: 'ci-secret-0123456789' };
const AGENT = { user: 'agent', password: 'agent-secret-0123456789' };

describe('translated commands', () => {
  let gw: TestGateway;

  before(async () => {
    gw = await startTestGateway({
      yaml: (p) => defaultYaml(p, {
        policies: `  - name: loaders
    groups: [ci]
    targets: ["*"]
    rules:
      - { name: local-files, kinds: [load_data, insert], action: allow }
  - name: agents
    groups: [agents, dba]
    targets: ["*"]`,
      }),
    });
    const c = await mysql.createConnection({ host: gw.upstream.host, port: gw.upstream.port, user: gw.upstream.user, password: gw.upstream.password, database: gw.upstream.database });
    await c.query('CREATE TABLE loaded (a INT, b VARCHAR(20))');
    await c.end();
  });

  after(async () => {
    await gw?.stop();
  });

  const open = (who: typeof CI, extra: Record<string, unknown> = {}) =>
    mysql.createConnection({ host: '127.0.0.1', port: gw.port(), ...who, database: gw.upstream.database, ...extra });

  test('COM_CHANGE_USER re-authenticates through the gateway and starts a new recorded session', async () => {
    const c = await open(CI);
    const [[before]] = (await c.query('SELECT CONNECTION_ID() AS tid')) as unknown as [[{ tid: number }]];
    await c.changeUser({ user: AGENT.user, password: AGENT.password, database: gw.upstream.database });
    const [[after]] = (await c.query('SELECT CONNECTION_ID() AS tid, DATABASE() AS db')) as unknown as [[{ tid: number; db: string }]];
    assert.equal(after.tid, before.tid, 'same upstream connection, reset');
    assert.equal(after.db, gw.upstream.database);
    await c.end();
    const [agentSession] = await gw.gateway.store.listSessions({ subject: 'agent', limit: 1 });
    assert.ok(agentSession, 'the new identity has its own session');
    const full = await gw.gateway.store.getSession(agentSession.id);
    assert.ok(full!.events.some((e) => e.type === 'query' && /DATABASE\(\)/.test(e.sql ?? '')));
    const ciSessions = await gw.gateway.store.listSessions({ subject: 'ci', limit: 5 });
    assert.ok(ciSessions.some((s) => /change user to agent/.test(s.endCause ?? '')));
  });

  test('COM_CHANGE_USER with a wrong secret is refused with 1045 and the connection ends', async () => {
    const c = await open(CI);
    await assert.rejects(c.changeUser({ user: AGENT.user, password: 'wrong-secret-xxxxxxxx' }), (e: { errno?: number }) => e.errno === 1045);
    c.destroy();
  });

  test('KILL QUERY with the id a client learned from the gateway interrupts that query', async () => {
    const a = await open(CI);
    const b = await open(CI);
    const SLEEP = 'SELECT SLEEP(30) AS kill_query_target';
    const sleeping = a.query(SLEEP).then(() => null, (e: { errno?: number }) => e);
    await untilRunning(gw.upstream, SLEEP);
    const t0 = Date.now();
    await b.query(`KILL QUERY ${a.threadId}`);
    assert.equal((await sleeping)?.errno, 1317);
    assert.ok(Date.now() - t0 < 5_000);
    // Only the query was killed: the connection goes on.
    await a.query('SELECT 1');
    await a.end();
    await b.end();
  });

  test('KILL aimed at another identity\'s connection is refused', async () => {
    const a = await open(CI);
    const agent = await open(AGENT);
    await assert.rejects(agent.query(`KILL ${a.threadId}`), (e: { errno?: number; message: string }) => {
      assert.equal(e.errno, 1227);
      assert.match(e.message, /^agentgate: denied by policy: KILL may only target your own connections/);
      return true;
    });
    await a.query('SELECT 1');
    await a.end();
    await agent.end();
  });

  test('COM_PROCESS_KILL is translated the same way', async () => {
    const a = await open(CI);
    const raw = await RawClient.connect({ host: '127.0.0.1', port: gw.port(), ...CI });
    // Settled into a value at once: the rejection comes while the test is still sending the kill.
    const SLEEP = 'SELECT SLEEP(30) AS process_kill_target';
    const sleeping = a.query(SLEEP).then(() => null, (e: Error) => e);
    await untilRunning(gw.upstream, SLEEP);
    const r = await raw.command(new Writer().u8(0x0c).u32(a.threadId!).finish(), 'simple');
    assert.equal(r[0]![4], 0x00, 'OK');
    assert.ok((await sleeping) instanceof Error, 'the killed connection\'s query failed');
    raw.close();
  });

  test('LOAD DATA LOCAL INFILE runs when a rule allows load_data explicitly', async () => {
    const c = await open(CI, { infileStreamFactory: () => Readable.from([Buffer.from('1\tone\n2\ttwo\n')]) } as never);
    const [r] = (await c.query("LOAD DATA LOCAL INFILE 'rows.tsv' INTO TABLE loaded")) as unknown as [{ affectedRows: number }];
    assert.equal(r.affectedRows, 2);
    await c.end();
  });

  test('LOAD DATA LOCAL INFILE is refused with a clear error otherwise, and the connection stays usable', async () => {
    let asked = false;
    const c = await open(AGENT, { infileStreamFactory: () => { asked = true; return Readable.from([Buffer.from('3\tthree\n')]); } } as never);
    await assert.rejects(c.query("LOAD DATA LOCAL INFILE 'rows.tsv' INTO TABLE loaded"), (e: { errno?: number; message: string }) => {
      assert.equal(e.errno, 1148);
      assert.match(e.message, /^agentgate: LOAD DATA LOCAL INFILE is not allowed/);
      return true;
    });
    assert.equal(asked, false, 'the client was never asked for a file');
    const [rows] = await c.query('SELECT COUNT(*) AS n FROM loaded');
    assert.deepEqual(rows, [{ n: 2 }]);
    await c.end();
  });
});
