// The HTTP API through app.inject (no sockets), on a real SQLite audit store filled through its own write API.
import assert from 'node:assert/strict';
import { after, before, describe, test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import type { LightMyRequestResponse } from 'fastify';
import type { AuditStore } from '../audit/types.ts';
import { harness, SECRETS, type Harness } from '../../test/helpers/api.ts';

const ALICE = { authorization: `Bearer ${SECRETS.aliceToken}` };
const BOB = { authorization: `Bearer ${SECRETS.bobToken}` };
const CAROL = { authorization: `Bearer ${SECRETS.carolToken}` };

/** Every answer of the suite, scanned for secrets at the end. */
const seen: { what: string; body: string; headers: string }[] = [];

async function call(h: Harness, method: 'GET' | 'POST', url: string, opts: { headers?: Record<string, string>; body?: unknown } = {}): Promise<LightMyRequestResponse> {
  const r = await h.app.inject({
    method, url, headers: opts.headers ?? ALICE, ...(opts.body === undefined ? {} : { payload: opts.body as object }),
  });
  seen.push({ what: `${method} ${url}`, body: r.body, headers: JSON.stringify(r.headers) });
  return r;
}

function assertError(r: LightMyRequestResponse, status: number, code: string, message?: RegExp): void {
  assert.equal(r.statusCode, status, r.body);
  const b = r.json() as { error: { code: string; message: string } };
  assert.deepEqual(Object.keys(b), ['error']);
  assert.equal(b.error.code, code);
  assert.equal(typeof b.error.message, 'string');
  assert.ok(b.error.message.length > 0);
  assert.doesNotMatch(r.body, /\n\s+at /, 'no stack trace');
  if (message) assert.match(b.error.message, message);
}

describe('HTTP API', () => {
  let h: Harness;
  before(async () => {
    h = await harness();
  });
  after(async () => {
    await h.close();
  });

  describe('bearer authentication', () => {
    test('health and metrics need no token', async () => {
      const r = await call(h, 'GET', '/healthz', { headers: {} });
      assert.equal(r.statusCode, 200);
      assert.equal(r.json().ok, true);
      const m = await call(h, 'GET', '/metrics', { headers: {} });
      assert.equal(m.statusCode, 200);
      assert.match(m.body, /agentgate_connections_total/);
    });

    for (const [name, headers, why] of [
      ['no header', {}, /admin token is needed/],
      ['a wrong token', { authorization: 'Bearer not-a-token-of-anyone-here' }, /not valid/],
      ['another scheme', { authorization: `Basic ${SECRETS.aliceToken}` }, /must be "Bearer <token>"/],
      ['an empty bearer', { authorization: 'Bearer ' }, /must be "Bearer <token>"/],
    ] as const) {
      test(`401 with ${name}, on every /api route`, async () => {
        for (const [method, url] of [
          ['GET', '/api/sessions'], ['GET', '/api/sessions/s-old'], ['GET', '/api/sessions/s-old/export'],
          ['GET', '/api/approvals'], ['GET', '/api/approvals/ap-agent'], ['GET', '/api/approvals/stream'],
          ['POST', '/api/approvals/ap-agent/approve'], ['POST', '/api/approvals/ap-agent/deny'],
          ['GET', '/api/audit/verify'], ['GET', '/api/audit/search?value=Ann'],
        ] as const) {
          const r = await call(h, method, url, { headers });
          assertError(r, 401, 'UNAUTHORIZED', why);
          assert.equal(r.headers['www-authenticate'], 'Bearer realm="agentgate"');
        }
        // Nothing was decided by the refused calls.
        assert.equal((await h.store.getApproval('ap-agent'))!.status, 'pending');
      });
    }

    test('an unknown route is a JSON 404', async () => {
      assertError(await call(h, 'GET', '/api/nothing-here'), 404, 'NOT_FOUND', /no route GET \/api\/nothing-here/);
    });
  });

  describe('GET /api/sessions', () => {
    test('newest first, with the contract fields and times in UTC', async () => {
      const r = await call(h, 'GET', '/api/sessions');
      assert.equal(r.statusCode, 200);
      assert.match(String(r.headers['content-type']), /application\/json/);
      assert.equal(r.headers['cache-control'], 'no-store');
      const b = r.json() as { sessions: Record<string, unknown>[]; next: string | null };
      assert.deepEqual(b.sessions.map((s) => s.id), ['s-recent', 's-denied', 's-old']);
      assert.equal(b.next, null);
      const old = b.sessions[2]!;
      for (const k of ['id', 'target', 'identity', 'client', 'startedAt', 'endedAt', 'statements']) assert.ok(k in old, k);
      assert.deepEqual(old.identity, { subject: 'agent', groups: ['agents'], via: 'service_account' });
      assert.equal(old.client, '127.0.0.1:50000');
      assert.match(String(old.startedAt), /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}\.\d{3}Z$/);
      assert.match(String(old.endedAt), /Z$/);
      assert.equal(b.sessions[0]!.endedAt, null, 'the recent session is still open');
    });

    test('filters: target, subject, since, until, hasDenied, hasApproval, kind', async () => {
      const ids = async (q: string) => ((await call(h, 'GET', `/api/sessions?${q}`)).json() as { sessions: { id: string }[] }).sessions.map((s) => s.id);
      assert.deepEqual(await ids('subject=agent'), ['s-recent', 's-old']);
      assert.deepEqual(await ids('subject=ci'), ['s-denied']);
      assert.deepEqual(await ids('target=other'), []);
      assert.deepEqual(await ids('target=app&subject=agent'), ['s-recent', 's-old']);
      const dayAgo = new Date(Date.now() - 24 * 3600_000).toISOString();
      assert.deepEqual(await ids(`since=${dayAgo}`), ['s-recent', 's-denied']);
      assert.deepEqual(await ids(`until=${dayAgo}`), ['s-old']);
      // A date alone, and a time without a zone, are UTC.
      const d = new Date(Date.now() - 2 * 24 * 3600_000).toISOString().slice(0, 10);
      assert.deepEqual(await ids(`until=${d}`), ['s-old']);
      assert.deepEqual(await ids('hasDenied=true'), ['s-denied']);
      assert.deepEqual(await ids('hasDenied=false'), ['s-recent', 's-old']);
      assert.deepEqual(await ids('kind=delete'), ['s-denied']);
      assert.deepEqual(await ids('kind=select'), ['s-recent', 's-old']);
      assert.deepEqual(await ids('hasApproval=false'), ['s-recent', 's-denied', 's-old']);
    });

    test('limit and the before= cursor page through everything once', async () => {
      const p1 = (await call(h, 'GET', '/api/sessions?limit=2')).json() as { sessions: { id: string }[]; next: string };
      assert.deepEqual(p1.sessions.map((s) => s.id), ['s-recent', 's-denied']);
      assert.equal(p1.next, 's-denied');
      const p2 = (await call(h, 'GET', `/api/sessions?limit=2&before=${p1.next}`)).json() as { sessions: { id: string }[]; next: string | null };
      assert.deepEqual(p2.sessions.map((s) => s.id), ['s-old']);
      assert.equal(p2.next, null);
    });

    for (const [q, re] of [
      ['since=yesterday', /"since": "yesterday" is not an ISO 8601 time/],
      ['since=2026-13-45', /not an ISO 8601 time/],
      ['until=', /"until" is empty/],
      ['limit=0', /"limit": 0 is out of range \(1-1000\)/],
      ['limit=1001', /out of range/],
      ['limit=ten', /"limit": "ten" is not an integer/],
      ['hasDenied=maybe', /is not true or false/],
      ['kind=selct', /"kind": "selct" is not one of select, insert/],
      ['targt=app', /unknown query parameter "targt"/],
      ['target=a&target=b', /"target" is given 2 times/],
      ['since=2026-02-01&until=2026-01-01', /"since" .* is after "until"/],
    ] as const) {
      test(`400 for ${q}`, async () => {
        assertError(await call(h, 'GET', `/api/sessions?${q}`), 400, 'BAD_REQUEST', re);
      });
    }
  });

  describe('GET /api/sessions/:id', () => {
    test('the session with its events, rows decoded as the client received them', async () => {
      const r = await call(h, 'GET', '/api/sessions/s-old');
      assert.equal(r.statusCode, 200);
      const s = r.json() as { id: string; statements: number; events: Record<string, any>[] };
      assert.equal(s.id, 's-old');
      assert.deepEqual(s.events.map((e) => [e.seq, e.type]), [[1, 'connect'], [2, 'query'], [3, 'disconnect']]);
      const q = s.events[1]!;
      assert.equal(q.sql, 'SELECT id, email, name FROM shop.users');
      assert.deepEqual(q.kinds, ['select']);
      assert.deepEqual(q.decision, { action: 'allow', policy: 'agents', rule: null });
      assert.deepEqual(q.columns.map((c: any) => [c.name, c.db, c.table, c.masked]), [
        ['id', 'shop', 'users', null], ['email', 'shop', 'users', 'partial'], ['name', 'shop', 'users', null],
      ]);
      assert.deepEqual(q.rows, [['1', 'a****@example.com', 'Ann'], ['2', 'b****@example.com', null]]);
      assert.equal(q.rowCount, 2);
      assert.equal(q.durationMs, 1.5);
      assert.match(q.at, /Z$/);
    });

    test('a prepared statement: its parameters and its binary rows', async () => {
      const s = (await call(h, 'GET', '/api/sessions/s-recent')).json() as { events: Record<string, any>[] };
      const ex = s.events.find((e) => e.type === 'execute')!;
      assert.deepEqual(ex.params, [{ type: 'LONGLONG', value: 7 }]);
      assert.deepEqual(ex.rows, [['7', 'Grace']]);
    });

    test('a denied statement carries its decision and error', async () => {
      const s = (await call(h, 'GET', '/api/sessions/s-denied')).json() as { events: Record<string, any>[] };
      const d = s.events[1]!;
      assert.equal(d.decision.action, 'deny');
      assert.equal(d.error.code, 1227);
      assert.match(d.error.message, /^agentgate: denied by policy/);
    });

    test('404 for an unknown session; 400 for a query parameter', async () => {
      assertError(await call(h, 'GET', '/api/sessions/no-such-session'), 404, 'NOT_FOUND', /no session no-such-session/);
      assertError(await call(h, 'GET', '/api/sessions/s-old?rows=5'), 400, 'BAD_REQUEST', /unknown query parameter "rows"/);
    });
  });

  describe('GET /api/sessions/:id/export', () => {
    test('JSON Lines: the header, then one record per event', async () => {
      const r = await call(h, 'GET', '/api/sessions/s-old/export');
      assert.equal(r.statusCode, 200);
      assert.match(String(r.headers['content-type']), /^application\/x-ndjson/);
      assert.match(String(r.headers['content-disposition']), /attachment; filename="agentgate-session-s-old\.jsonl"/);
      const lines = r.body.trimEnd().split('\n').map((l) => JSON.parse(l) as { type: string; seq?: number; session?: { id: string } });
      assert.equal(lines[0]!.type, 'agentgate-session-export');
      assert.equal(lines[0]!.session!.id, 's-old');
      const seqs = lines.filter((l) => l.type === 'record').map((l) => l.seq);
      assert.deepEqual(seqs.filter((n) => n! > 0), [1, 2, 3]);
    });

    test('404 for an unknown session', async () => {
      assertError(await call(h, 'GET', '/api/sessions/nope/export'), 404, 'NOT_FOUND');
    });
  });

  describe('approvals', () => {
    test('GET /api/approvals?status=pending lists the queue, newest first', async () => {
      const r = await call(h, 'GET', '/api/approvals?status=pending');
      assert.equal(r.statusCode, 200);
      const b = r.json() as { approvals: Record<string, unknown>[] };
      assert.deepEqual(b.approvals.map((a) => a.id), ['ap-agent', 'ap-alice', 'ap-other']);
      for (const k of ['id', 'sessionId', 'target', 'identity', 'sql', 'kinds', 'status', 'createdAt', 'decidedAt', 'decidedBy', 'reason']) {
        assert.ok(k in b.approvals[0]!, k);
      }
      assertError(await call(h, 'GET', '/api/approvals?status=waiting'), 400, 'BAD_REQUEST', /"status": "waiting" is not one of pending, approved/);
    });

    test('GET /api/approvals/:id; 404 when unknown', async () => {
      const r = await call(h, 'GET', '/api/approvals/ap-other');
      assert.equal(r.statusCode, 200);
      assert.equal(r.json().sql, 'DROP TABLE shop.tmp');
      assertError(await call(h, 'GET', '/api/approvals/none'), 404, 'NOT_FOUND', /no approval none/);
    });

    test('403 for an admin outside the approver groups, and for the requester itself', async () => {
      assertError(await call(h, 'POST', '/api/approvals/ap-agent/approve', { headers: BOB, body: { reason: 'ok' } }), 403, 'FORBIDDEN', /bob is not in an approver group \(dba\)/);
      assertError(await call(h, 'POST', '/api/approvals/ap-alice/approve', { body: { reason: 'mine' } }), 403, 'FORBIDDEN', /alice raised this request and cannot decide it/);
      assertError(await call(h, 'POST', '/api/approvals/ap-alice/deny', {}), 403, 'FORBIDDEN');
      assert.equal((await h.store.getApproval('ap-alice'))!.status, 'pending');
    });

    test('400 for a malformed body', async () => {
      assertError(await call(h, 'POST', '/api/approvals/ap-agent/approve', { body: { reason: 5 } }), 400, 'BAD_REQUEST', /"reason" must be a string/);
      assertError(await call(h, 'POST', '/api/approvals/ap-agent/approve', { body: { reasn: 'x' } }), 400, 'BAD_REQUEST', /unknown field "reasn"/);
      assertError(await call(h, 'POST', '/api/approvals/ap-agent/approve', { body: ['x'] }), 400, 'BAD_REQUEST', /JSON object/);
      const r = await h.app.inject({ method: 'POST', url: '/api/approvals/ap-agent/approve', headers: { ...ALICE, 'content-type': 'application/json' }, payload: '{"reason":' });
      assertError(r, 400, 'BAD_REQUEST');
      assert.equal((await h.store.getApproval('ap-agent'))!.status, 'pending');
    });

    test('413 for a body over 64 KiB, 415 for a body that is not JSON', async () => {
      const big = await h.app.inject({ method: 'POST', url: '/api/approvals/ap-agent/approve', headers: { ...ALICE, 'content-type': 'application/json' }, payload: JSON.stringify({ reason: 'x'.repeat(70_000) }) });
      assertError(big, 413, 'PAYLOAD_TOO_LARGE');
      const text = await h.app.inject({ method: 'POST', url: '/api/approvals/ap-agent/approve', headers: { ...ALICE, 'content-type': 'text/plain' }, payload: 'approve it' });
      assertError(text, 415, 'UNSUPPORTED_MEDIA_TYPE');
      assert.equal((await h.store.getApproval('ap-agent'))!.status, 'pending');
    });

    test('approve: the decider is the admin; then 409 since it is no longer pending', async () => {
      const r = await call(h, 'POST', '/api/approvals/ap-agent/approve', { headers: CAROL, body: { reason: 'checked the backup' } });
      assert.equal(r.statusCode, 200, r.body);
      const a = r.json() as Record<string, any>;
      assert.equal(a.id, 'ap-agent');
      assert.equal(a.status, 'approved');
      assert.equal(a.decidedBy, 'carol');
      assert.equal(a.reason, 'checked the backup');
      assert.match(a.decidedAt, /^\d{4}-\d{2}-\d{2}T.*Z$/);
      assertError(await call(h, 'POST', '/api/approvals/ap-agent/deny', { body: { reason: 'too late' } }), 409, 'CONFLICT', /no longer pending \(approved\)/);
      assertError(await call(h, 'POST', '/api/approvals/ap-agent/approve', { headers: CAROL }), 409, 'CONFLICT');
    });

    test('deny without a body; 404 for an unknown id', async () => {
      const r = await call(h, 'POST', '/api/approvals/ap-other/deny');
      assert.equal(r.statusCode, 200, r.body);
      assert.equal(r.json().status, 'denied');
      assert.equal(r.json().decidedBy, 'alice');
      assertError(await call(h, 'POST', '/api/approvals/nope/deny', { body: {} }), 404, 'NOT_FOUND', /no approval nope/);
      const all = (await call(h, 'GET', '/api/approvals?status=all')).json() as { approvals: { id: string; status: string }[] };
      assert.deepEqual(Object.fromEntries(all.approvals.map((a) => [a.id, a.status])), { 'ap-agent': 'approved', 'ap-alice': 'pending', 'ap-other': 'denied' });
    });
  });

  describe('audit', () => {
    test('GET /api/audit/search?value= and ?column=', async () => {
      const v = await call(h, 'GET', '/api/audit/search?value=Ann');
      assert.equal(v.statusCode, 200);
      assert.deepEqual(v.json(), { hits: [{ sessionId: 's-old', seq: 2, column: 'shop.users.name' }] });
      const g = (await call(h, 'GET', '/api/audit/search?value=Grace')).json() as { hits: { sessionId: string; seq: number }[] };
      assert.deepEqual(g.hits.map((x) => [x.sessionId, x.seq]), [['s-recent', 3]]);
      const c = (await call(h, 'GET', '/api/audit/search?column=shop.users.email')).json() as { hits: { sessionId: string; seq: number; column: string }[] };
      assert.deepEqual(c.hits.map((x) => [x.sessionId, x.seq, x.column]), [['s-old', 2, 'shop.users.email']]);
      const star = (await call(h, 'GET', '/api/audit/search?column=shop.*.name')).json() as { hits: { sessionId: string }[] };
      assert.deepEqual(star.hits.map((x) => x.sessionId).sort(), ['s-old', 's-recent']);
      const sub = (await call(h, 'GET', '/api/audit/search?value=example.com&substring=true')).json() as { hits: unknown[] };
      // Both captured e-mail cells are one hit: hits are per event and column.
      assert.deepEqual(sub.hits, [{ sessionId: 's-old', seq: 2, column: 'shop.users.email' }]);
      assert.deepEqual((await call(h, 'GET', '/api/audit/search?value=nobody-saw-this')).json(), { hits: [] });
    });

    for (const [q, re] of [
      ['', /exactly one of "value"/],
      ['value=a&column=a.b.c', /exactly one of "value"/],
      ['column=users.email', /not DB.TABLE.COLUMN/],
      ['column=a.b*.c', /not DB.TABLE.COLUMN/],
      ['value=', /"value" is empty/],
      ['column=a.b.c&substring=true', /value search only/],
    ] as const) {
      test(`search: 400 for "${q}"`, async () => {
        assertError(await call(h, 'GET', `/api/audit/search?${q}`), 400, 'BAD_REQUEST', re);
      });
    }

    test('GET /api/audit/verify: ok, then the first bad event once a row is edited in the file', async () => {
      const ok = await call(h, 'GET', '/api/audit/verify');
      assert.equal(ok.statusCode, 200);
      const b = ok.json() as { ok: boolean; events: number; firstBad: unknown };
      assert.equal(b.ok, true);
      assert.equal(b.firstBad, null);
      assert.equal(b.events, 8);
      // Someone with write access to the database changes what a statement was.
      const db = new DatabaseSync(h.dbFile);
      try {
        const no = (db.prepare('SELECT no FROM sessions WHERE id = ?').get('s-old') as { no: number }).no;
        const row = db.prepare('SELECT body FROM events WHERE session_no = ? AND seq = 2').get(no) as { body: string };
        db.prepare('UPDATE events SET body = ? WHERE session_no = ? AND seq = 2').run(row.body.replace('SELECT id, email, name', 'SELECT id, name'), no);
      } finally {
        db.close();
      }
      const bad = (await call(h, 'GET', '/api/audit/verify')).json() as { ok: boolean; firstBad: { sessionId: string; seq: number } };
      assert.equal(bad.ok, false);
      assert.deepEqual(bad.firstBad, { sessionId: 's-old', seq: 2 });
    });
  });

  test('no answer ever contains a secret of the configuration', () => {
    assert.ok(seen.length > 50, `${seen.length} answers were collected`);
    for (const s of seen) {
      for (const [name, secret] of Object.entries(SECRETS)) {
        assert.ok(!s.body.includes(secret), `${s.what} answered with the ${name}`);
        assert.ok(!s.headers.includes(secret), `${s.what} answered with the ${name} in a header`);
      }
    }
  });
});

describe('HTTP API errors', () => {
  test('a store failure is a 500 with a generic message (and no stack); the cause goes to the log only', async () => {
    const failing = (s: AuditStore): AuditStore => new Proxy(s, {
      get(target, p) {
        if (p === 'listSessions') return async () => { throw new Error(`SQLITE_CORRUPT at /secret/path password=${SECRETS.upstreamPassword}`); };
        const v = Reflect.get(target, p);
        return typeof v === 'function' ? v.bind(target) : v;
      },
    });
    const h = await harness({}, failing);
    try {
      const r = await h.app.inject({ method: 'GET', url: '/api/sessions', headers: ALICE });
      assertError(r, 500, 'INTERNAL', /internal error/);
      assert.ok(!r.body.includes('SQLITE_CORRUPT'));
      assert.ok(!r.body.includes(SECRETS.upstreamPassword));
    } finally {
      await h.close();
    }
  });
});
