// `agentgate approvals …` against a real gateway holding real statements, and the approvals event stream seen
// through `curl -N`.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { after, before, describe, test } from 'node:test';
import { cli, jsonOf, startCliGateway, TOKENS, type CliGateway } from '../helpers/cli.ts';
import { eventually } from '../helpers/wait.ts';

const POLICIES = `  - name: agents
    groups: [agents]
    targets: ["*"]
    rules:
      - { name: drops-need-approval, kinds: [drop, truncate], action: approve }`;

interface ApprovalJson {
  id: string;
  sessionId: string;
  target: string;
  identity: { subject: string; groups: string[]; via: string };
  sql: string;
  kinds: string[];
  status: string;
  createdAt: string;
  decidedAt: string | null;
  decidedBy: string | null;
  reason: string | null;
}

describe('agentgate approvals', () => {
  let g: CliGateway;
  const as = (who: keyof typeof TOKENS) => ({ AGENTGATE_TOKEN: TOKENS[who] });
  const run = (who: keyof typeof TOKENS, ...args: string[]) => cli(['approvals', ...args, '--api', g.apiUrl], as(who));

  before(async () => {
    g = await startCliGateway({ policies: POLICIES });
    g.root(`CREATE TABLE ${g.upstream.database}.t1 (a INT); CREATE TABLE ${g.upstream.database}.t2 (a INT); INSERT INTO ${g.upstream.database}.t2 VALUES (1)`);
  });
  after(async () => {
    await g?.stop();
  });

  const pending = async (sql: string): Promise<ApprovalJson> => eventually(async () => {
    const r = await run('alice', 'list', '--json');
    assert.equal(r.code, 0, r.stderr);
    return (jsonOf(r).approvals as ApprovalJson[]).find((a) => a.sql === sql && a.status === 'pending');
  }, 15_000, `a pending approval for ${sql}`);

  test('a held statement: 403 for a non-approver and for the requester itself, approval by an approver, then 409', async () => {
    const agent = await g.connect('agent');
    const carol = await g.connect('carol');
    try {
      const drop = agent.query('DROP TABLE t1');
      const truncate = carol.query('TRUNCATE TABLE t2');
      // Keep the rejections observed while the test works on them.
      const truncated = truncate.then(() => null, (e: Error) => e);

      const a = await pending('DROP TABLE t1');
      const c = await pending('TRUNCATE TABLE t2');
      assert.deepEqual(a.identity, { subject: 'agent', groups: ['agents'], via: 'service_account' });
      assert.deepEqual(a.kinds, ['drop']);
      assert.equal(a.target, 'app');
      assert.equal(a.decidedAt, null);
      assert.match(a.createdAt, /Z$/);
      for (const k of ['id', 'sessionId', 'target', 'identity', 'sql', 'kinds', 'status', 'createdAt', 'decidedAt', 'decidedBy', 'reason']) assert.ok(k in a, k);

      const list = await run('alice', 'list');
      assert.equal(list.code, 0);
      assert.match(list.stdout, /^ID\s+STATUS\s+CREATED \(UTC\)\s+EXPIRES \(UTC\)\s+TARGET\s+REQUESTED BY\s+DECIDED BY\s+STATEMENT$/m);
      assert.match(list.stdout, new RegExp(`^${a.id}\\s+pending\\s+\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}Z.*agent\\s+-\\s+DROP TABLE t1$`, 'm'));

      const bob = await run('bob', 'approve', a.id, '--reason', 'looks fine');
      assert.equal(bob.code, 1);
      assert.match(bob.stderr, /^agentgate: bob is not in an approver group \(dba\) \(HTTP 403 FORBIDDEN\)$/m);

      const self = await run('carol', 'approve', c.id);
      assert.equal(self.code, 1);
      assert.match(self.stderr, /carol raised this request and cannot decide it \(HTTP 403 FORBIDDEN\)/);

      const ok = await run('alice', 'approve', a.id, '--reason', 'backup verified');
      assert.equal(ok.code, 0, ok.stderr);
      assert.equal(ok.stdout, `approval ${a.id} approved by alice: backup verified\n`);
      await drop;
      assert.equal(g.root(`SHOW TABLES FROM ${g.upstream.database} LIKE 't1'`).trim(), '', 'the held DROP ran once approved');

      const again = await run('carol', 'deny', a.id, '--reason', 'too late');
      assert.equal(again.code, 1);
      assert.match(again.stderr, /no longer pending \(approved\) \(HTTP 409 CONFLICT\)/);

      const denied = await run('alice', 'deny', c.id, '--reason', 'not today', '--json');
      assert.equal(denied.code, 0, denied.stderr);
      const dj = jsonOf<ApprovalJson>(denied);
      assert.equal(dj.status, 'denied');
      assert.equal(dj.decidedBy, 'alice');
      assert.equal(dj.reason, 'not today');
      const err = await truncated;
      assert.ok(err, 'the TRUNCATE was refused');
      assert.match(err.message, /^agentgate: approval denied/);
      assert.equal((err as Error & { errno?: number }).errno, 1227);
      assert.equal(g.root(`SELECT COUNT(*) FROM ${g.upstream.database}.t2`).trim(), '1');

      const show = await run('alice', 'show', a.id, '--json');
      assert.equal(jsonOf<ApprovalJson>(show).status, 'approved');
      const human = await run('alice', 'show', a.id);
      assert.match(human.stdout, /^status:\s+approved$/m);
      assert.match(human.stdout, /^decided:\s+\S+ \S+Z by alice$/m);
      assert.match(human.stdout, /^reason:\s+backup verified$/m);

      const all = jsonOf(await run('alice', 'list', '--status', 'all', '--json')).approvals as ApprovalJson[];
      assert.deepEqual(all.map((x) => x.status).sort(), ['approved', 'denied']);
      const none = await run('alice', 'list');
      assert.equal(none.stdout, 'no pending approval requests\n');
    } finally {
      await agent.end().catch(() => {});
      await carol.end().catch(() => {});
    }
  });

  test('the replay shows the approval with the statement it released', async () => {
    const sessions = jsonOf(await cli(['sessions', 'list', '--api', g.apiUrl, '--subject', 'agent', '--json'], as('alice'))).sessions;
    const r = await cli(['sessions', 'replay', sessions[0].id, '--no-wait', '--api', g.apiUrl], as('alice'));
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /#\d+ {2}approval\n {4}decided: approval \S+ approved by alice \(backup verified\)\n {4}DROP TABLE t1\n/);
    assert.match(r.stdout, /#\d+ {2}query {2}approve \(policy agents, rule drops-need-approval\).* → approved by alice/);
    assert.match(r.stdout, / {4}approval \S+: approved by alice \(backup verified\)\n/);
  });

  test('unknown ids and bad usage', async () => {
    const unknown = await run('alice', 'approve', 'no-such-approval');
    assert.equal(unknown.code, 1);
    assert.match(unknown.stderr, /no approval no-such-approval \(HTTP 404 NOT_FOUND\)/);
    const missing = await run('alice', 'approve');
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /missing required argument 'id'/);
    const status = await run('alice', 'list', '--status', 'waiting');
    assert.equal(status.code, 2);
    assert.match(status.stderr, /Allowed choices are pending, approved, denied, timed_out, expired, all/);
  });

  test('GET /api/approvals/stream through curl -N: an approval event on creation and on decision', async () => {
    const curl = spawn('curl', ['-sS', '-N', '-H', `Authorization: Bearer ${TOKENS.alice}`, `${g.apiUrl}/api/approvals/stream`]);
    let seen = '';
    curl.stdout.setEncoding('utf8').on('data', (d: string) => { seen += d; });
    const agent = await g.connect('agent');
    try {
      await eventually(async () => seen.includes(': agentgate approvals'), 10_000, 'the stream to open');
      g.root(`CREATE TABLE ${g.upstream.database}.t3 (a INT)`);
      const drop = agent.query('DROP TABLE t3');
      const created = await eventually(async () => /event: approval\ndata: (\{.*"sql":"DROP TABLE t3".*\})\n\n/.exec(seen), 10_000, 'the creation event');
      const a = JSON.parse(created[1]!) as ApprovalJson;
      assert.equal(a.status, 'pending');
      assert.equal((await run('alice', 'approve', a.id)).code, 0);
      await eventually(async () => seen.includes(`"id":"${a.id}"`) && /"status":"approved"/.test(seen), 10_000, 'the decision event');
      await drop;
    } finally {
      curl.kill();
      await agent.end().catch(() => {});
    }
  });
});
