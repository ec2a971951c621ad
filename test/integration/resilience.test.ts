// Bad input closes or errors only the connection it came on: a malformed or truncated packet, a wrong sequence id,
// a client that vanishes mid-result, an upstream that refuses or dies. The gateway keeps serving everyone else.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { connect, type Socket } from 'node:net';
import mysql from 'mysql2/promise';
import { startTestGateway, defaultYaml, type TestGateway } from '../helpers/gateway.ts';
import { RawClient } from '../helpers/raw-client.ts';
import { rootSql, testMariaDB } from '../helpers/mariadb.ts';
import { freePort } from '../helpers/ports.ts';
import { eventually } from '../helpers/wait.ts';

const CI = { user: 'ci', password: 'ci-secret-0123456789' };

/** Resolves with everything received once the peer closes (or after `ms`). */
function readUntilClose(s: Socket, ms = 5_000): Promise<Buffer> {
  return new Promise((resolve) => {
    const parts: Buffer[] = [];
    const t = setTimeout(() => resolve(Buffer.concat(parts)), ms);
    s.on('data', (d) => parts.push(d));
    s.on('close', () => {
      clearTimeout(t);
      resolve(Buffer.concat(parts));
    });
    s.on('error', () => {});
  });
}

describe('bad input affects only its own connection', () => {
  let gw: TestGateway;
  let bystander: mysql.Connection;

  before(async () => {
    const deadPort = await freePort();
    gw = await startTestGateway({
      targets: ['dead'],
      // A second target whose server is not there.
      yaml: (p) => defaultYaml(p).replace('tls:\n  cert:', `  - name: dead
    listen: 127.0.0.1:${p.ports.dead}
    upstream: { host: 127.0.0.1, port: ${deadPort}, user: nobody, password: x, tls: disabled, connectTimeout: 2s }
tls:
  cert:`),
    });
    bystander = await mysql.createConnection({ host: '127.0.0.1', port: gw.port(), ...CI, database: gw.upstream.database });
  });

  after(async () => {
    await bystander?.end().catch(() => {});
    await gw?.stop();
  });

  async function bystanderStillWorks(): Promise<void> {
    const [rows] = await bystander.query('SELECT 41 + 1 AS answer');
    assert.deepEqual(rows, [{ answer: 42 }]);
  }

  test('garbage instead of a handshake response closes that connection', async () => {
    const s = connect({ host: '127.0.0.1', port: gw.port() });
    s.once('data', () => s.write(Buffer.from('0a000001ffffffffffffffffffff', 'hex')));
    await readUntilClose(s);
    assert.ok(s.destroyed || s.readableEnded);
    await bystanderStillWorks();
  });

  test('a command with a wrong sequence id gets a protocol error and the connection is closed', async () => {
    const c = await RawClient.connect({ host: '127.0.0.1', port: gw.port(), ...CI });
    const closed = new Promise<void>((r) => c.up.conn.socket.once('close', () => r()));
    // COM_QUERY "SELECT 1" with sequence id 5 instead of 0.
    c.up.conn.write(Buffer.concat([Buffer.from([9, 0, 0, 5, 3]), Buffer.from('SELECT 1')]));
    const p = await c.up.conn.readPacket();
    assert.equal(p.payload[0], 0xff);
    assert.match(p.payload.subarray(9).toString(), /agentgate: malformed packet: a command must start with sequence id 0/);
    await closed;
    await bystanderStillWorks();
  });

  test('a truncated packet followed by a hang-up is cleaned up', async () => {
    const before = new Set((await gw.gateway.store.listSessions({ subject: 'ci', limit: 1000 })).map((s) => s.id));
    const c = await RawClient.connect({ host: '127.0.0.1', port: gw.port(), ...CI });
    const session = (await gw.gateway.store.listSessions({ subject: 'ci', limit: 1000 })).find((s) => !before.has(s.id));
    assert.ok(session, 'the connection has a session');
    c.up.conn.write(Buffer.from([100, 0, 0, 0, 3, 0x53, 0x45]));
    c.up.conn.socket.end();
    const ended = await eventually(async () => {
      const s = await gw.gateway.store.getSession(session.id);
      return s?.endedAt ? s : null;
    }, 10_000, 'the session\'s end');
    assert.equal(ended.endCause, 'client closed');
    await bystanderStillWorks();
  });

  test('a COM_STMT_EXECUTE too short for its parameters is a protocol error for that connection only', async () => {
    const c = await RawClient.connect({ host: '127.0.0.1', port: gw.port(), ...CI });
    const prep = await c.command(Buffer.concat([Buffer.from([0x16]), Buffer.from('SELECT ?')]), 'prepare');
    const id = prep[0]!.readUInt32LE(5);
    const closed = new Promise<void>((r) => c.up.conn.socket.once('close', () => r()));
    const bad = Buffer.alloc(10);
    bad[0] = 0x17;
    bad.writeUInt32LE(id, 1);
    c.up.conn.write(Buffer.concat([Buffer.from([bad.length, 0, 0, 0]), bad]));
    const p = await c.up.conn.readPacket();
    assert.equal(p.payload[0], 0xff);
    await closed;
    await bystanderStillWorks();
  });

  test('a client that vanishes mid-result: its upstream connection is closed, the session recorded', async () => {
    const c = await mysql.createConnection({ host: '127.0.0.1', port: gw.port(), ...CI });
    const [[{ tid }]] = (await c.query('SELECT CONNECTION_ID() AS tid')) as unknown as [[{ tid: number }]];
    const raw = (c as unknown as { connection: import('mysql2').Connection }).connection;
    const stream = raw.query("SELECT seq, REPEAT('x', 500) AS pad FROM mysql.seq_1_to_2000000").stream();
    await new Promise<void>((resolve) => stream.once('data', () => resolve()));
    (raw as unknown as { stream: Socket }).stream.destroy();
    const srv = await testMariaDB();
    for (let i = 0; ; i++) {
      const alive = rootSql(srv, `SELECT COUNT(*) FROM information_schema.PROCESSLIST WHERE ID = ${tid}`).trim();
      if (alive === '0') break;
      assert.ok(i < 100, 'the upstream connection of a vanished client stays open');
      await new Promise((r) => setTimeout(r, 100));
    }
    await bystanderStillWorks();
  });

  test('an upstream that is not there: a clear error at login, other targets unaffected', async () => {
    await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port: gw.port('dead'), ...CI }), (e: { errno?: number; message: string }) => {
      assert.equal(e.errno, 2013);
      assert.match(e.message, /^agentgate: upstream unavailable: target "dead"/);
      return true;
    });
    const metrics = await (await fetch(`${gw.apiUrl}/metrics`)).text();
    assert.match(metrics, /agentgate_upstream_errors_total\{target="dead"\} [1-9]/);
    await bystanderStillWorks();
  });

  test('an upstream connection killed while idle closes that client; one killed mid-statement answers an error', async () => {
    const srv = await testMariaDB();
    const victim = await mysql.createConnection({ host: '127.0.0.1', port: gw.port(), ...CI });
    const [[{ tid }]] = (await victim.query('SELECT CONNECTION_ID() AS tid')) as unknown as [[{ tid: number }]];
    const closed = new Promise<void>((r) => victim.once('error', () => r()));
    rootSql(srv, `KILL ${tid}`);
    await closed;

    const busy = await mysql.createConnection({ host: '127.0.0.1', port: gw.port(), ...CI });
    const [[{ tid: tid2 }]] = (await busy.query('SELECT CONNECTION_ID() AS tid')) as unknown as [[{ tid: number }]];
    const sleeping = busy.query('SELECT SLEEP(20)');
    await new Promise((r) => setTimeout(r, 300));
    rootSql(srv, `KILL ${tid2}`);
    await assert.rejects(sleeping);
    await bystanderStillWorks();
  });
});
