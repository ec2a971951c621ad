// Every HTTP API route of a real gateway, after real sessions (a masked read, a prepared statement, a denied
// statement, a failed login): no answer may contain the vaulted upstream password or any other secret.
import assert from 'node:assert/strict';
import { request } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { SECRETS, startCliGateway, TOKENS, type CliGateway } from '../helpers/cli.ts';

const POLICIES = `  - name: agents
    groups: [agents, ci]
    targets: ["*"]
    rules:
      - { unboundedWrite: true, action: deny }
    masking:
      - { columns: ["*.accounts.card"], style: hash }`;

/** The SSE stream for a moment: its opening comment and whatever arrives meanwhile. */
function streamFor(url: string, ms: number): Promise<string> {
  return new Promise((resolve, reject) => {
    const req = request(url, { headers: { authorization: `Bearer ${TOKENS.alice}` } }, (res) => {
      let buf = `${JSON.stringify(res.headers)}\n`;
      res.setEncoding('utf8').on('data', (d: string) => { buf += d; });
      setTimeout(() => {
        req.destroy();
        resolve(buf);
      }, ms);
    });
    req.on('error', reject);
    req.end();
  });
}

describe('HTTP API of a running gateway: no secret in any answer', () => {
  let g: CliGateway;
  const answers: { what: string; text: string }[] = [];

  before(async () => {
    g = await startCliGateway({ policies: POLICIES });
    g.root(`CREATE TABLE ${g.upstream.database}.accounts (id INT PRIMARY KEY, card VARCHAR(20), owner VARCHAR(20));
      INSERT INTO ${g.upstream.database}.accounts VALUES (1, '4111111111111111', 'Ann')`);
    const c = await g.connect('agent');
    await c.query('SELECT id, card, owner FROM accounts');
    await c.execute('SELECT owner FROM accounts WHERE id = ?', [1]);
    await assert.rejects(c.query('DELETE FROM accounts'), /denied by policy/);
    await c.end();
    await assert.rejects(g.connect('ci', { password: 'a-wrong-secret-0000' }), /Access denied/);
  });
  after(async () => {
    await g?.stop();
  });

  test('every route answers, none with a secret', async () => {
    const get = async (path: string, token: string | null = TOKENS.alice, init: RequestInit = {}) => {
      const r = await fetch(`${g.apiUrl}${path}`, { ...init, headers: { ...(token ? { authorization: `Bearer ${token}` } : {}), ...(init.headers ?? {}) } });
      const text = await r.text();
      answers.push({ what: `${init.method ?? 'GET'} ${path}`, text: `${JSON.stringify([...r.headers])}\n${text}` });
      return { status: r.status, text };
    };
    assert.equal((await get('/healthz', null)).status, 200);
    assert.equal((await get('/metrics', null)).status, 200);
    const list = await get('/api/sessions');
    assert.equal(list.status, 200);
    const ids = (JSON.parse(list.text) as { sessions: { id: string }[] }).sessions.map((s) => s.id);
    assert.ok(ids.length >= 1);
    for (const id of ids) {
      assert.equal((await get(`/api/sessions/${id}`)).status, 200);
      assert.equal((await get(`/api/sessions/${id}/export`)).status, 200);
    }
    assert.equal((await get('/api/approvals?status=all')).status, 200);
    assert.equal((await get('/api/audit/verify')).status, 200);
    assert.equal((await get('/api/audit/search?value=Ann')).status, 200);
    assert.equal((await get(`/api/audit/search?column=${g.upstream.database}.accounts.card`)).status, 200);
    // Error answers too.
    assert.equal((await get('/api/sessions', 'a-wrong-token-000000')).status, 401);
    assert.equal((await get('/api/sessions?since=garbage')).status, 400);
    assert.equal((await get('/api/approvals/nope/approve', TOKENS.bob, { method: 'POST', body: '{}', headers: { 'content-type': 'application/json' } })).status, 403);
    assert.equal((await get('/api/approvals/nope/approve', TOKENS.alice, { method: 'POST', body: '{"reason": 1}', headers: { 'content-type': 'application/json' } })).status, 400);
    answers.push({ what: 'GET /api/approvals/stream', text: await streamFor(`${g.apiUrl}/api/approvals/stream`, 300) });

    // The masked card was recorded as the client received it, never in clear.
    const all = answers.map((a) => a.text).join('\n');
    assert.match(all, /"card"/);
    assert.ok(!all.includes('4111111111111111'), 'a masked value in clear');

    const secrets: Record<string, string> = {
      'upstream password': g.upstream.password,
      'agent secret': SECRETS.agent,
      'carol secret': SECRETS.carol,
      'ci secret': SECRETS.ci,
      'alice token': TOKENS.alice,
      'bob token': TOKENS.bob,
      'carol token': TOKENS.carol,
      'masking hash key': 'cli-test-hash-key-0123456789',
    };
    for (const a of answers) {
      for (const [name, secret] of Object.entries(secrets)) assert.ok(!a.text.includes(secret), `${a.what} contains the ${name}`);
    }
  });
});
