// Tamper evidence, on both stores: someone with write access to the database edits, deletes, reorders or inserts
// rows with plain SQL, and verify() names the first bad event and says what is wrong. Also: a session's export
// checked by the standalone scripts/verify-export.mjs, and retention (prune) that verify tells from tampering.
import assert from 'node:assert/strict';
import { execFileSync, spawnSync } from 'node:child_process';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { existsSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { postgresTamper, selectEvent, sessionStart, sqliteTamper, type Tamper } from '../helpers/audit.ts';
import type { AuditStore, VerifyResult } from '../../src/audit/types.ts';
import { testPostgresDatabase } from '../helpers/postgres.ts';

const tmp = mkdtempSync(join(tmpdir(), 'agentgate-tamper-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;
const KEY = generateKeyPairSync('ed25519').privateKey.export({ format: 'pem', type: 'pkcs8' }).toString();
const PUBLIC = createPublicKey(KEY).export({ format: 'pem', type: 'spki' }).toString();
const VERIFIER = join(import.meta.dirname, '../../scripts/verify-export.mjs');
const old = (minutes: number) => new Date(Date.UTC(2024, 0, 1, 0, minutes)).toISOString();

interface Fixture {
  h: Tamper;
  verify(o?: Parameters<AuditStore['verify']>[0]): Promise<VerifyResult>;
  reader(): Promise<AuditStore>;
  done(): Promise<void>;
}

/**
 * One writer stream: session A (10 events) and B (10 events), both closed, then C (5 events) left open; the
 * writer then stops, which signs a last checkpoint. A and B belong to the policy `short` (for prune).
 */
async function fixture(kind: 'sqlite' | 'postgres'): Promise<Fixture> {
  const h = kind === 'sqlite' ? sqliteTamper(join(tmp, `t-${++fileNo}.db`)) : await postgresTamper(await testPostgresDatabase());
  const w = await h.open({ signingKeyPem: KEY, checkpointEvery: 1000 });
  for (const [id, n, policy, minute] of [['A', 10, 'short', 1], ['B', 10, 'short', 2], ['C', 5, 'agents', 3]] as const) {
    await w.openSession(sessionStart(id, { policy, startedAt: old(minute) }));
    for (let seq = 1; seq <= n; seq++) await w.append(selectEvent(id, seq));
    if (id !== 'C') await w.closeSession(id, old(minute + 1), 'quit');
  }
  await w.close();
  const readers: AuditStore[] = [];
  const reader = async () => {
    const r = await h.open({ instanceId: 'reader', signingKeyPem: KEY });
    readers.push(r);
    return r;
  };
  return {
    h,
    reader,
    async verify(o) {
      return (await reader()).verify(o);
    },
    async done() {
      for (const r of readers) await r.close();
      await h.close();
    },
  };
}

function bad(r: VerifyResult, sessionId: string, seqs: number | number[], problem: RegExp): void {
  assert.equal(r.ok, false, 'verify must fail');
  assert.equal(r.firstBad?.sessionId, sessionId, r.problem);
  assert.ok(([] as number[]).concat(seqs).includes(r.firstBad!.seq), `firstBad seq ${r.firstBad!.seq}: ${r.problem}`);
  assert.match(r.problem!, problem);
}

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`tamper evidence: ${kind}`, () => {
    const cases: [string, (f: Fixture) => Promise<void>, (r: VerifyResult) => void][] = [
      ['edit the SQL of one event', (f) => f.h.editSql('A', 3, 'SELECT 1'), (r) => bad(r, 'A', 3, /content does not match its hash \(edited\)/)],
      ['change one byte of captured rows', (f) => f.h.flipRowByte('A', 4), (r) => bad(r, 'A', 4, /edited/)],
      ['delete one event', (f) => f.h.deleteEvent('A', 3), (r) => bad(r, 'A', 4, /record 4 of stream gw-test is missing/)],
      ['reorder two events of a session', (f) => f.h.swapSeqs('A', 3, 4), (r) => bad(r, 'A', [3, 4], /edited/)],
      ['insert an event', (f) => f.h.insertCopy('A', 5, 50), (r) => bad(r, 'A', 50, /not linked to the record before it in stream|edited/)],
      ['delete a whole session in the middle', (f) => f.h.deleteSession('B'), (r) => bad(r, 'C', 0, /records 12–22 of stream gw-test are missing/)],
      ['delete the newest session entirely', (f) => f.h.deleteSession('C'), (r) => bad(r, 'C', 5, /newest records were removed/)],
      ['remove the newest records', (f) => f.h.deleteNewest('gw-test', 2), (r) => bad(r, 'C', 5, /ends at position 26 but checkpoint 3 signed position 28/)],
      ["delete a session's index row", (f) => f.h.deleteSessionRow('A'), (r) => bad(r, kind === 'sqlite' ? '#1' : 'A', 0, /index row .*gone/)],
      ["edit a session's index row", (f) => f.h.editSessionTarget('B', 'elsewhere'), (r) => bad(r, 'B', 0, /index columns disagree/)],
      ["empty one event's content as if pruned", (f) => f.h.stubEvent('A', 2), (r) => bad(r, 'A', 2, /no signed prune record/)],
      ['rename a column in the stored column definitions', (f) => f.h.editColumnSets('"email"', '"mail"'), (r) => bad(r, 'A', 1, /column definitions .* do not match their digest \(edited\)/)],
      ['edit a signed checkpoint', (f) => f.h.editCheckpoint('gw-test', 1), (r) => bad(r, 'A', 10, /checkpoint 1 of stream gw-test: the signature does not match/)],
    ];

    test('an untouched store verifies', async () => {
      const f = await fixture(kind);
      try {
        const r = await f.verify();
        assert.deepEqual([r.ok, r.events, r.records, r.checkpoints, r.unanchored, r.firstBad], [true, 25, 28, 3, 0, null]);
      } finally {
        await f.done();
      }
    });

    for (const [name, tamper, expect] of cases) {
      test(name, async () => {
        const f = await fixture(kind);
        try {
          await tamper(f);
          expect(await f.verify());
        } finally {
          await f.done();
        }
      });
    }

    test('only trusted keys are accepted for signatures', async () => {
      const f = await fixture(kind);
      try {
        const other = createPublicKey(generateKeyPairSync('ed25519').privateKey).export({ format: 'pem', type: 'spki' }).toString();
        const r = await f.verify({ trustedKeys: [other] });
        assert.equal(r.ok, false);
        assert.match(r.problem!, /not trusted/);
        assert.equal((await f.verify({ trustedKeys: [PUBLIC] })).ok, true);
      } finally {
        await f.done();
      }
    });

    test('a session export verifies on its own with scripts/verify-export.mjs, and fails once edited', async () => {
      const f = await fixture(kind);
      try {
        const r = await f.reader();
        assert.equal(await r.exportSession('nope'), null);
        const file = join(tmp, `export-${kind}.jsonl`);
        let text = '';
        for await (const chunk of (await r.exportSession('A'))!) text += chunk;
        writeFileSync(file, text);
        const pub = join(tmp, 'public.pem');
        writeFileSync(pub, PUBLIC);
        const wrong = join(tmp, 'wrong.pem');
        writeFileSync(wrong, createPublicKey(generateKeyPairSync('ed25519').privateKey).export({ format: 'pem', type: 'spki' }));
        // Any Node will do: the project's, and the machine's own when there is one.
        const nodes = [process.execPath, ...['/usr/bin/node', '/usr/local/bin/node'].filter(existsSync)];
        for (const node of nodes) {
          const ok = spawnSync(node, [VERIFIER, file, '--key', pub], { encoding: 'utf8' });
          assert.equal(ok.status, 0, `${node}: ${ok.stdout}${ok.stderr}`);
          assert.match(ok.stdout, /OK: session A, 11 records, 1 signed checkpoint\(s\); closed and complete/);
        }
        const run = (t: string, ...args: string[]) => {
          const p = join(tmp, 'edited.jsonl');
          writeFileSync(p, t);
          return spawnSync(process.execPath, [VERIFIER, p, ...args], { encoding: 'utf8' });
        };
        const lines = text.trimEnd().split('\n');
        const edited = lines.map((l, i) => (i === 4 ? l.replace('SELECT id, email, name', 'SELECT id, name') : l)).join('\n');
        const e1 = run(edited, '--key', pub);
        assert.equal(e1.status, 1);
        assert.match(e1.stdout, /FAILED: line 5 \(seq 3\): its content does not match its hash/);
        const e2 = run(lines.filter((l) => !l.includes('"seq":10,')).join('\n'), '--key', pub);
        assert.equal(e2.status, 1);
        assert.match(e2.stdout, /signed seq 10 of this session, which is missing/);
        const e4 = run(lines.filter((l) => !l.startsWith('{"type":"columns"')).join('\n'), '--key', pub);
        assert.equal(e4.status, 1);
        assert.match(e4.stdout, /seq 1: its column definitions .* are missing from the export/);
        const e5 = run(lines.map((l) => (l.startsWith('{"type":"columns"') ? l.replace('"email"', '"mail"') : l)).join('\n'), '--key', pub);
        assert.equal(e5.status, 1);
        assert.match(e5.stdout, /column set .* does not match its digest/);
        const e3 = run(text, '--key', wrong);
        assert.equal(e3.status, 1);
        assert.match(e3.stdout, /not one of the --key keys/);
        const json = JSON.parse(execFileSync(process.execPath, [VERIFIER, file, '--json'], { encoding: 'utf8' }));
        assert.equal(json.ok, true);
        assert.equal(json.complete, true);
        // A session still open is signed as far as the last checkpoint.
        let open = '';
        for await (const chunk of (await r.exportSession('C'))!) open += chunk;
        writeFileSync(file, open);
        const o = spawnSync(process.execPath, [VERIFIER, file, '--key', pub], { encoding: 'utf8' });
        assert.equal(o.status, 0, o.stdout);
        assert.match(o.stdout, /signed through seq 5, 0 newer record/);
        assert.equal(readFileSync(file, 'utf8').split('\n')[0]!.includes('"endedAt":null'), true);
      } finally {
        await f.done();
      }
    });

    test('retention prunes old sessions, keeps the chain verifiable, and is told from tampering', async () => {
      const f = await fixture(kind);
      try {
        const r = await f.reader();
        const res = await r.prune({ now: '2024-06-01T00:00:00Z', retention: new Map([['short', 86_400_000]]) });
        assert.deepEqual(res, { sessions: 2, records: 22, pruneRecords: 1 });
        assert.equal(await r.getSession('A'), null);
        assert.equal(await r.exportSession('A'), null);
        assert.deepEqual((await r.listSessions({})).map((s) => s.id), ['C']);
        assert.deepEqual(await r.searchValue('user3@example.com'), [{ sessionId: 'C', seq: 3, column: 'app.users.email' }]);
        assert.deepEqual((await r.searchColumn('app.users.email')).map((x) => x.sessionId).sort(), ['C', 'C', 'C', 'C', 'C']);
        const v = await r.verify();
        assert.equal(v.ok, true, v.problem);
        assert.equal(v.stubs, 22);
        assert.equal(v.checkpoints, 3, 'checkpoints naming pruned records still verify against their stubs');
        // A second prune finds nothing more.
        assert.deepEqual(await r.prune({ now: '2024-06-01T00:00:00Z', retention: new Map([['short', 86_400_000]]) }), { sessions: 0, records: 0, pruneRecords: 0 });

        // Pruning by hand what no signed prune record names is tampering.
        await f.h.stubEvent('C', 1);
        const t = await r.verify();
        assert.equal(t.ok, false);
        assert.deepEqual(t.firstBad, { sessionId: 'C', seq: 1 });
        assert.match(t.problem!, /no signed prune record/);
      } finally {
        await f.done();
      }
    });

    test("a pruned session's mark cannot be forged onto another session", async () => {
      const f = await fixture(kind);
      try {
        const r = await f.reader();
        await r.prune({ now: '2024-06-01T00:00:00Z', retention: new Map([['short', 86_400_000]]) });
        const pruneId = (await f.h.query('SELECT max(id) AS id FROM prunes'))[0]!.id;
        // C is made to look pruned by A and B's record: its contents emptied, its index row marked.
        for (let seq = 0; seq <= 5; seq++) await f.h.stubEvent('C', seq);
        await f.h.query(kind === 'sqlite' ? 'UPDATE sessions SET pruned = ? WHERE id = ?' : 'UPDATE sessions SET pruned = $1 WHERE id = $2', [pruneId, 'C']);
        const v = await r.verify();
        assert.equal(v.ok, false);
        assert.deepEqual(v.firstBad, { sessionId: 'C', seq: 0 });
        assert.match(v.problem!, /prune record \d+ does not name this session/);
      } finally {
        await f.done();
      }
    });
  });
}
