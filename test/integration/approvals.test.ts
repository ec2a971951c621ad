// Just-in-time approval of single statements: a DROP by an agent through the mariadb CLI waits until an approver
// decides; a denial and a timeout leave the connection usable; retry mode; two gateways sharing a PostgreSQL store
// release each other's statements; every request and decision reaches a signed webhook; 200 held statements on 200
// connections are all released when approved in bulk.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { createHmac } from 'node:crypto';
import { createServer, type Server } from 'node:http';
import { rmSync } from 'node:fs';
import { join } from 'node:path';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { startTestGateway, writeTestConfig, defaultYaml, repoRoot, upstreamAccount, upstreamSetup, type TestGateway, type ConfigParts } from '../helpers/gateway.ts';
import { waitForPort } from '../helpers/ports.ts';
import { eventually } from '../helpers/wait.ts';
import { testPostgresDatabase } from '../helpers/postgres.ts';
import type { Approval } from '../../src/audit/types.ts';

const run = promisify(execFile);
const AGENT = { user: 'agent', password: 'agent-secret-0123456789' };
const ALICE = 'alice-token-0123456789abcdef';
const cli = (args: string[], env: Record<string, string> = {}) =>
  run(process.execPath, [join(repoRoot, 'bin', 'agentgate.js'), ...args], { env: { ...process.env, ...env } });

const policies = (mode: 'hold' | 'retry' = 'hold') => `  - name: agents
    groups: [agents]
    targets: ["*"]
    approvalMode: ${mode}
    rules:
      - { name: drops-need-approval, kinds: [drop, truncate], action: approve }
      - { name: payments, kinds: [update], tables: ["*.payments"], action: approve }
  - name: ops
    groups: [ci, dba]
    targets: ["*"]`;

async function pending(apiUrl: string, n = 1, timeoutMs = 20_000): Promise<Approval[]> {
  const deadline = Date.now() + timeoutMs;
  for (;;) {
    const r = await fetch(`${apiUrl}/api/approvals?status=pending&limit=1000`, { headers: { authorization: `Bearer ${ALICE}` } });
    const { approvals } = (await r.json()) as { approvals: Approval[] };
    if (approvals.length >= n) return approvals;
    if (Date.now() > deadline) throw new Error(`${approvals.length} pending approvals, expected ${n}`);
    await new Promise((res) => setTimeout(res, 50));
  }
}

async function decide(apiUrl: string, id: string, what: 'approve' | 'deny', token = ALICE, reason = 'checked'): Promise<Response> {
  return fetch(`${apiUrl}/api/approvals/${id}/${what}`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ reason }),
  });
}

/** A webhook receiver that checks signatures and keeps every delivery. */
async function webhookReceiver(secret: string): Promise<{ url: string; got: { event: string; id: string; status: string; signed: boolean; slack: boolean }[]; close: () => void }> {
  const got: { event: string; id: string; status: string; signed: boolean; slack: boolean }[] = [];
  const srv: Server = createServer((req, res) => {
    let body = '';
    req.on('data', (d) => (body += d));
    req.on('end', () => {
      const ts = String(req.headers['x-agentgate-timestamp'] ?? '');
      const sig = String(req.headers['x-agentgate-signature'] ?? '');
      const expected = `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
      const doc = JSON.parse(body) as { text?: string; blocks?: unknown[]; agentgate: { event: string; approval: Approval } };
      got.push({
        event: doc.agentgate.event,
        id: doc.agentgate.approval.id,
        status: doc.agentgate.approval.status,
        signed: sig === expected,
        slack: typeof doc.text === 'string' && Array.isArray(doc.blocks),
      });
      res.end('ok');
    });
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  return { url: `http://127.0.0.1:${(srv.address() as { port: number }).port}/hook`, got, close: () => srv.close() };
}

describe('approval of single statements (hold mode)', () => {
  let gw: TestGateway;
  let hook: Awaited<ReturnType<typeof webhookReceiver>>;

  before(async () => {
    hook = await webhookReceiver('hook-secret-0123456789');
    gw = await startTestGateway({
      // carol is both an approver (admin) and an agent (service account): she must not approve her own statements.
      yaml: (p) => defaultYaml(p, {
        policies: policies(),
        approvals: `  timeout: 3s\n  webhook: ${hook.url}\n  webhookSecret: hook-secret-0123456789`,
      }).replace('    - { name: dba-bot,', '    - { name: carol, secret: carol-secret-0123456789, groups: [agents] }\n    - { name: dba-bot,'),
    });
    await upstreamSetup(gw.upstream, 'CREATE TABLE victim (id INT)', 'CREATE TABLE keeper (id INT)',
      'CREATE TABLE payments (id INT PRIMARY KEY, status VARCHAR(10))', "INSERT INTO payments VALUES (1, 'paid')");
  });

  after(async () => {
    await gw?.stop();
    hook?.close();
  });

  test('a DROP through the mariadb CLI waits; `agentgate approvals approve` lets it run and the CLI prints its OK', async () => {
    const db = gw.upstream.database;
    const agent = run('mariadb', ['-h127.0.0.1', `-P${gw.port()}`, `-u${AGENT.user}`, `-p${AGENT.password}`, '--skip-ssl', '-vv', db, '-e', 'DROP TABLE victim']);
    const [a] = await pending(gw.apiUrl);
    assert.equal(a!.sql, 'DROP TABLE victim');
    assert.equal(a!.identity.subject, 'agent');
    assert.equal(a!.rule, 'drops-need-approval');
    assert.deepEqual(a!.kinds, ['drop']);
    const approved = await cli(['approvals', 'approve', a!.id, '--reason', 'cleanup agreed', '--api', gw.apiUrl], { AGENTGATE_TOKEN: ALICE });
    assert.match(approved.stdout, /approved/);
    const out = await agent;
    assert.match(out.stdout, /Query OK/);
    const u = gw.upstream;
    const c = await mysql.createConnection({ host: u.host, port: u.port, user: u.user, password: u.password, database: db });
    const [rows] = await c.query("SHOW TABLES LIKE 'victim'");
    assert.equal((rows as unknown[]).length, 0, 'the table was dropped');
    await c.end();
  });

  test('a denial through the API gets 1227 "agentgate: approval denied"; the table still exists; the connection goes on', async () => {
    const c = await mysql.createConnection({ host: '127.0.0.1', port: gw.port(), ...AGENT, database: gw.upstream.database });
    const held = c.query('DROP TABLE keeper').then(() => null, (e: { errno?: number; message: string }) => e);
    const [a] = await pending(gw.apiUrl);
    const r = await decide(gw.apiUrl, a!.id, 'deny', ALICE, 'not today');
    assert.equal(r.status, 200);
    const e = await held;
    assert.equal(e?.errno, 1227);
    assert.match(e!.message, /^agentgate: approval denied/);
    assert.match(e!.message, /not today/);
    const [rows] = await c.query("SHOW TABLES LIKE 'keeper'");
    assert.equal((rows as unknown[]).length, 1);
    await c.end();
  });

  test('a decided request answers 409; a non-approver and the requester get 403', async () => {
    const c = await mysql.createConnection({ host: '127.0.0.1', port: gw.port(), user: 'carol', password: 'carol-secret-0123456789', database: gw.upstream.database });
    const held = c.query("UPDATE payments SET status = 'refunded' WHERE id = 1").then(() => null, (e: Error) => e);
    const [a] = await pending(gw.apiUrl);
    assert.equal(a!.identity.subject, 'carol');
    assert.equal((await decide(gw.apiUrl, a!.id, 'approve', 'bob-token-0123456789abcdef')).status, 403, 'bob is not an approver');
    assert.equal((await decide(gw.apiUrl, a!.id, 'approve', 'carol-token-0123456789abcdef')).status, 403, 'carol raised it');
    assert.equal((await decide(gw.apiUrl, a!.id, 'approve')).status, 200);
    assert.equal(await held, null);
    assert.equal((await decide(gw.apiUrl, a!.id, 'deny', ALICE)).status, 409);
    await c.end();
  });

  test('no decision in time: 1227 "agentgate: approval timed out", and the connection runs the next statement', async () => {
    const c = await mysql.createConnection({ host: '127.0.0.1', port: gw.port(), ...AGENT, database: gw.upstream.database });
    const t0 = Date.now();
    await assert.rejects(c.query('TRUNCATE TABLE keeper'), (e: { errno?: number; message: string }) => {
      assert.equal(e.errno, 1227);
      assert.match(e.message, /^agentgate: approval timed out/);
      return true;
    });
    assert.ok(Date.now() - t0 >= 2_900);
    const [rows] = await c.query('SELECT 1 AS still_here');
    assert.deepEqual(rows, [{ still_here: 1 }]);
    await c.end();
  });

  test('the webhook got one signed, Slack-compatible request per new approval and per decision', async () => {
    const approvals = (await (await fetch(`${gw.apiUrl}/api/approvals?status=all`, { headers: { authorization: `Bearer ${ALICE}` } })).json()) as { approvals: Approval[] };
    // Deliveries are sent after the API answers: wait until each approval's two have arrived.
    const delivered = (id: string, event: string) => hook.got.some((g) => g.id === id && g.event === event);
    await eventually(async () => approvals.approvals.every((a) => delivered(a.id, 'created') && delivered(a.id, 'decided')), 10_000, 'every delivery');
    for (const a of approvals.approvals) {
      const forIt = hook.got.filter((g) => g.id === a.id);
      assert.equal(forIt.filter((g) => g.event === 'created').length, 1, `one creation for ${a.id}`);
      assert.equal(forIt.filter((g) => g.event === 'decided').length, 1, `one decision for ${a.id}`);
    }
    assert.ok(hook.got.length >= 8);
    assert.ok(hook.got.every((g) => g.signed), 'every delivery is signed with the secret');
    assert.ok(hook.got.every((g) => g.slack), 'every payload is a Slack message');
  });
});

describe('retry mode', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ yaml: (p) => defaultYaml(p, { policies: policies('retry') }) });
    await upstreamSetup(gw.upstream, 'CREATE TABLE t1 (id INT)');
  });
  after(async () => {
    await gw?.stop();
  });

  test('refused at once with the approval id; once approved, the identical statement runs once', async () => {
    const c = await mysql.createConnection({ host: '127.0.0.1', port: gw.port(), ...AGENT, database: gw.upstream.database });
    let id = '';
    await assert.rejects(c.query('DROP TABLE t1'), (e: { errno?: number; message: string }) => {
      assert.equal(e.errno, 1227);
      const m = /^agentgate: approval required: approval ([0-9a-f-]{36}) is pending/.exec(e.message);
      assert.ok(m, e.message);
      id = m![1]!;
      return true;
    });
    assert.equal((await decide(gw.apiUrl, id, 'approve')).status, 200);
    await c.query('DROP TABLE t1');
    await c.query('CREATE TABLE t1 (id INT)');
    await assert.rejects(c.query('DROP TABLE t1'), (e: { errno?: number }) => e.errno === 1227, 'the approval is used up');
    await c.end();
  });
});

describe('two approvers (minApprovals: 2)', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({
      yaml: (p) => defaultYaml(p, {
        policies: `  - name: agents
    groups: [agents]
    targets: ["*"]
    rules:
      - { name: two-eyes, kinds: [drop], action: approve, minApprovals: 2 }
  - name: ops
    groups: [ci, dba]
    targets: ["*"]`,
      }),
    });
    await upstreamSetup(gw.upstream, 'CREATE TABLE twice (id INT)');
  });
  after(async () => {
    await gw?.stop();
  });

  test('one approval does not release the statement, nor the same approver twice; a second approver does', async () => {
    const c = await mysql.createConnection({ host: '127.0.0.1', port: gw.port(), ...AGENT, database: gw.upstream.database });
    let done = false;
    const held = c.query('DROP TABLE twice').then(() => { done = true; });
    const [a] = await pending(gw.apiUrl);
    assert.equal(a!.minApprovals, 2);
    assert.equal(a!.rule, 'two-eyes');
    assert.equal((await decide(gw.apiUrl, a!.id, 'approve')).status, 200, 'alice approves');
    assert.equal((await decide(gw.apiUrl, a!.id, 'approve')).status, 409, 'alice cannot approve twice');
    await new Promise((r) => setTimeout(r, 300));
    assert.equal(done, false, 'one approval of two does not release the statement');
    const [still] = await pending(gw.apiUrl);
    assert.equal(still!.votes.length, 1);
    assert.equal((await decide(gw.apiUrl, a!.id, 'approve', 'carol-token-0123456789abcdef')).status, 200, 'carol approves');
    await held;
    const decided = (await (await fetch(`${gw.apiUrl}/api/approvals/${a!.id}`, { headers: { authorization: `Bearer ${ALICE}` } })).json()) as Approval;
    assert.equal(decided.status, 'approved');
    assert.deepEqual(decided.votes.map((v) => v.by).sort(), ['alice', 'carol']);
    await assert.rejects(c.query('SELECT * FROM twice'), (e: { errno?: number }) => e.errno === 1146, 'the table is gone');
    await c.end();
  });
});

describe('two gateways on one PostgreSQL store', () => {
  const children: ChildProcess[] = [];
  const dirs: string[] = [];
  after(() => {
    for (const c of children) if (c.exitCode === null) c.kill('SIGTERM');
    for (const d of dirs) rmSync(d, { recursive: true, force: true });
  });

  test('raised on one, approved through the other, released in under a second', { timeout: 120_000 }, async (t) => {
    const pg = await testPostgresDatabase();
    const upstream = await upstreamAccount();
    const yaml = (p: ConfigParts) => defaultYaml(p, { policies: policies() }).replace(/store: sqlite:.*\n/, `store: ${pg}\n`);
    const started: { port: number; api: string }[] = [];
    for (let i = 0; i < 2; i++) {
      const cfg = await writeTestConfig({ upstream, yaml });
      dirs.push(cfg.dir);
      const child = spawn(process.execPath, [join(repoRoot, 'bin', 'agentgate.js'), 'serve', '--config', cfg.configFile], { env: { ...process.env, ...cfg.env }, stdio: 'ignore' });
      children.push(child);
      await waitForPort('127.0.0.1', cfg.parts.ports.app!, 30_000);
      await waitForPort('127.0.0.1', cfg.parts.apiPort, 30_000);
      started.push({ port: cfg.parts.ports.app!, api: `http://127.0.0.1:${cfg.parts.apiPort}` });
    }
    const c = await mysql.createConnection({ host: upstream.host, port: upstream.port, user: upstream.user, password: upstream.password, database: upstream.database });
    await c.query('CREATE TABLE shared_victim (id INT)');
    await c.end();
    const agent = await mysql.createConnection({ host: '127.0.0.1', port: started[0]!.port, ...AGENT, database: upstream.database });
    let releasedAt = 0;
    const held = agent.query('DROP TABLE shared_victim').then(() => { releasedAt = Date.now(); });
    const [a] = await pending(started[1]!.api);
    const decidedAt = Date.now();
    assert.equal((await decide(started[1]!.api, a!.id, 'approve')).status, 200);
    await held;
    const latency = releasedAt - decidedAt;
    t.diagnostic(`released ${latency} ms after the decision through the other gateway`);
    assert.ok(latency < 1_000, `released after ${latency} ms`);
    await agent.end();
  });
});

describe('many held statements', () => {
  let gw: TestGateway;
  before(async () => {
    gw = await startTestGateway({ yaml: (p) => defaultYaml(p, { policies: policies(), approvals: '  timeout: 120s' }) });
    const values = Array.from({ length: 200 }, (_v, i) => `(${i}, 'paid')`).join(',');
    await upstreamSetup(gw.upstream, 'CREATE TABLE payments (id INT PRIMARY KEY, status VARCHAR(10))', `INSERT INTO payments VALUES ${values}`);
  });
  after(async () => {
    await gw?.stop();
  });

  test('200 statements waiting on 200 connections are all released correctly when approved in bulk', { timeout: 180_000 }, async () => {
    const conns = await Promise.all(Array.from({ length: 200 }, () =>
      mysql.createConnection({ host: '127.0.0.1', port: gw.port(), ...AGENT, database: gw.upstream.database })));
    const held = conns.map((c, i) => c.query(`UPDATE payments SET status = 'r${i}' WHERE id = ${i}`).then((r) => (r[0] as { affectedRows: number }).affectedRows));
    const waiting = await pending(gw.apiUrl, 200, 60_000);
    assert.equal(waiting.length, 200);
    const decisions = await Promise.all(waiting.map((a) => decide(gw.apiUrl, a.id, 'approve')));
    assert.ok(decisions.every((r) => r.status === 200));
    const results = await Promise.all(held);
    assert.deepEqual(results, Array(200).fill(1));
    const u = gw.upstream;
    const c = await mysql.createConnection({ host: u.host, port: u.port, user: u.user, password: u.password, database: u.database });
    const [rows] = (await c.query('SELECT id, status FROM payments ORDER BY id')) as unknown as [{ id: number; status: string }[]];
    assert.ok(rows.every((r) => r.status === `r${r.id}`), 'each connection ran exactly its own statement');
    await c.end();
    await Promise.all(conns.map((c) => c.end()));
  });
});
