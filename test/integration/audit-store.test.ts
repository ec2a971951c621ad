// The AuditStore contract, run against SQLite (a temporary file) and a real PostgreSQL: writing with group commit,
// reading back, listing filters and pagination, search, approvals, and what happens when the database is gone.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, before, describe, test } from 'node:test';
import { DatabaseSync } from 'node:sqlite';
import pg from 'pg';
import { openAuditStore } from '../../src/audit/index.ts';
import { presentEvent, presentSession } from '../../src/audit/present.ts';
import {
  binaryRow, column, postgresTamper, selectEvent, sessionStart, sqliteTamper, T, type Tamper,
} from '../helpers/audit.ts';
import type { Approval, AuditStore, NewEvent } from '../../src/audit/types.ts';
import { testPostgresDatabase } from '../helpers/postgres.ts';
import { eventually } from '../helpers/wait.ts';

const tmp = mkdtempSync(join(tmpdir(), 'agentgate-audit-'));
after(() => rmSync(tmp, { recursive: true, force: true }));
let fileNo = 0;

async function harness(kind: 'sqlite' | 'postgres'): Promise<Tamper> {
  return kind === 'sqlite' ? sqliteTamper(join(tmp, `store-${++fileNo}.db`)) : postgresTamper(await testPostgresDatabase());
}

const at = (minutes: number) => new Date(Date.UTC(2025, 0, 1, 0, minutes)).toISOString();

for (const kind of ['sqlite', 'postgres'] as const) {
  describe(`audit store: ${kind}`, () => {
    let h: Tamper;
    let store: AuditStore;
    before(async () => {
      h = await harness(kind);
      store = await h.open();
    });
    after(async () => {
      await store.close();
      await h.close();
    });

    test('group commit: concurrent appends from many sessions share one transaction and are all durable', async () => {
      const ids = Array.from({ length: 40 }, (_, i) => `gc-${i}`);
      await Promise.all(ids.map((id) => store.openSession(sessionStart(id))));
      const before = (store as unknown as { batches: number }).batches;
      const all: Promise<void>[] = [];
      for (let seq = 1; seq <= 25; seq++) for (const id of ids) all.push(store.append(selectEvent(id, seq)));
      await Promise.all(all);
      assert.equal((store as unknown as { batches: number }).batches - before, 1, 'the 1000 appends of one tick form one batch');
      assert.equal(store.healthy, true);
      // A second store on the same database sees everything: it was committed (SQLite: into the journal, which the
      // writer thread moves into the tables a moment later, without any read of this store asking for it).
      const other = await h.open({ instanceId: 'reader' });
      try {
        const all25 = JSON.stringify(Array.from({ length: 25 }, (_, i) => i + 1));
        for (const id of [ids[0]!, ids[39]!]) {
          await eventually(async () => JSON.stringify((await other.getSession(id))?.events.map((e) => e.seq)) === all25, 10_000, `all of ${id} in the tables`);
        }
      } finally {
        await other.close();
      }
    });

    test('events read back in seq order, with their rows, chain links and session counters', async () => {
      const id = 'rb-1';
      await store.openSession(sessionStart(id, { target: 'app', startedAt: at(1) }));
      const events: NewEvent[] = [
        { sessionId: id, seq: 1, at: at(1), type: 'connect', detail: { via: 'service_account' } },
        selectEvent(id, 2, [['1', 'a@example.com', null], ['2', 'b@example.com', 'Bé']]),
        { sessionId: id, seq: 3, at: at(2), type: 'query', sql: 'DROP TABLE t', kinds: ['drop'], decision: { action: 'deny', policy: 'agents', rule: 'no-drop', reason: 'drops are denied' }, result: { error: { code: 1227, sqlState: '42000', message: 'agentgate: denied by policy' } } },
        { sessionId: id, seq: 5, at: at(3), type: 'execute', sql: 'UPDATE t SET a = ?', params: [{ type: 'LONG', value: 1 }], kinds: ['update'], decision: { action: 'approve', policy: 'agents', rule: 'writes' }, approval: { id: 'ap-1', status: 'approved', by: ['alice'] }, result: { affectedRows: 3 } },
      ];
      // Appended out of order across ticks is not allowed: seq must increase. Here, in order, with a gap (4).
      for (const e of events) await store.append(e);
      await assert.rejects(store.append(selectEvent(id, 5)), /seq 5 does not follow 5/);
      await assert.rejects(store.append(selectEvent('no-such-session', 1)), /not open/);
      await store.closeSession(id, at(4), 'quit');
      await assert.rejects(store.append(selectEvent(id, 9)), /not open/);

      const s = (await store.getSession(id))!;
      assert.equal(s.endedAt, at(4));
      assert.equal(s.endCause, 'quit');
      assert.equal(s.statements, 3);
      assert.equal(s.denied, 1);
      assert.equal(s.approvals, 1);
      assert.deepEqual(s.kinds.sort(), ['drop', 'select', 'update']);
      assert.deepEqual(s.events.map((e) => e.seq), [1, 2, 3, 5]);
      assert.deepEqual(s.events[0]!.detail, { via: 'service_account' });
      assert.deepEqual(s.events[1]!.result!.rows!.payloads, events[1]!.result!.rows!.payloads);
      assert.equal(s.events[3]!.result!.affectedRows, 3);
      for (let i = 1; i < s.events.length; i++) assert.ok(s.events[i]!.chain.position > s.events[i - 1]!.chain.position);
      assert.match(s.events[0]!.chain.hash, /^[0-9a-f]{64}$/);

      const p = presentSession(s);
      assert.deepEqual(p.events![1]!.rows, [['1', 'a@example.com', null], ['2', 'b@example.com', 'Bé']]);
      assert.deepEqual(p.events![1]!.columns![1], { name: 'email', db: 'app', table: 'users', column: 'email', masked: null });
      assert.equal(p.events![1]!.rowCount, 2);
      assert.deepEqual(p.events![2]!.error, { code: 1227, sqlState: '42000', message: 'agentgate: denied by policy' });
      assert.equal(await store.getSession('missing'), null);
    });

    test('binary rows are stored as received and presented as text', async () => {
      const id = 'bin-1';
      const cols = [column('id', T.LONGLONG), column('score', T.DOUBLE), column('label', T.VAR_STRING), column('raw', T.BLOB), column('born', T.DATE)];
      await store.openSession(sessionStart(id));
      await store.append({ sessionId: id, seq: 1, at: at(5), type: 'execute', sql: 'SELECT …', result: { columns: cols, rows: { format: 'binary', payloads: [binaryRow(cols, [90071992547409n, 2.5, 'bin-label', 'raw-bytes', '1999-12-31']), binaryRow(cols, [-7n, null, 'x', null, null])] }, rowCount: 2 } });
      const e = (await store.getSession(id))!.events[0]!;
      assert.deepEqual(presentEvent(e).rows, [
        ['90071992547409', '2.5', 'bin-label', { base64: Buffer.from('raw-bytes').toString('base64') }, '1999-12-31'],
        ['-7', null, 'x', null, null],
      ]);
    });

    test('listing: newest first, filters, and pagination with before', async () => {
      const h2 = await harness(kind);
      const s = await h2.open();
      try {
        const specs = [
          { id: 'l-1', target: 'app', subject: 'alice', minute: 10, deny: false, kind: 'select' as const },
          { id: 'l-2', target: 'billing', subject: 'bob', minute: 11, deny: true, kind: 'drop' as const },
          { id: 'l-3', target: 'app', subject: 'bob', minute: 12, deny: false, kind: 'update' as const },
          { id: 'l-4', target: 'app', subject: 'alice', minute: 12, deny: false, kind: 'select' as const },
          { id: 'l-5', target: 'billing', subject: 'carol', minute: 14, deny: false, kind: 'select' as const },
        ];
        for (const x of specs) {
          await s.openSession(sessionStart(x.id, { target: x.target, identity: { subject: x.subject, groups: [], via: 'oidc' }, startedAt: at(x.minute) }));
          await s.append({ ...selectEvent(x.id, 1), kinds: [x.kind], decision: { action: x.deny ? 'deny' : 'allow', policy: 'agents', rule: null } });
        }
        const ids = async (f: Parameters<AuditStore['listSessions']>[0]) => (await s.listSessions(f)).map((x) => x.id);
        assert.deepEqual(await ids({}), ['l-5', 'l-4', 'l-3', 'l-2', 'l-1']);
        assert.deepEqual(await ids({ target: 'app' }), ['l-4', 'l-3', 'l-1']);
        assert.deepEqual(await ids({ subject: 'bob' }), ['l-3', 'l-2']);
        assert.deepEqual(await ids({ since: at(11), until: at(12) }), ['l-4', 'l-3', 'l-2']);
        assert.deepEqual(await ids({ hasDenied: true }), ['l-2']);
        assert.deepEqual(await ids({ kind: 'select' }), ['l-5', 'l-4', 'l-1']);
        assert.deepEqual(await ids({ limit: 2 }), ['l-5', 'l-4']);
        // Pagination walks every session once, including the two that started in the same minute.
        const seen: string[] = [];
        let cursor: string | undefined;
        for (;;) {
          const page = await ids({ limit: 2, before: cursor });
          if (!page.length) break;
          seen.push(...page);
          cursor = page[page.length - 1];
        }
        assert.deepEqual(seen, ['l-5', 'l-4', 'l-3', 'l-2', 'l-1']);
        assert.deepEqual(await ids({ target: 'app', limit: 1, before: 'l-4' }), ['l-3']);
        const one = (await s.listSessions({ target: 'billing', limit: 1 }))[0]!;
        assert.deepEqual(one.identity, { subject: 'carol', groups: [], via: 'oidc' });
        assert.equal(one.endedAt, null);
      } finally {
        await s.close();
        await h2.close();
      }
    });

    test('verify passes on an untouched store, across a restart of the writer', async () => {
      const h2 = await harness(kind);
      let s = await h2.open({ checkpointEvery: 7 });
      for (const id of ['v-1', 'v-2']) await s.openSession(sessionStart(id));
      for (let seq = 1; seq <= 10; seq++) await Promise.all([s.append(selectEvent('v-1', seq)), s.append(selectEvent('v-2', seq))]);
      await s.closeSession('v-1', at(30), 'quit');
      await s.close();
      s = await h2.open({ checkpointEvery: 7 });
      await s.openSession(sessionStart('v-3'));
      await s.append(selectEvent('v-3', 1));
      // v-2 was left open by the previous process: the new one may still write to it.
      await s.append(selectEvent('v-2', 11));
      const r = await s.verify();
      assert.equal(r.ok, true, r.problem);
      assert.equal(r.events, 22);
      assert.equal(r.records, 25);
      assert.ok(r.checkpoints! >= 3);
      await s.close();
      const reader = await h2.open({ instanceId: 'reader' });
      const after = await reader.verify();
      assert.deepEqual([after.ok, after.unanchored], [true, 0], 'close() signs the tail');
      await reader.close();
      await h2.close();
    });

    test('a checkpoint is signed checkpointInterval after a write, without waiting for more events or close()', async () => {
      const h2 = await harness(kind);
      const interval = 1500; // longer than the timer's period (1 s), so a checkpoint due too early would be seen
      const opened = Date.now();
      const s = await h2.open({ checkpointEvery: 1_000_000, checkpointInterval: interval });
      const reader = await h2.open({ instanceId: 'reader' });
      try {
        await s.openSession(sessionStart('ci-1'));
        await s.append(selectEvent('ci-1', 1));
        // Another connection sees the records once they are in the tables (SQLite: a few milliseconds after the
        // journal write that made them durable).
        let v = await eventually(async () => {
          const r = await reader.verify();
          return r.records === 2 && r;
        }, 10_000, 'both records in the tables');
        // Until checkpointInterval has passed since the store opened, nothing signs them (on a machine slow enough
        // for the first look to come later than that, the timer may already have).
        if (Date.now() - opened < interval) assert.equal(v.unanchored, 2, 'signed before checkpointInterval passed');
        // Nothing more is written and nothing is closed: the store's timer alone signs them.
        v = await eventually(async () => {
          const r = await reader.verify();
          return r.unanchored === 0 && r;
        }, 10_000, 'the records signed');
        assert.deepEqual([v.ok, v.unanchored, v.checkpoints], [true, 0, 1]);
        assert.ok(Date.now() - opened >= interval, 'not before checkpointInterval');
        // An export signs what is still unsigned first: the live session's newest event is anchored.
        await s.append(selectEvent('ci-1', 2));
        let text = '';
        for await (const chunk of (await s.exportSession('ci-1'))!) text += chunk;
        const cps = text.split('\n').filter((l) => l.startsWith('{"type":"checkpoint"')).map((l) => JSON.parse(l).payload);
        assert.deepEqual(cps.map((p) => p.sessions[0].slice(0, 2)), [['ci-1', 1], ['ci-1', 2]]);
      } finally {
        await s.close();
        await reader.close();
        await h2.close();
      }
    });

    test('verifying while the store is being written (and checkpointed) reports no false problem', async () => {
      const h2 = await harness(kind);
      const w = await h2.open({ checkpointEvery: 5 });
      const reader = await h2.open({ instanceId: 'reader', checkpointEvery: 5 });
      try {
        await w.openSession(sessionStart('live-1'));
        for (let seq = 1; seq <= 50; seq++) await w.append(selectEvent('live-1', seq));
        let writing = true;
        const writer = (async () => {
          for (let seq = 51; writing; seq++) await w.append(selectEvent('live-1', seq));
        })();
        try {
          for (let i = 0; i < 5; i++) {
            const v = await reader.verify();
            assert.equal(v.ok, true, v.problem);
          }
        } finally {
          writing = false;
          await writer;
        }
      } finally {
        await w.close();
        await reader.close();
        await h2.close();
      }
    });

    test('two writers under one instance id keep linear, verifiable chains', async () => {
      const h2 = await harness(kind);
      const a = await h2.open({ instanceId: 'same' });
      const b = await h2.open({ instanceId: 'same' });
      try {
        await a.openSession(sessionStart('twin-a'));
        await b.openSession(sessionStart('twin-b'));
        for (let seq = 1; seq <= 20; seq++) await Promise.all([a.append(selectEvent('twin-a', seq)), b.append(selectEvent('twin-b', seq))]);
        assert.equal(a.healthy && b.healthy, true);
        await b.verify();
        const r = await a.verify();
        // PostgreSQL: both append to one stream, serialised by the database. SQLite: the second writer cannot see
        // what the first has journaled but not yet moved, so it writes a stream of its own; each stays linear.
        assert.deepEqual([r.ok, r.streams, r.records], [true, kind === 'sqlite' ? 2 : 1, 42], r.problem);
      } finally {
        await a.close();
        await b.close();
        await h2.close();
      }
    });

    test('search by value: text rows, binary rows (numbers, strings, dates), exact or substring', async () => {
      const h2 = await harness(kind);
      const s = await h2.open();
      try {
        const cols = [column('id', T.LONG), column('total', T.DOUBLE), column('code', T.VAR_STRING), column('big', T.LONGLONG), column('day', T.DATE), column('f', T.FLOAT)];
        await s.openSession(sessionStart('sv-1'));
        await s.openSession(sessionStart('sv-2'));
        await s.append(selectEvent('sv-1', 1, [['41', 'needle@example.com', 'Ann'], ['42', 'other@example.com', null]]));
        await s.append({ sessionId: 'sv-2', seq: 1, at: at(1), type: 'execute', result: { columns: cols, rows: { format: 'binary', payloads: [binaryRow(cols, [314159, 12.75, 'needle@example.com', 1n << 40n, '2024-02-29', 1.1])] }, rowCount: 1 } });
        await s.append(selectEvent('sv-2', 2, [['314159', 'x@example.com', 'Zed']]));
        const hits = async (v: string, substring = false) => (await s.searchValue(v, 100, { substring })).map((x) => `${x.sessionId}#${x.seq}:${x.column}`).sort();
        assert.deepEqual(await hits('needle@example.com'), ['sv-1#1:app.users.email', 'sv-2#1:app.users.code']);
        assert.deepEqual(await hits('needle@example'), []);
        assert.deepEqual(await hits('needle@example', true), ['sv-1#1:app.users.email', 'sv-2#1:app.users.code']);
        assert.deepEqual(await hits('314159'), ['sv-2#1:app.users.id', 'sv-2#2:app.users.id']);
        assert.deepEqual(await hits('12.75'), ['sv-2#1:app.users.total']);
        assert.deepEqual(await hits(String(1n << 40n)), ['sv-2#1:app.users.big']);
        assert.deepEqual(await hits('2024-02-29'), ['sv-2#1:app.users.day']);
        assert.deepEqual(await hits('1.1'), ['sv-2#1:app.users.f']);
        assert.deepEqual(await hits('42'), ['sv-1#1:app.users.id']);
        assert.deepEqual(await hits('Ann'), ['sv-1#1:app.users.name']);
        assert.deepEqual(await hits('nothing like it'), []);
        assert.equal((await s.searchValue('needle@example.com', 1)).length, 1);
      } finally {
        await s.close();
        await h2.close();
      }
    });

    test('search by column: by origin, through derivedFrom, with * per part', async () => {
      const h2 = await harness(kind);
      const s = await h2.open();
      try {
        await s.openSession(sessionStart('sc-1'));
        await s.openSession(sessionStart('sc-2'));
        await s.append(selectEvent('sc-1', 1));
        await s.append({ sessionId: 'sc-1', seq: 2, at: at(1), type: 'query', sql: 'SELECT 1', result: { columns: [column('1', T.LONG, { db: '', table: '', column: '' })] } });
        await s.append({ sessionId: 'sc-2', seq: 1, at: at(1), type: 'query', sql: 'SELECT concat(ssn) AS x FROM hr.people',
          result: { columns: [column('x', T.VAR_STRING, { db: '', table: '', column: '', derivedFrom: ['hr.people.ssn'] })] } });
        await s.append(selectEvent('sc-2', 2));
        const hits = async (c: string) => (await s.searchColumn(c)).map((x) => `${x.sessionId}#${x.seq}:${x.column}`).sort();
        assert.deepEqual(await hits('app.users.email'), ['sc-1#1:app.users.email', 'sc-2#2:app.users.email']);
        assert.deepEqual(await hits('hr.people.ssn'), ['sc-2#1:hr.people.ssn']);
        assert.deepEqual(await hits('*.*.ssn'), ['sc-2#1:hr.people.ssn']);
        assert.deepEqual(await hits('app.*.e*'), ['sc-1#1:app.users.email', 'sc-2#2:app.users.email']);
        assert.deepEqual(await hits('APP.users.EMAIL'), ['sc-1#1:app.users.email', 'sc-2#2:app.users.email']);
        assert.deepEqual(await hits('app.users.password'), []);
        await assert.rejects(s.searchColumn('users.email'), /db\.table\.column/);
      } finally {
        await s.close();
        await h2.close();
      }
    });

    test('approvals: create, read, list, atomic update with two racing deciders, expiry', async () => {
      const other = await h.open({ instanceId: 'gw-other' });
      try {
        const seen: string[] = [];
        const off = store.onApprovalChange((a) => seen.push(`${a.id}:${a.status}`));
        const a = approval('ap-race', 'gw-test');
        await store.createApproval(a);
        assert.deepEqual(await store.getApproval('ap-race'), a);
        assert.deepEqual((await other.listApprovals({ status: 'pending' })).map((x) => x.id), ['ap-race']);
        // Two deciders, on two store instances, both see "pending" and try to decide: exactly one wins.
        const decide = (s: AuditStore, by: string, decision: 'approve' | 'deny') => s.updateApproval('ap-race', (cur) => cur.status !== 'pending' ? null : {
          ...cur, status: decision === 'approve' ? 'approved' : 'denied', decidedAt: new Date().toISOString(), decidedBy: by,
          votes: [...cur.votes, { by, decision, at: new Date().toISOString() }],
        });
        const results = await Promise.all([decide(store, 'alice', 'approve'), decide(other, 'bob', 'deny'), decide(store, 'carol', 'deny')]);
        const winners = results.filter((r) => r !== null);
        assert.equal(winners.length, 1);
        const stored = (await other.getApproval('ap-race'))!;
        assert.deepEqual(stored, winners[0]);
        assert.equal(stored.votes.length, 1);
        assert.equal(await store.updateApproval('missing', (x) => x), null);

        await store.createApproval(approval('ap-mine', 'gw-test'));
        await store.createApproval(approval('ap-theirs', 'gw-other'));
        const expired = await store.expireApprovals('gw-test');
        assert.deepEqual(expired.map((x) => `${x.id}:${x.status}`), ['ap-mine:expired']);
        assert.equal((await store.getApproval('ap-theirs'))!.status, 'pending');
        assert.deepEqual((await store.listApprovals({ status: 'expired' })).map((x) => x.id), ['ap-mine']);
        assert.equal((await store.listApprovals({})).length, 3);
        // The expiry was made by this instance; the race's decision may have been made by the other one, whose
        // changes this instance hears a moment later (within a second, see below).
        const decided = () => seen.some((x) => x === 'ap-race:approved' || x === 'ap-race:denied');
        await eventually(async () => seen.includes('ap-mine:expired') && decided(), 2000, 'the expiry and the decision heard');
        assert.ok(seen.includes('ap-race:pending'));
        off();
      } finally {
        await other.close();
      }
    });

    if (kind === 'postgres') {
      test('approval changes reach every instance sharing the database within a second', async () => {
        const a = await h.open({ instanceId: 'gw-a' });
        const b = await h.open({ instanceId: 'gw-b' });
        try {
          const heardByA: Approval[] = [];
          a.onApprovalChange((x) => heardByA.push(x));
          await b.createApproval(approval('ap-x', 'gw-b'));
          await eventually(async () => heardByA.some((x) => x.id === 'ap-x' && x.status === 'pending'), 1000, 'ap-x pending heard by A');
          const t0 = Date.now();
          await b.updateApproval('ap-x', (cur) => ({ ...cur, status: 'approved', decidedBy: 'alice', decidedAt: new Date().toISOString() }));
          await eventually(async () => heardByA.some((x) => x.id === 'ap-x' && x.status === 'approved'), 1000, 'ap-x approved heard by A');
          assert.ok(Date.now() - t0 < 1000);
          // Each version is delivered once.
          assert.equal(heardByA.filter((x) => x.id === 'ap-x').length, 2);

          // The notification connection is cut: it comes back, and what changed meanwhile is delivered.
          await h.query("SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = current_database() AND query ILIKE 'LISTEN%'");
          await b.createApproval(approval('ap-y', 'gw-b'));
          await b.updateApproval('ap-y', (cur) => ({ ...cur, status: 'denied' }));
          await eventually(async () => heardByA.some((x) => x.id === 'ap-y' && x.status === 'denied'), 3000, 'ap-y denied heard by A');
        } finally {
          await a.close();
          await b.close();
        }
      });
    }

    test('a store whose database is unavailable refuses appends, reports unhealthy, and recovers', async () => {
      if (kind === 'sqlite') {
        // A file that cannot be created: init fails, and nothing is accepted.
        writeFileSync(join(tmp, 'not-a-dir'), 'x');
        const broken = openAuditStore(`sqlite:${join(tmp, 'not-a-dir', 'audit.db')}`, { instanceId: 'x' });
        await assert.rejects(broken.init());
        assert.equal(broken.healthy, false);
        await assert.rejects(broken.append(selectEvent('s', 1)), /not open/);
        // A running store whose file another process holds locked: a brief lock is absorbed (the event is safe in
        // the journal); a lock that lasts longer than the busy timeout makes the store refuse appends until it ends.
        const h2 = await harness(kind);
        const s = await h2.open({ busyTimeout: 100 });
        await s.openSession(sessionStart('u-1'));
        const path = (s as unknown as { path: string }).path;
        await s.listSessions({});
        const locker = new DatabaseSync(path);
        locker.exec('BEGIN EXCLUSIVE');
        locker.prepare('INSERT INTO keys (id, public_pem, created_at) VALUES (?, ?, ?)').run('lock', 'x', 'x');
        await s.append(selectEvent('u-1', 1));
        await eventually(async () => !s.healthy, 10_000, 'the store unhealthy');
        await assert.rejects(s.append(selectEvent('u-1', 2)), /locked|busy/i);
        locker.exec('ROLLBACK');
        locker.close();
        await s.append(selectEvent('u-1', 3));
        assert.equal(s.healthy, true);
        assert.deepEqual((await s.getSession('u-1'))!.events.map((e) => e.seq), [1, 3]);
        assert.equal((await s.verify()).ok, true);
        await s.close();
        await h2.close();
      } else {
        const broken = openAuditStore('postgres://postgres@127.0.0.1:1/none', { instanceId: 'x' });
        await assert.rejects(broken.init());
        assert.equal(broken.healthy, false);
        await assert.rejects(broken.append(selectEvent('s', 1)), /not open/);
        // A running store whose database stops accepting connections, then comes back.
        const url = await testPostgresDatabase();
        const s = openAuditStore(url, { instanceId: 'gw-u' });
        await s.init();
        await s.openSession(sessionStart('u-1'));
        const dbName = new URL(url).pathname.slice(1);
        const admin = new pg.Client({ connectionString: url.replace(/\/[^/]*$/, '/postgres') });
        await admin.connect();
        try {
          await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS false`);
          await admin.query('SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1', [dbName]);
          await assert.rejects(s.append(selectEvent('u-1', 1)));
          assert.equal(s.healthy, false);
          await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`);
          await s.append(selectEvent('u-1', 2));
          assert.equal(s.healthy, true);
          assert.deepEqual((await s.getSession('u-1'))!.events.map((e) => e.seq), [2]);
          assert.equal((await s.verify()).ok, true);
        } finally {
          await admin.query(`ALTER DATABASE ${dbName} ALLOW_CONNECTIONS true`).catch(() => {});
          await admin.end();
          await s.close();
        }
      }
    });
  });
}

function approval(id: string, instanceId: string): Approval {
  return {
    id, sessionId: 's-1', target: 'app', identity: { subject: 'agent-1', groups: ['agents'], via: 'service_account' },
    sql: 'DELETE FROM app.orders', kinds: ['delete'], fingerprint: 'delete from app . orders', policy: 'agents', rule: 'writes',
    status: 'pending', mode: 'hold', minApprovals: 1, votes: [], createdAt: new Date().toISOString(),
    expiresAt: new Date(Date.now() + 300_000).toISOString(), decidedAt: null, decidedBy: null, reason: null, instanceId,
  };
}
