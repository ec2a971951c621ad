// `minRows` rules decide on the upstream's own EXPLAIN estimate: a DELETE that would touch many rows is refused,
// one that touches a few runs; for prepared statements the estimate is made at EXECUTE, with the parameters.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startTestGateway, defaultYaml, upstreamSetup, type TestGateway } from '../helpers/gateway.ts';

describe('row-estimate rules (minRows)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      yaml: (p) => defaultYaml(p, {
        policies: `  - name: agents
    groups: [agents]
    targets: ["*"]
    rules:
      - { name: big-deletes, kinds: [delete, update], minRows: 100, action: deny }`,
      }),
    });
    const rows = Array.from({ length: 2000 }, (_v, i) => `(${i}, '${i < 10 ? 'rare' : 'common'}')`).join(',');
    await upstreamSetup(gw.upstream, 'CREATE TABLE events (id INT PRIMARY KEY, kind VARCHAR(10), KEY (kind))',
      `INSERT INTO events VALUES ${rows}`, 'ANALYZE TABLE events');
  });
  after(async () => {
    await gw?.stop();
  });

  const agent = () => mysql.createConnection({ host: '127.0.0.1', port: gw.port(), user: 'agent', password: 'agent-secret-0123456789', database: gw.upstream.database });

  test('text protocol: a DELETE estimated at 100 rows or more is refused, a small one runs', async () => {
    const c = await agent();
    await assert.rejects(c.query("DELETE FROM events WHERE kind = 'common'"), (e: { errno?: number; message: string }) => {
      assert.equal(e.errno, 1227);
      assert.match(e.message, /^agentgate: denied by policy/);
      return true;
    });
    const [r] = (await c.query('DELETE FROM events WHERE id = 5')) as unknown as [{ affectedRows: number }];
    assert.equal(r.affectedRows, 1);
    await c.end();
    const [s] = await gw.gateway.store.listSessions({ subject: 'agent', limit: 1 });
    const ev = (await gw.gateway.store.getSession(s!.id))!.events.find((e) => e.sql === "DELETE FROM events WHERE kind = 'common'");
    assert.ok(Number(ev!.detail!.estimatedRows) >= 100, 'the estimate is recorded');
    assert.equal(ev!.decision!.rule, 'big-deletes');
  });

  test('prepared statements are estimated at EXECUTE with their parameters', async () => {
    const c = await agent();
    const [small] = (await c.execute('DELETE FROM events WHERE kind = ?', ['rare'])) as unknown as [{ affectedRows: number }];
    assert.ok(small.affectedRows >= 1);
    await assert.rejects(c.execute('DELETE FROM events WHERE kind = ?', ['common']), (e: { errno?: number }) => e.errno === 1227);
    const [[{ n }]] = (await c.query("SELECT COUNT(*) AS n FROM events WHERE kind = 'common'")) as unknown as [[{ n: number }]];
    assert.equal(n, 1990, 'nothing was deleted');
    await c.end();
  });
});
