// GET /api/approvals/stream over a real socket: what `curl -N` and the console see.
import assert from 'node:assert/strict';
import { request, type IncomingMessage } from 'node:http';
import { after, before, describe, test } from 'node:test';
import { approval, harness, SECRETS, type Harness } from '../../test/helpers/api.ts';

interface Stream {
  res: IncomingMessage;
  /** Everything received so far. */
  text(): string;
  /** Resolves once the received text matches. */
  until(re: RegExp, timeoutMs?: number): Promise<RegExpMatchArray>;
  ended: Promise<void>;
  close(): void;
}

function open(port: number, token: string | null): Promise<Stream> {
  return new Promise((resolve, reject) => {
    const req = request({ host: '127.0.0.1', port, path: '/api/approvals/stream', headers: token ? { authorization: `Bearer ${token}` } : {} }, (res) => {
      let buf = '';
      const waiters = new Set<() => void>();
      res.setEncoding('utf8');
      res.on('data', (c: string) => {
        buf += c;
        for (const w of [...waiters]) w();
      });
      const ended = new Promise<void>((r) => res.once('end', r));
      resolve({
        res,
        text: () => buf,
        until(re, timeoutMs = 5000) {
          return new Promise((ok, fail) => {
            const check = () => {
              const m = re.exec(buf);
              if (m) {
                waiters.delete(check);
                clearTimeout(t);
                ok(m);
              }
            };
            const t = setTimeout(() => {
              waiters.delete(check);
              fail(new Error(`no ${re} within ${timeoutMs} ms; received:\n${buf}`));
            }, timeoutMs);
            waiters.add(check);
            check();
          });
        },
        ended,
        close: () => req.destroy(),
      });
    });
    req.on('error', reject);
    req.end();
  });
}

/** The `approval` events received, parsed. */
function events(text: string): { status: string; id: string; decidedBy: string | null }[] {
  return [...text.matchAll(/^event: approval\ndata: (.*)$/gm)].map((m) => JSON.parse(m[1]!));
}

describe('GET /api/approvals/stream', () => {
  let h: Harness;
  let port: number;
  before(async () => {
    h = await harness({ heartbeatMs: 200 });
    await h.app.listen({ host: '127.0.0.1', port: 0 });
    port = (h.app.server.address() as { port: number }).port;
  });
  after(async () => {
    await h.close();
  });

  test('401 without a token, as JSON', async () => {
    const s = await open(port, null);
    assert.equal(s.res.statusCode, 401);
    await s.ended;
    assert.equal(JSON.parse(s.text()).error.code, 'UNAUTHORIZED');
  });

  test('an approval event for every creation and change, and heartbeat comments', async () => {
    const s = await open(port, SECRETS.aliceToken);
    try {
      assert.equal(s.res.statusCode, 200);
      assert.match(String(s.res.headers['content-type']), /^text\/event-stream/);
      assert.equal(s.res.headers['cache-control'], 'no-cache, no-transform');
      await s.until(/^: agentgate approvals/m);

      await h.store.createApproval(approval('ap-live', 'agent'));
      await s.until(/"id":"ap-live"/);
      const decided = await h.app.inject({
        method: 'POST', url: '/api/approvals/ap-live/approve', headers: { authorization: `Bearer ${SECRETS.carolToken}` }, payload: { reason: 'fine' },
      });
      assert.equal(decided.statusCode, 200, decided.body);
      await s.until(/"id":"ap-live".*"status":"approved"/);
      const live = events(s.text()).filter((e) => e.id === 'ap-live');
      assert.deepEqual(live.map((e) => e.status), ['pending', 'approved']);
      assert.equal(live[1]!.decidedBy, 'carol');
      // Each event is one `event:` line and one `data:` line, then a blank line.
      assert.match(s.text(), /event: approval\ndata: \{[^\n]*"id":"ap-live"[^\n]*\}\n\n/);

      await s.until(/^: heartbeat \d{4}-\d{2}-\d{2}T[^\n]*Z$/m, 2000);
    } finally {
      s.close();
    }
  });

  test('two watchers both see a change; a closed watcher is forgotten', async () => {
    const a = await open(port, SECRETS.aliceToken);
    const b = await open(port, SECRETS.bobToken);
    try {
      await a.until(/^: agentgate/m);
      await b.until(/^: agentgate/m);
      a.close();
      await new Promise((r) => setTimeout(r, 50));
      await h.store.createApproval(approval('ap-two', 'agent'));
      await b.until(/"id":"ap-two"/);
      assert.doesNotMatch(a.text(), /ap-two/);
    } finally {
      b.close();
    }
  });

  test('closing the app ends open streams instead of waiting for them', async () => {
    const other = await harness({ heartbeatMs: 60_000 });
    await other.app.listen({ host: '127.0.0.1', port: 0 });
    const s = await open((other.app.server.address() as { port: number }).port, SECRETS.aliceToken);
    await s.until(/^: agentgate/m);
    const t0 = Date.now();
    await other.close();
    await s.ended;
    assert.ok(Date.now() - t0 < 3000, `closed in ${Date.now() - t0} ms`);
  });
});
