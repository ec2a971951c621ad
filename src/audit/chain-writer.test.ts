import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { describe, test } from 'node:test';
import { keyId, recordHash, verifyPayload, ZERO_HASH, type CheckpointPayload } from './chain.ts';
import { ChainLedger, ChainWriter, type Op } from './chain-writer.ts';
import { encodeEvent, sessionHeaderBody } from './record.ts';
import { selectEvent, sessionStart } from '../../test/helpers/audit.ts';

const { privateKey } = generateKeyPairSync('ed25519');
const publicKey = createPublicKey(privateKey);
const writer = (every = 1000) => new ChainWriter({ stream: 'gw', key: privateKey, keyId: keyId(publicKey), checkpointEvery: every, now: () => new Date('2025-01-01T00:00:00Z') });
const open = (id: string): Op => ({ kind: 'open', start: sessionStart(id, { startedAt: '2025-01-01T00:00:00.000Z' }) });
const ev = (id: string, seq: number): Op => ({ kind: 'event', event: encodeEvent(selectEvent(id, seq), 1000) });

describe('ChainWriter', () => {
  test('links records in the stream and in their session, from zeros', () => {
    const w = writer();
    const p = w.plan([open('a'), open('b'), ev('a', 1), ev('b', 1), ev('a', 2)]);
    assert.deepEqual(p.outcome, [null, null, null, null, null]);
    assert.deepEqual(p.records.map((r) => [r.sessionId, r.seq, r.position]), [['a', 0, 1], ['b', 0, 2], ['a', 1, 3], ['b', 1, 4], ['a', 2, 5]]);
    const [ha, hb, a1, , a2] = p.records;
    assert.deepEqual(ha!.prev, ZERO_HASH);
    assert.deepEqual(ha!.sessPrev, ZERO_HASH);
    assert.deepEqual(a1!.sessPrev, ha!.hash);
    assert.deepEqual(a1!.prev, hb!.hash);
    assert.deepEqual(a2!.sessPrev, a1!.hash);
    assert.equal(ha!.body, sessionHeaderBody(sessionStart('a', { startedAt: '2025-01-01T00:00:00.000Z' })));
    for (const r of p.records) {
      assert.deepEqual(recordHash({ stream: 'gw', position: r.position, prev: r.prev, sessionId: r.sessionId, seq: r.seq, sessPrev: r.sessPrev }, r.body, r.rows), r.hash);
    }
    assert.equal(p.sessions.get('a')!.statements, 2);
  });

  test('refuses one operation without failing the others, and changes nothing until commit', () => {
    const w = writer();
    const p = w.plan([open('a'), ev('a', 1), ev('a', 1), ev('x', 1), open('a'), { kind: 'close', id: 'a', endedAt: '2025-01-01T00:01:00Z', cause: 'quit' }, ev('a', 2)]);
    assert.deepEqual(p.outcome.map((o) => o?.message ?? null), [
      null, null, 'session a: seq 1 does not follow 1', 'session x is not open', 'session a is already open', null, 'session a is not open',
    ]);
    assert.equal(w.head.position, 0, 'nothing is committed yet');
    assert.equal(w.plan([ev('a', 1)]).outcome[0]!.message, 'session a is not open');
    w.commit(p);
    assert.equal(w.head.position, 2);
    assert.equal(w.sessions.has('a'), false, 'a closed session is let go');
  });

  test('signs a checkpoint every N records, and in the batch that closes a session, with its end', () => {
    const w = writer(4);
    const p1 = w.plan([open('a'), ev('a', 1), ev('a', 2)]);
    assert.equal(p1.checkpoint, null);
    w.commit(p1);
    const p2 = w.plan([ev('a', 3)]);
    assert.ok(p2.checkpoint);
    const c = JSON.parse(p2.checkpoint.payload) as CheckpointPayload;
    assert.deepEqual([c.n, c.position, c.prev, c.sessions], [1, 4, '', [['a', 3, p2.records[0]!.hash.toString('hex'), null, null]]]);
    assert.equal(verifyPayload(p2.checkpoint.payload, p2.checkpoint.signature, publicKey), true);
    w.commit(p2);
    const p3 = w.plan([{ kind: 'close', id: 'a', endedAt: '2025-01-01T00:01:00.000Z', cause: 'quit' }]);
    const c3 = JSON.parse(p3.checkpoint!.payload) as CheckpointPayload;
    assert.deepEqual([c3.n, c3.position, c3.sessions[0]![3], c3.sessions[0]![4]], [2, 4, '2025-01-01T00:01:00.000Z', 'quit']);
    assert.notEqual(c3.prev, '');
    w.commit(p3);
    assert.equal(w.dirty, false);
    assert.equal(w.plan([{ kind: 'checkpoint' }]).checkpoint, null, 'nothing new: no checkpoint');
  });

  test("a checkpoint lists each session's latest head from every committed batch since the last one, and none from a plan never committed", () => {
    const w = writer(6);
    const p1 = w.plan([open('a'), open('b'), ev('a', 1)]);
    w.commit(p1);
    w.plan([ev('b', 1), ev('c', 1)]); // planned, never committed (its batch failed)
    const p2 = w.plan([open('c'), ev('a', 2)]);
    w.commit(p2);
    const p3 = w.plan([ev('a', 3)]);
    const c = JSON.parse(p3.checkpoint!.payload) as CheckpointPayload;
    const hex = (b: Buffer) => b.toString('hex');
    assert.deepEqual(c.sessions, [
      ['a', 3, hex(p3.records[0]!.hash), null, null],
      ['b', 0, hex(p1.records[1]!.hash), null, null],
      ['c', 0, hex(p2.records[0]!.hash), null, null],
    ]);
    w.commit(p3);
    const p4 = w.plan([ev('b', 1), { kind: 'checkpoint' }]);
    const c4 = JSON.parse(p4.checkpoint!.payload) as CheckpointPayload;
    assert.deepEqual(c4.sessions.map((x) => x[0]), ['b'], 'the sessions sealed by the previous checkpoint are not listed again');
  });

  test('after a failed batch that was in fact stored, continues from what the database holds', () => {
    const w = writer();
    const p1 = w.plan([open('a'), ev('a', 1)]);
    w.commit(p1);
    const batch = [ev('a', 2)];
    const p2 = w.plan(batch);
    // The commit happened but its acknowledgement was lost: the store reports failure.
    w.forget(batch);
    assert.equal(w.stale, true);
    assert.deepEqual(w.unknownSessions([ev('a', 3)]), ['a']);
    // The store re-reads the stream head and the session's head from the database.
    w.head = { ...w.head, position: p2.stream.position, hash: p2.stream.hash };
    w.adopt('a', { seq: 2, hash: p2.records[0]!.hash, colsets: new Set() });
    const p3 = w.plan([ev('a', 3)]);
    assert.deepEqual(p3.records[0]!.prev, p2.records[0]!.hash);
    assert.deepEqual(p3.records[0]!.sessPrev, p2.records[0]!.hash);
    assert.equal(p3.records[0]!.position, 4);
  });
});

describe('ChainLedger', () => {
  const close = (id: string): Op => ({ kind: 'close', id, endedAt: '2025-01-01T00:01:00.000Z', cause: 'quit' });

  test('refuses exactly what a ChainWriter plan refuses, batch after batch', () => {
    const batches: Op[][] = [
      [open('a'), ev('a', 1), ev('a', 1), ev('x', 1), open('a'), close('a'), ev('a', 2)],
      [open('b'), ev('b', 2), ev('b', 1), ev('a', 3), close('x'), open('a')],
      [ev('b', 3), close('b'), close('b'), ev('b', 4), open('b'), { kind: 'checkpoint' }],
    ];
    const w = writer();
    const l = new ChainLedger({ checkpointEvery: 1000 });
    for (const ops of batches) {
      const plan = w.plan(ops);
      const admitted = l.admit(ops);
      assert.deepEqual(admitted.outcome.map((o) => o?.message ?? null), plan.outcome.map((o) => o?.message ?? null));
      assert.equal(admitted.ops.length, plan.outcome.filter((o) => o === null).length);
      w.commit(plan);
      l.commit(admitted);
    }
    // `existing`: sessions the database has already.
    assert.equal(l.admit([open('z')], { existing: new Set(['z']) }).outcome[0]!.message, 'session z is already open');
    assert.equal(l.has('a'), true, 'a, closed in the first batch, was opened again in the second');
    assert.equal(l.has('b'), false);
  });

  test('hands each column set text and colset key over once, and again after a batch that failed', () => {
    const l = new ChainLedger({ checkpointEvery: 1000 });
    const event = (op: Op) => (op.kind === 'event' ? op.event : assert.fail('not an event'));
    const a1 = l.admit([open('a'), ev('a', 1), ev('a', 2)]);
    const [, first, second] = a1.ops.map((op) => op.kind === 'event' ? event(op) : null);
    assert.equal(first!.columnSets.length, 1);
    assert.ok(first!.colsetKey);
    assert.equal(second!.columnSets.length, 0, 'the same batch hands it over once');
    assert.equal(second!.colsetKey, null);
    assert.equal(second!.colset, first!.colset, 'the colset id stays');
    // Not committed (its journal write failed): handed over again.
    const again = l.admit([open('a'), ev('a', 1)]);
    assert.equal(event(again.ops[1]!).columnSets.length, 1);
    l.commit(again);
    const later = l.admit([ev('a', 2)]);
    assert.equal(event(later.ops[0]!).columnSets.length, 0);
    assert.equal(event(later.ops[0]!).colsetKey, null);
  });

  test('knows when a ChainWriter signs a checkpoint: every N records, when a session closes, when asked with something to sign', () => {
    const batches: Op[][] = [
      [open('a'), ev('a', 1)], [ev('a', 2)], [ev('a', 3), ev('a', 4)], [{ kind: 'checkpoint' }], [open('b')], [{ kind: 'checkpoint' }],
      [ev('b', 1)], [close('b')], [ev('a', 5)], [ev('a', 6), ev('a', 7), ev('a', 8)],
    ];
    const w = writer(4);
    const l = new ChainLedger({ checkpointEvery: 4 });
    for (const ops of batches) {
      const plan = w.plan(ops);
      const admitted = l.admit(ops);
      assert.equal(admitted.checkpoint && (l.dirty || admitted.records > 0 || admitted.seqs.size > 0), plan.checkpoint !== null, JSON.stringify(ops.map((o) => o.kind)));
      w.commit(plan);
      l.commit(admitted);
      assert.equal(l.dirty, w.dirty);
    }
  });
});
