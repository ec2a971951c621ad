import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { appendFileSync, mkdtempSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { decodeJournalRecords, Journal, journalRecords, PendingRecords } from './journal.ts';
import { keyId } from '../chain.ts';
import { ChainWriter, type Op, type PlannedRecord } from '../chain-writer.ts';
import { encodeEvent } from '../record.ts';
import { selectEvent, sessionStart } from '../../../test/helpers/audit.ts';
import { plannedBatch, toWire, type PlannedBatch } from './wire.ts';

const dir = mkdtempSync(join(tmpdir(), 'agentgate-journal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** A batch of one record at position and seq n, whose hashes and 3 bytes of rows are all n. */
function batch(n: number): PlannedBatch {
  return {
    stream: 1, sessions: [], colsets: [], columnSets: [], sessionColsets: [], closed: [], checkpoint: null,
    records: [record(n, `s-${n}`, `{"sql":"SELECT ${n}"}`)],
  };
}

function record(n: number, sessionId: string, body: string): PlannedRecord {
  const h = Buffer.alloc(32, n);
  return { sessionId, seq: n, position: n, prev: h, sessPrev: h, hash: h, body, rows: Buffer.alloc(3, n), fmt: 0, colset: null };
}

test('records read back as appended, also from the bytes append returned', () => {
  const j = new Journal(join(dir, 'a'));
  const written = [1, 2, 3].map((no) => j.append(no, batch(no)));
  const back = j.recover();
  assert.deepEqual(back.map((r) => r.no), [1, 2, 3]);
  assert.equal(back[1]!.batch.records.bodies[0], '{"sql":"SELECT 2"}');
  assert.ok(Number.isNaN(back[1]!.batch.records.nums[3]));
  assert.deepEqual([...back[2]!.batch.records.bytes], new Array(99).fill(3));
  assert.deepEqual(decodeJournalRecords(written[1]!), [back[1]]);
  // Several records in one buffer, as the writer thread gets them.
  assert.deepEqual(decodeJournalRecords(Buffer.concat(written)), back);
  assert.throws(() => decodeJournalRecords(Buffer.concat(written).subarray(0, -1)), /cut short/);
  j.close();
});

test('a record cut short by a crash, or bytes after it, end the replay; the records before it are kept', () => {
  const path = join(dir, 'b');
  const j = new Journal(path);
  j.append(1, batch(1));
  const second = j.append(2, batch(2));
  j.close();
  appendFileSync(path, second.subarray(0, second.length - 5));
  assert.deepEqual(new Journal(path).recover().map((r) => r.no), [1, 2]);
  // A flipped byte inside a record fails its CRC.
  const path2 = join(dir, 'c');
  const k = new Journal(path2);
  k.append(1, batch(1));
  k.close();
  const bad = Buffer.from(second);
  bad[bad.length - 1]! ^= 0xff;
  appendFileSync(path2, bad);
  assert.deepEqual(new Journal(path2).recover().map((r) => r.no), [1]);
});

test('truncate empties the file only once it holds at least the given size', () => {
  const path = join(dir, 'd');
  const j = new Journal(path);
  j.append(1, batch(1));
  j.truncate(1 << 20);
  assert.ok(statSync(path).size > 0);
  j.truncate();
  assert.equal(statSync(path).size, 0);
  j.append(2, batch(2));
  assert.deepEqual(j.recover().map((r) => r.no), [2]);
  j.close();
});

test('bodies with characters outside ASCII (and empty ones) read back exactly', () => {
  const j = new Journal(join(dir, 'e'));
  const b = { ...batch(1), records: [record(1, 's-1', '{"sql":"SELECT 1"}'), record(1, 's-x', '{"sql":"SELECT \'Zoë — 東京 🚀\'"}'), record(1, 's-y', '')] };
  const written = j.append(1, b);
  for (const back of [j.recover()[0]!, decodeJournalRecords(written)[0]!]) {
    assert.deepEqual(back.batch.records.bodies, b.records.map((r) => r.body));
    assert.deepEqual(back.batch.records.sessionIds, ['s-1', 's-x', 's-y']);
    assert.deepEqual([...back.batch.records.bytes], new Array(3 * 99).fill(1));
  }
  j.close();
});

test('a journal written by an earlier version (bodies inside the JSON part) still replays', () => {
  // The layout before the bodies section: u32 length and JSON part (with `bodies`), u32 length and nums, then bytes.
  const nums = Buffer.from(new Float64Array([7, 7, 0, NaN, 3]).buffer);
  const bytes = Buffer.alloc(99, 7);
  const meta = Buffer.from(JSON.stringify({
    no: 7, stream: 1, sessions: [], colsets: [], columnSets: [], sessionColsets: [], closed: [], sessionIds: ['s-7'],
    bodies: ['{"sql":"SELECT \\"7\\""}'], checkpoint: null,
  }));
  const payload = Buffer.concat([Buffer.alloc(4), meta, Buffer.alloc(4), nums, bytes]);
  payload.writeUInt32LE(meta.length, 0);
  payload.writeUInt32LE(nums.length, 4 + meta.length);
  const head = Buffer.alloc(8);
  head.writeUInt32LE(payload.length, 0);
  head.writeUInt32LE(crc32(payload), 4);
  const path = join(dir, 'f');
  writeFileSync(path, Buffer.concat([head, payload]));
  const j = new Journal(path);
  j.append(8, batch(8));
  const back = j.recover();
  assert.deepEqual(back.map((r) => r.no), [7, 8]);
  assert.deepEqual(back[0]!.batch.records.bodies, ['{"sql":"SELECT \\"7\\""}']);
  assert.deepEqual(back[0]!.batch.records.sessionIds, ['s-7']);
  assert.deepEqual([...back[0]!.batch.records.bytes], new Array(99).fill(7));
  assert.equal(back[1]!.batch.records.bodies[0], '{"sql":"SELECT 8"}');
  j.close();
});

test('a planned batch reads back as the batch the writer thread would get without the journal (toWire)', () => {
  const { privateKey } = generateKeyPairSync('ed25519');
  const w = new ChainWriter({ stream: 'gw', key: privateKey, keyId: keyId(createPublicKey(privateKey)), checkpointEvery: 4 });
  const ev = (id: string, seq: number): Op => ({ kind: 'event', event: encodeEvent(selectEvent(id, seq), 1000) });
  const first = w.plan([{ kind: 'open', start: sessionStart('a') }, ev('a', 1)]);
  w.commit(first);
  // An existing session updated, a new one opened, rows, column sets, a close and the checkpoint it brings.
  const plan = w.plan([{ kind: 'open', start: sessionStart('b') }, ev('a', 2), ev('b', 1), { kind: 'close', id: 'a', endedAt: new Date().toISOString(), cause: 'quit' }]);
  assert.ok(plan.checkpoint && plan.records.some((r) => r.rows) && plan.sessions.size === 2);
  const j = new Journal(join(dir, 'g'));
  const written = j.append(7, plannedBatch(plan, 3));
  assert.deepEqual(decodeJournalRecords(written), [{ no: 7, batch: toWire(plan, 3) }]);
  assert.deepEqual(j.recover(), [{ no: 7, batch: toWire(plan, 3) }]);
  j.close();
});

test('pending records: taken in order; after a failed move put back before those added since, growing as needed', () => {
  const j = new Journal(join(dir, 'h'));
  const p = new PendingRecords();
  assert.equal(p.empty, true);
  const big = { ...batch(2), records: [{ ...record(2, 's-2', '{}'), rows: Buffer.alloc(100_000, 2) }] };
  p.add(1, j.append(1, batch(1)));
  p.add(2, j.append(2, big));
  const taken = p.take();
  assert.equal(p.empty, true);
  assert.equal(taken.lastNo, 2);
  p.add(3, j.append(3, batch(3)));
  p.restore(taken);
  const again = p.take();
  assert.equal(again.lastNo, 3);
  assert.deepEqual(decodeJournalRecords(again.bytes).map((r) => r.no), [1, 2, 3]);
  assert.deepEqual(decodeJournalRecords(again.bytes)[1]!.batch.records.bytes.subarray(96), Buffer.alloc(100_000, 2));
  // A backlog of several megabytes, then business as usual.
  p.add(4, j.append(4, { ...batch(4), records: [{ ...record(4, 's-4', '{}'), rows: Buffer.alloc(5_000_000, 4) }] }));
  assert.equal(p.take().bytes.length > 5_000_000, true);
  p.add(5, j.append(5, batch(5)));
  assert.deepEqual(decodeJournalRecords(p.take().bytes).map((r) => r.batch.records.sessionIds), [['s-5']]);
  j.close();
});

test('pending records: what was taken stays as it was while more is added, in shared memory that moves reuse', () => {
  const j = new Journal(join(dir, 'h2'));
  const p = new PendingRecords();
  p.add(1, j.append(1, batch(1)));
  const first = p.take();
  const copy = Buffer.from(first.bytes);
  // The next records go elsewhere, however many there are, until the move of the first is over.
  for (let n = 2; n < 200; n++) p.add(n, j.append(n, batch(n)));
  assert.deepEqual(first.bytes, copy);
  assert.ok(first.bytes.buffer instanceof SharedArrayBuffer, 'posted to the writer thread without a copy');
  p.release(first);
  const second = p.take();
  assert.deepEqual(decodeJournalRecords(second.bytes).map((r) => r.no), Array.from({ length: 198 }, (_, i) => i + 2));
  // Two buffers in turn: the one released takes the next records.
  p.add(200, j.append(200, batch(200)));
  const third = p.take();
  assert.equal(third.bytes.buffer, first.bytes.buffer);
  assert.notEqual(third.bytes.buffer, second.bytes.buffer);
  assert.deepEqual(decodeJournalRecords(third.bytes).map((r) => r.no), [200]);
  j.close();
});

test('pending records: a buffer grown by a backlog is kept once the writer thread has seen it, not dropped', () => {
  const j = new Journal(join(dir, 'h4'));
  const p = new PendingRecords();
  p.add(1, j.append(1, { ...batch(1), records: [{ ...record(1, 's-1', '{}'), rows: Buffer.alloc(6_000_000, 1) }] }));
  const large = p.take();
  assert.ok(large.bytes.buffer.byteLength > 6_000_000);
  p.release(large);
  p.add(2, j.append(2, batch(2)));
  p.take();
  // The next take goes on in the large buffer: a new one would leave the large one to the writer thread's collector.
  p.add(3, j.append(3, batch(3)));
  const next = p.take();
  assert.equal(next.bytes.buffer, large.bytes.buffer);
  assert.deepEqual(decodeJournalRecords(next.bytes).map((r) => r.no), [3]);
  j.close();
});

test('journal records one at a time: each decoded when asked for, damage reported after the intact ones', () => {
  const j = new Journal(join(dir, 'h3'));
  const run = Buffer.concat([j.append(1, batch(1)), j.append(2, batch(2))]);
  const damaged = Buffer.from(run);
  damaged[damaged.length - 1]! ^= 0xff;
  const seen: number[] = [];
  assert.throws(() => {
    for (const r of journalRecords(damaged)) seen.push(r.no);
  }, /the one at byte \d+ is cut short or damaged/);
  assert.deepEqual(seen, [1]);
  assert.deepEqual([...journalRecords(run)].map((r) => r.no), [1, 2]);
  j.close();
});
