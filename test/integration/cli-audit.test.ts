// `agentgate audit verify | search | prune` against a real gateway and its SQLite store, including a row edited
// directly in the database file.
import assert from 'node:assert/strict';
import { DatabaseSync } from 'node:sqlite';
import { after, before, describe, test } from 'node:test';
import { cli, jsonOf, startCliGateway, TOKENS, type CliGateway } from '../helpers/cli.ts';
import { eventually } from '../helpers/wait.ts';

const POLICIES = `  - name: agents
    groups: [agents]
    targets: ["*"]
    retention: 2s
  - name: ci
    groups: [ci]
    targets: ["*"]`;

describe('agentgate audit', () => {
  let g: CliGateway;
  let agentSession: string;
  let ciSession: string;
  const api = { AGENTGATE_TOKEN: TOKENS.bob };
  const audit = (...args: string[]) => cli(['audit', ...args, '--api', g.apiUrl], api);

  before(async () => {
    g = await startCliGateway({ policies: POLICIES });
    const db = g.upstream.database;
    g.root(`CREATE TABLE ${db}.people (id INT PRIMARY KEY, email VARCHAR(100), name VARCHAR(50)); INSERT INTO ${db}.people VALUES (1, 'zed@example.com', 'Zed'), (2, 'amy@example.com', 'Amy')`);
    const a = await g.connect('agent');
    await a.query('SELECT email, name FROM people WHERE id = 1');
    await a.end();
    const c = await g.connect('ci');
    await c.query('SELECT name FROM people ORDER BY id');
    await c.end();
    const list = await eventually(async () => {
      const r = jsonOf(await cli(['sessions', 'list', '--api', g.apiUrl, '--json'], api));
      return r.sessions.length === 2 && r.sessions.every((s: { endedAt: string | null }) => s.endedAt) ? r.sessions : null;
    }, 10_000, 'both sessions to be recorded');
    ciSession = list[0].id;
    agentSession = list[1].id;
  });
  after(async () => {
    await g?.stop();
  });

  test('verify: ok with every event counted; any admin may run it', async () => {
    const r = await audit('verify', '--json');
    assert.equal(r.code, 0, r.stderr);
    const v = jsonOf(r);
    assert.equal(v.ok, true);
    assert.equal(v.firstBad, null);
    assert.ok(v.events >= 6, `${v.events} events`);
    const human = await audit('verify');
    assert.equal(human.code, 0);
    assert.match(human.stdout, /^ok: \d+ events verified \(/);
  });

  test('search --value and --column: who saw what', async () => {
    const byValue = await audit('search', '--value', 'Zed', '--json');
    assert.equal(byValue.code, 0, byValue.stderr);
    const hits = jsonOf(byValue).hits as { sessionId: string; seq: number; column: string }[];
    assert.deepEqual(hits.map((h) => h.sessionId).sort(), [agentSession, ciSession].sort());
    for (const h of hits) {
      assert.equal(h.column, `${g.upstream.database}.people.name`);
      assert.equal(h.seq, 2);
    }
    const byColumn = jsonOf(await audit('search', '--column', `${g.upstream.database}.people.email`, '--json')).hits;
    assert.deepEqual(byColumn, [{ sessionId: agentSession, seq: 2, column: `${g.upstream.database}.people.email` }]);
    const star = jsonOf(await audit('search', '--column', '*.people.*', '--json')).hits as unknown[];
    assert.equal(star.length, 3);
    const sub = jsonOf(await audit('search', '--value', 'example.com', '--substring', '--json')).hits;
    assert.deepEqual(sub.map((h: { sessionId: string }) => h.sessionId), [agentSession]);
    assert.deepEqual(jsonOf(await audit('search', '--value', 'nobody', '--json')), { hits: [] });
    const human = await audit('search', '--value', 'Amy');
    assert.match(human.stdout, /^SESSION\s+EVENT\s+COLUMN$/m);
    assert.match(human.stdout, new RegExp(`^${ciSession}\\s+#2\\s+${g.upstream.database}\\.people\\.name$`, 'm'));
  });

  test('search: bad usage exits 2', async () => {
    for (const [args, re] of [
      [[], /exactly one of --value V or --column DB\.TABLE\.COL/],
      [['--value', 'a', '--column', 'a.b.c'], /exactly one of/],
      [['--column', 'people.email'], /--column: "people\.email" is not DB\.TABLE\.COL/],
      [['--column', 'a.b.c', '--substring'], /--substring applies to --value/],
      [['--value', 'x', '--limit', '5000'], /out of range \(1-1000\)/],
    ] as const) {
      const r = await audit('search', ...args);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });

  test('prune: removes the sessions past their policy\'s retention, keeps the others, and the chain still verifies', async () => {
    const noEnv = await cli(['audit', 'prune', '--config', g.configFile], {});
    assert.equal(noEnv.code, 2);
    assert.match(noEnv.stderr, /agentgate\.yaml: targets\[0\]\.upstream\.password: environment variable UPSTREAM_PASSWORD is not set/);
    // The agents policy keeps sessions for 2 s after they end.
    await new Promise((r) => setTimeout(r, 2500));
    const r = await cli(['audit', 'prune', '--config', g.configFile, '--json'], g.env);
    assert.equal(r.code, 0, r.stderr);
    const p = jsonOf(r);
    assert.equal(p.policies.length, 1);
    assert.equal(p.policies[0].policy, 'agents');
    assert.equal(p.policies[0].removed.sessions, 1);
    assert.ok(p.policies[0].removed.records >= 3);
    assert.deepEqual(p.keptPolicies, ['ci']);
    assert.equal(p.total.sessions, 1);
    const left = jsonOf(await cli(['sessions', 'list', '--api', g.apiUrl, '--json'], api)).sessions.map((s: { id: string }) => s.id);
    assert.deepEqual(left, [ciSession]);
    const gone = await cli(['sessions', 'show', agentSession, '--api', g.apiUrl], api);
    assert.equal(gone.code, 1);
    assert.match(gone.stderr, /HTTP 404/);
    const v = jsonOf(await audit('verify', '--json'));
    assert.equal(v.ok, true, JSON.stringify(v));
    const again = await cli(['audit', 'prune', '--config', g.configFile], g.env);
    assert.equal(again.code, 0);
    assert.match(again.stdout, /^agents\s+2s\s+\S+ \S+Z\s+0\s+0$/m);
    assert.match(again.stdout, /removed 0 sessions/);
    assert.match(again.stdout, /kept without limit \(no retention\): ci/);
  });

  test('verify finds a row edited in the SQLite file: exit 1, naming the session and event', async () => {
    const db = new DatabaseSync(g.dbFile, { timeout: 5000 });
    try {
      const no = (db.prepare('SELECT no FROM sessions WHERE id = ?').get(ciSession) as { no: number }).no;
      const changed = db.prepare("UPDATE events SET body = replace(body, 'ORDER BY id', 'ORDER BY id DESC') WHERE session_no = ? AND seq = 2").run(no);
      assert.equal(changed.changes, 1);
    } finally {
      db.close();
    }
    const r = await audit('verify', '--json');
    assert.equal(r.code, 1);
    const v = jsonOf(r);
    assert.equal(v.ok, false);
    assert.deepEqual(v.firstBad, { sessionId: ciSession, seq: 2 });
    const human = await audit('verify');
    assert.equal(human.code, 1);
    assert.match(human.stdout, new RegExp(`^TAMPERED: the record of session ${ciSession}, event #2 does not verify`, 'm'));
  });
});
