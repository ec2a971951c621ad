// `agentgate sessions …` as a child process against a real gateway (in this process) on the test MariaDB.
import assert from 'node:assert/strict';
import { spawn } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { cli, jsonOf, REPO, startCliGateway, TOKENS, type CliGateway } from '../helpers/cli.ts';

const POLICIES = `  - name: agents
    groups: [agents]
    targets: ["*"]
    rules:
      - { name: no-unbounded-writes, unboundedWrite: true, action: deny }
    masking:
      - { columns: ["*.users.email"], style: partial }
      - { columns: ["*.users.ssn"], style: hash }
  - name: ci
    groups: [ci]
    targets: ["*"]`;

const SELECT_ALL = 'SELECT id, email, ssn, name FROM users ORDER BY id';
const BY_ID = 'SELECT name, email FROM users WHERE id = ?';
const UPDATE = "UPDATE users SET name = 'Ann' WHERE id = 1";

describe('agentgate sessions', () => {
  let g: CliGateway;
  let agentSession: string;
  let ciSession: string;
  let api: Record<string, string>;
  const env = () => ({ AGENTGATE_TOKEN: TOKENS.alice });

  before(async () => {
    g = await startCliGateway({ policies: POLICIES });
    g.root(`CREATE TABLE ${g.upstream.database}.users (id INT PRIMARY KEY, email VARCHAR(100), ssn CHAR(11), name VARCHAR(50));
      INSERT INTO ${g.upstream.database}.users VALUES (1, 'ann@example.com', '123-45-6789', 'Ann'), (2, 'bob@example.com', '987-65-4321', 'Bob')`);
    api = { AGENTGATE_TOKEN: TOKENS.alice };
    const c = await g.connect('agent');
    await c.query(SELECT_ALL);
    // A pause the replay has to reproduce.
    await new Promise((r) => setTimeout(r, 1200));
    await assert.rejects(c.query('DELETE FROM users'), /agentgate: denied by policy/);
    await c.execute(BY_ID, [2]);
    await c.query(UPDATE);
    await c.end();
    const ci = await g.connect('ci');
    await ci.query('SELECT 1 AS one');
    await ci.end();
    // Both sessions are closed and recorded.
    for (;;) {
      const r = jsonOf(await cli(['sessions', 'list', '--api', g.apiUrl, '--json'], env()));
      if (r.sessions.length === 2 && r.sessions.every((s: { endedAt: string | null }) => s.endedAt)) {
        ciSession = r.sessions[0].id;
        agentSession = r.sessions[1].id;
        break;
      }
      await new Promise((res) => setTimeout(res, 100));
    }
  });
  after(async () => {
    await g?.stop();
  });

  describe('list', () => {
    test('--json: one document, newest first, with the contract fields', async () => {
      const r = await cli(['sessions', 'list', '--api', g.apiUrl, '--json'], api);
      assert.equal(r.code, 0, r.stderr);
      const doc = jsonOf(r);
      assert.deepEqual(Object.keys(doc).sort(), ['next', 'sessions']);
      assert.deepEqual(doc.sessions.map((s: { id: string }) => s.id), [ciSession, agentSession]);
      const s = doc.sessions[1];
      for (const k of ['id', 'target', 'identity', 'client', 'startedAt', 'endedAt', 'statements']) assert.ok(k in s, k);
      assert.deepEqual(s.identity, { subject: 'agent', groups: ['agents'], via: 'service_account' });
      assert.equal(s.target, 'app');
      assert.match(s.client, /^127\.0\.0\.1:\d+$/);
      assert.match(s.startedAt, /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      assert.equal(s.denied, 1);
    });

    test('filters, and the api.listen of --config as the default --api', async () => {
      const ids = async (...args: string[]) => jsonOf(await cli(['sessions', 'list', '--config', g.configFile, '--json', ...args], api)).sessions.map((s: { id: string }) => s.id);
      // The child has no UPSTREAM_PASSWORD: it only needs the API's address from the file.
      assert.deepEqual(await ids('--subject', 'agent'), [agentSession]);
      assert.deepEqual(await ids('--subject', 'ci'), [ciSession]);
      assert.deepEqual(await ids('--since', '1h'), [ciSession, agentSession]);
      assert.deepEqual(await ids('--since', '2099-01-01'), []);
      assert.deepEqual(await ids('--denied'), [agentSession]);
      assert.deepEqual(await ids('--limit', '1'), [ciSession]);
      assert.deepEqual(await ids('--limit', '1', '--before', ciSession), [agentSession]);
    });

    test('a readable table with times in UTC', async () => {
      const r = await cli(['sessions', 'list', '--api', g.apiUrl], api);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n');
      assert.match(lines[0]!, /^ID\s+STARTED \(UTC\)\s+ENDED \(UTC\)\s+TARGET\s+SUBJECT\s+VIA/);
      assert.match(r.stdout, new RegExp(`${agentSession}\\s+\\d{4}-\\d{2}-\\d{2} \\d{2}:\\d{2}:\\d{2}Z\\s+\\S+ \\S+Z\\s+app\\s+agent\\s+service_account`));
    });

    for (const [args, re] of [
      [['--limit', '0'], /--limit.*out of range \(1-1000\)/],
      [['--since', 'last tuesday'], /neither an ISO 8601 time/],
      [['--kind', 'selct'], /Allowed choices are select, insert/],
      [['--frobnicate'], /unknown option '--frobnicate'/],
    ] as const) {
      test(`bad usage exits 2: ${args.join(' ')}`, async () => {
        const r = await cli(['sessions', 'list', '--api', g.apiUrl, ...args], api);
        assert.equal(r.code, 2);
        assert.match(r.stderr, re);
        assert.equal(r.stdout, '');
      });
    }
  });

  describe('show and export', () => {
    test('show --json: the session with its events, rows masked as the client received them', async () => {
      const r = await cli(['sessions', 'show', agentSession, '--api', g.apiUrl, '--json'], api);
      assert.equal(r.code, 0, r.stderr);
      const s = jsonOf(r);
      assert.equal(s.id, agentSession);
      const types = s.events.map((e: { type: string }) => e.type);
      assert.deepEqual(types, ['connect', 'query', 'query', 'prepare', 'execute', 'query', 'disconnect']);
      const sel = s.events[1];
      assert.equal(sel.sql, SELECT_ALL);
      assert.deepEqual(sel.decision, { action: 'allow', policy: 'agents', rule: null, reason: sel.decision.reason });
      assert.deepEqual(sel.columns.map((c: { name: string; masked: string | null }) => [c.name, c.masked]), [['id', null], ['email', 'partial'], ['ssn', 'hash'], ['name', null]]);
      assert.equal(sel.rows.length, 2);
      assert.equal(sel.rows[0][0], '1');
      assert.notEqual(sel.rows[0][1], 'ann@example.com');
      assert.notEqual(sel.rows[0][2], '123-45-6789');
      assert.equal(sel.rows[0][3], 'Ann');
      const denied = s.events[2];
      assert.equal(denied.decision.action, 'deny');
      assert.equal(denied.decision.rule, 'no-unbounded-writes');
      assert.equal(denied.error.code, 1227);
      const ex = s.events[4];
      assert.equal(ex.sql, BY_ID);
      assert.equal(ex.params.length, 1);
      assert.equal(ex.rows[0][0], 'Bob');
      assert.match(JSON.stringify(s), /"durationMs":/);
      // Never the vaulted credential.
      assert.ok(!r.stdout.includes(g.upstream.password));
    });

    test('show: a table of events', async () => {
      const r = await cli(['sessions', 'show', agentSession, '--api', g.apiUrl], api);
      assert.equal(r.code, 0, r.stderr);
      assert.match(r.stdout, /^session:\s+\S+/m);
      assert.match(r.stdout, /identity:\s+agent \(service_account; groups: agents\)/);
      assert.match(r.stdout, /SEQ\s+AT \(UTC\)\s+TYPE\s+DECISION/);
      assert.match(r.stdout, /query\s+deny \(no-unbounded-writes\)\s+[\d.]+ ms\s+error 1227: agentgate: denied by policy.*DELETE FROM users/);
      assert.match(r.stdout, /execute\s+allow\s+[\d.]+ ms\s+1 row\s+SELECT name, email FROM users WHERE id = \? \[2\]/);
    });

    test('export: JSON Lines, header first, then the chain records', async () => {
      const r = await cli(['sessions', 'export', agentSession, '--api', g.apiUrl], api);
      assert.equal(r.code, 0, r.stderr);
      const lines = r.stdout.trimEnd().split('\n').map((l) => JSON.parse(l));
      assert.equal(lines[0].type, 'agentgate-session-export');
      assert.equal(lines[0].session.id, agentSession);
      const seqs = lines.filter((l) => l.type === 'record').map((l) => l.seq).filter((n: number) => n > 0);
      assert.deepEqual(seqs, [1, 2, 3, 4, 5, 6, 7]);
    });

    test('API failures exit 1 with the message; a missing token exits 2', async () => {
      const unknown = await cli(['sessions', 'show', 'no-such-session', '--api', g.apiUrl], api);
      assert.equal(unknown.code, 1);
      assert.match(unknown.stderr, /^agentgate: no session no-such-session \(HTTP 404 NOT_FOUND\)$/m);
      const wrong = await cli(['sessions', 'list', '--api', g.apiUrl, '--token', 'not-the-token-at-all'], {});
      assert.equal(wrong.code, 1);
      assert.match(wrong.stderr, /the admin token is not valid \(HTTP 401 UNAUTHORIZED\)/);
      const none = await cli(['sessions', 'list', '--api', g.apiUrl], {});
      assert.equal(none.code, 2);
      assert.match(none.stderr, /an admin token is needed: pass --token TOKEN or set AGENTGATE_TOKEN/);
      const nowhere = await cli(['sessions', 'list'], api);
      assert.equal(nowhere.code, 2);
      assert.match(nowhere.stderr, /pass --api URL, or --config FILE/);
      const down = await cli(['sessions', 'list', '--api', 'http://127.0.0.1:1'], api);
      assert.equal(down.code, 1);
      assert.match(down.stderr, /cannot reach the agentgate API at http:\/\/127\.0\.0\.1:1/);
    });
  });

  describe('replay', () => {
    test('--no-wait: every statement, its decision, duration and the result as the client received it', async () => {
      const r = await cli(['sessions', 'replay', agentSession, '--api', g.apiUrl, '--no-wait'], api);
      assert.equal(r.code, 0, r.stderr);
      const out = r.stdout;
      assert.match(out, new RegExp(`^session ${agentSession} on app: agent \\(service_account\\)`, 'm'));
      assert.match(out, /#2 {2}query {2}allow {2}[\d.]+ ms\n {4}SELECT id, email, ssn, name FROM users ORDER BY id\n {4}id {2}email \[partial\] +ssn \[hash\] +name/);
      assert.ok(!out.includes('ann@example.com'), 'masked cells are shown as received');
      assert.ok(!out.includes('123-45-6789'));
      assert.match(out, /\(2 rows\)/);
      assert.match(out, /#3 {2}query {2}deny \(policy agents, rule no-unbounded-writes\) {2}[\d.]+ ms\n {4}why: .*DELETE.*every row/);
      assert.match(out, /error 1227 \(42000\): agentgate: denied by policy/);
      assert.match(out, /#5 {2}execute {2}allow .*\n {4}SELECT name, email FROM users WHERE id = \?\n {4}parameters: \[2\]\n {4}name +email \[partial\]\n {4}Bob /);
      assert.match(out, /\[\+1\.\d+s\] {2}#3/, 'the pause before the DELETE is shown');
    });

    test('timing: plays the pauses, scaled by --speed', async () => {
      // The pause before event #3 (about 1.2 s when recorded) is measured inside one run, between the arrival of the
      // lines around it, so process start-up time does not count.
      const pauseBefore3 = (...args: string[]) => new Promise<number>((resolve, reject) => {
        const child = spawn(process.execPath, [join(REPO, 'bin', 'agentgate.js'), 'sessions', 'replay', agentSession, '--api', g.apiUrl, ...args], {
          env: { ...process.env, ...api },
        });
        let buf = '';
        let at2 = 0;
        let at3 = 0;
        child.stdout.setEncoding('utf8').on('data', (d: string) => {
          buf += d;
          const now = performance.now();
          if (!at2 && /#2 {2}/.test(buf)) at2 = now;
          if (!at3 && /#3 {2}/.test(buf)) at3 = now;
        });
        child.on('error', reject);
        child.on('exit', (code) => (code === 0 && at2 && at3 ? resolve(at3 - at2) : reject(new Error(`replay exited ${code}: ${buf}`))));
      });
      const instant = await pauseBefore3('--no-wait');
      const real = await pauseBefore3();
      const fast = await pauseBefore3('--speed', '4');
      assert.ok(real >= 1000, `the 1.2 s pause was played (${Math.round(real)} ms)`);
      assert.ok(instant < real / 2, `--no-wait does not pause (${Math.round(instant)} ms)`);
      assert.ok(fast < real * 0.6, `--speed 4 pauses less (${Math.round(fast)} vs ${Math.round(real)} ms)`);
      const bad = await cli(['sessions', 'replay', agentSession, '--api', g.apiUrl, '--speed', '0'], api);
      assert.equal(bad.code, 2);
      assert.match(bad.stderr, /--speed.*not a number above 0/);
    });

    test('--execute: reads run again and compare equal, masked cells included; refused and writing statements are skipped', async () => {
      const r = await cli(['sessions', 'replay', agentSession, '--execute', '--config', g.configFile, '--json'], { ...api, ...g.env });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const rep = jsonOf(r);
      assert.equal(rep.readOnly, true);
      assert.equal(rep.hashKey, 'config');
      const bySeq = Object.fromEntries(rep.statements.map((s: { seq: number }) => [s.seq, s]));
      assert.equal(bySeq[2].status, 'same');
      assert.equal(bySeq[3].status, 'skipped');
      assert.match(bySeq[3].reason, /^refused at the time: deny/);
      assert.equal(bySeq[5].status, 'same');
      assert.deepEqual(bySeq[5].params.map((p: { value: unknown }) => p.value), [2]);
      assert.equal(bySeq[6].status, 'skipped');
      assert.match(bySeq[6].reason, /not a read \(update\); --allow-writes runs it/);
      assert.deepEqual(rep.summary, { same: 2, different: 0, skipped: 2, failed: 0 });
      const human = await cli(['sessions', 'replay', agentSession, '--execute', '--config', g.configFile], { ...api, ...g.env });
      assert.equal(human.code, 0, human.stderr);
      assert.match(human.stdout, /#2 {2}same {2}SELECT id, email, ssn, name FROM users ORDER BY id/);
      assert.match(human.stdout, /2 statements re-run: 2 same, 0 different; 2 skipped/);
    });

    test('--execute --allow-writes runs the write too', async () => {
      const r = await cli(['sessions', 'replay', agentSession, '--execute', '--allow-writes', '--config', g.configFile, '--json'], { ...api, ...g.env });
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      const rep = jsonOf(r);
      assert.equal(rep.readOnly, false);
      const upd = rep.statements.find((s: { seq: number }) => s.seq === 6);
      assert.equal(upd.status, 'same');
      assert.equal(rep.statements.find((s: { seq: number }) => s.seq === 3).status, 'skipped', 'a refused statement never runs');
    });

    test('--execute: a changed row is reported with a masked row diff, and exits 1', async () => {
      g.root(`UPDATE ${g.upstream.database}.users SET email = 'robert@example.org' WHERE id = 2`);
      try {
        const r = await cli(['sessions', 'replay', agentSession, '--execute', '--config', g.configFile, '--json'], { ...api, ...g.env });
        assert.equal(r.code, 1, r.stderr);
        const rep = jsonOf(r);
        const sel = rep.statements.find((s: { seq: number }) => s.seq === 2);
        assert.equal(sel.status, 'different');
        assert.equal(sel.removed.length, 1);
        assert.equal(sel.added.length, 1);
        assert.equal(sel.removed[0][0], '2');
        assert.equal(sel.added[0][0], '2');
        assert.notEqual(sel.removed[0][1], sel.added[0][1]);
        assert.ok(!JSON.stringify(rep).includes('robert@example.org'), 'the diff shows masked cells');
        assert.equal(rep.statements.find((s: { seq: number }) => s.seq === 5).status, 'different');
        const human = await cli(['sessions', 'replay', agentSession, '--execute', '--config', g.configFile], { ...api, ...g.env });
        assert.equal(human.code, 1);
        assert.match(human.stdout, /#2 {2}DIFFERENT {2}SELECT id, email/);
        assert.match(human.stdout, /row values: 1 recorded row\(s\) not returned now, 1 new row\(s\)/);
        assert.match(human.stdout, /^ +- +2 /m);
        assert.match(human.stdout, /^ +\+ +2 /m);
      } finally {
        g.root(`UPDATE ${g.upstream.database}.users SET email = 'bob@example.com' WHERE id = 2`);
      }
    });

    test('--execute needs the configuration in full, and a known target', async () => {
      const noEnv = await cli(['sessions', 'replay', agentSession, '--execute', '--config', g.configFile], api);
      assert.equal(noEnv.code, 2);
      assert.match(noEnv.stderr, /agentgate\.yaml: targets\[0\]\.upstream\.password: environment variable UPSTREAM_PASSWORD is not set/);
      const badTarget = await cli(['sessions', 'replay', agentSession, '--execute', '--config', g.configFile, '--target', 'nope'], { ...api, ...g.env });
      assert.equal(badTarget.code, 2);
      assert.match(badTarget.stderr, /--target: .* has no target "nope" \(targets: app\)/);
      const noConfig = await cli(['sessions', 'replay', agentSession, '--execute', '--api', g.apiUrl], api);
      assert.equal(noConfig.code, 2);
      assert.match(noConfig.stderr, /--execute needs --config FILE/);
    });
  });

  describe('verify --expect', () => {
    const file = (name: string, text: string) => {
      const p = join(g.dir, name);
      writeFileSync(p, text);
      return p;
    };

    test('the statements that ran, in order: exit 0 (the refused DELETE did not run)', async () => {
      const p = file('same.sql', `-- what the agent was asked to do
select id, email, ssn, name from users order by id;
SELECT name, email FROM users WHERE id = ?;
UPDATE users SET name = "Ann" WHERE id = 1;
`);
      const r = await cli(['sessions', 'verify', agentSession, '--expect', p, '--api', g.apiUrl], api);
      assert.equal(r.code, 0, `${r.stdout}\n${r.stderr}`);
      assert.match(r.stdout, /compared by normalised text/);
      assert.match(r.stdout, /refused by the gateway, so not run \(not compared\):\n {2}#3 {2}DELETE FROM users/);
      assert.match(r.stdout, /same: the session ran exactly the 3 expected statements, in order/);
    });

    test('altered, missing and extra statements: exit 1, listed; --json', async () => {
      const p = file('differs.sql', `SELECT id, email, ssn, name FROM users ORDER BY id;
UPDATE users SET name = 'Anne' WHERE id = 1;
DROP TABLE users;
`);
      const r = await cli(['sessions', 'verify', agentSession, '--expect', p, '--api', g.apiUrl, '--json'], api);
      assert.equal(r.code, 1);
      const rep = jsonOf(r);
      assert.equal(rep.by, 'text');
      assert.equal(rep.same, false);
      assert.deepEqual(rep.items.map((i: { kind: string }) => i.kind), ['same', 'altered', 'altered']);
      assert.equal(rep.items[1].ran.seq, 5);
      assert.equal(rep.items[2].ran.text, UPDATE);
      assert.equal(rep.refused.length, 1);
      const human = await cli(['sessions', 'verify', agentSession, '--expect', p, '--api', g.apiUrl], api);
      assert.equal(human.code, 1);
      assert.match(human.stdout, /ALTERED\s+#6\s+3\s+ran: {6}UPDATE users SET name = 'Ann' WHERE id = 1\n\s+expected: DROP TABLE users/);
      assert.match(human.stdout, /DIFFERENT: 2 altered, 0 missing, 0 extra \(1 as expected\)/);

      const short = file('short.sql', 'SELECT id, email, ssn, name FROM users ORDER BY id;\n');
      const s = jsonOf(await cli(['sessions', 'verify', agentSession, '--expect', short, '--api', g.apiUrl, '--json'], api));
      assert.deepEqual(s.counts, { same: 1, altered: 0, missing: 0, extra: 2 });
      const long = file('long.sql', `SELECT id, email, ssn, name FROM users ORDER BY id; SELECT name, email FROM users WHERE id = ?; ${UPDATE}; SELECT 42;`);
      const l = jsonOf(await cli(['sessions', 'verify', agentSession, '--expect', long, '--api', g.apiUrl, '--json'], api));
      assert.deepEqual(l.counts, { same: 3, altered: 0, missing: 1, extra: 0 });
    });

    test('--by fingerprint accepts other literals and says so', async () => {
      const p = file('fp.sql', `SELECT id, email, ssn, name FROM users ORDER BY id; SELECT name, email FROM users WHERE id = ?; UPDATE users SET name = 'Zed' WHERE id = 9;`);
      const byText = await cli(['sessions', 'verify', agentSession, '--expect', p, '--api', g.apiUrl], api);
      assert.equal(byText.code, 1);
      const byFp = await cli(['sessions', 'verify', agentSession, '--expect', p, '--by', 'fingerprint', '--api', g.apiUrl], api);
      assert.equal(byFp.code, 0, byFp.stdout);
      assert.match(byFp.stdout, /compared by fingerprint \(literals may differ\)/);
    });

    test('an unreadable file is bad usage', async () => {
      const r = await cli(['sessions', 'verify', agentSession, '--expect', join(g.dir, 'absent.sql'), '--api', g.apiUrl], api);
      assert.equal(r.code, 2);
      assert.match(r.stderr, /--expect: cannot read .*absent\.sql: ENOENT/);
    });
  });
});
