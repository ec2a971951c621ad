import assert from 'node:assert/strict';
import { closeSync, existsSync, mkdtempSync, openSync, rmSync, statSync, writeFileSync, writeSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { decodeJournalRecords, encodeJournalRecord, Journal, journalRecords, PendingRecords, type JournalRecord } from './journal.ts';
import type { Op } from '../chain-writer.ts';
import { encodeEvent, type EncodedEvent } from '../record.ts';
import { selectEvent, sessionStart } from '../../../test/helpers/audit.ts';
import { isPlanned, type JournaledPlan, type OpsBatch } from './wire.ts';

const dir = mkdtempSync(join(tmpdir(), 'agentgate-journal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

/** An event of session `s-n` at seq n, whose body is `{"sql":"SELECT n"}` and whose rows are 3 bytes of n. */
function event(n: number, o: Partial<EncodedEvent> = {}): Op {
  return {
    kind: 'event',
    event: {
      sessionId: `s-${n}`, seq: n, body: `{"sql":"SELECT ${n}"}`, rows: Buffer.alloc(3, n), fmt: 0, columnSets: [], colsetKey: null,
      colset: null, statements: 1, denied: 0, approvals: 0, kinds: 1, ...o,
    },
  };
}

function batch(n: number, ops: Op[] = [event(n)]): OpsBatch {
  return { stream: 1, name: 'gw', ops };
}

function opsOf(r: JournalRecord): Op[] {
  assert.ok(!isPlanned(r.batch));
  return r.batch.ops;
}

function planned(r: JournalRecord): JournaledPlan {
  assert.ok(isPlanned(r.batch));
  return r.batch;
}

/** An operation as it reads back: a column set is its digest and text. */
function asRead(op: Op): Op {
  if (op.kind !== 'event') return op;
  return { kind: 'event', event: { ...op.event, columnSets: op.event.columnSets.map((c) => ({ digest: c.digest, text: c.text })) } };
}

test('records read back as appended, also from the bytes append returned', () => {
  const j = new Journal(join(dir, 'a'));
  const written = [1, 2, 3].map((no) => j.append(no, batch(no)));
  const back = j.recover();
  assert.deepEqual(back.map((r) => r.no), [1, 2, 3]);
  assert.deepEqual(back[1], { no: 2, batch: batch(2) });
  assert.deepEqual(decodeJournalRecords(written[1]!), [back[1]]);
  // Several records in one buffer, as the writer thread gets them.
  assert.deepEqual(decodeJournalRecords(Buffer.concat(written)), back);
  assert.throws(() => decodeJournalRecords(Buffer.concat(written).subarray(0, -1)), /cut short/);
  j.close();
});

test('every kind of operation reads back as admitted: sessions opened and closed, events with rows and column sets, checkpoints', () => {
  const real = (id: string, seq: number, rows?: (string | null)[][]): Op => ({ kind: 'event', event: encodeEvent(selectEvent(id, seq, rows), 1000) });
  const first = real('a', 1);
  assert.ok(first.kind === 'event' && first.event.rows && first.event.columnSets.length === 1 && first.event.colsetKey);
  const ops: Op[] = [
    { kind: 'open', start: sessionStart('a') },
    first,
    // No rows, no column set text (handed over before), a body outside ASCII, an empty body.
    real('a', 2, []),
    event(3, { sessionId: 'a', rows: null, colset: 77, colsetKey: null, body: '{"sql":"SELECT \'Zoë — 東京 🚀\'"}' }),
    event(4, { sessionId: 'a', body: '', rows: Buffer.alloc(0) }),
    { kind: 'close', id: 'a', endedAt: new Date().toISOString(), cause: 'quit' },
    { kind: 'checkpoint' },
  ];
  const j = new Journal(join(dir, 'g'));
  const written = j.append(7, { stream: 3, name: 'gw+1', ops });
  const expected = { no: 7, batch: { stream: 3, name: 'gw+1', ops: ops.map(asRead) } };
  assert.deepEqual(decodeJournalRecords(written), [expected]);
  assert.deepEqual(j.recover(), [expected]);
  j.close();
});

test('a record cut short or damaged, or numbered no higher than the one before, ends the replay; the records before it are kept', () => {
  const recs = [1, 2, 3].map((no) => encodeJournalRecord(no, batch(no)));
  let files = 0;
  const replay = (bytes: Buffer): number[] => {
    const path = join(dir, `b-${++files}`);
    writeFileSync(path, bytes);
    return new Journal(path).recover().map((r) => r.no);
  };
  // As an earlier version left them: records one after the other, no end mark.
  assert.deepEqual(replay(Buffer.concat(recs)), [1, 2, 3]);
  // Cut short (a write that failed part-way, or a machine that stopped).
  assert.deepEqual(replay(Buffer.concat([recs[0]!, recs[1]!, recs[2]!.subarray(0, -5)])), [1, 2]);
  // A flipped byte fails the CRC; nothing after it is read.
  const bad = Buffer.from(recs[1]!);
  bad[bad.length - 1]! ^= 0xff;
  assert.deepEqual(replay(Buffer.concat([recs[0]!, bad, recs[2]!])), [1]);
  // A lower number: what is left of a round before, were its end mark lost.
  assert.deepEqual(replay(Buffer.concat([recs[1]!, recs[0]!, recs[2]!])), [2]);
});

test('the end mark after each record: what looks like a record in the round before, right after the new one, is not replayed', () => {
  const path = join(dir, 'mark');
  const rec = (no: number): OpsBatch => batch(10 + no);
  const j = new Journal(path, { roundBytes: 1 });
  const first = j.append(1, rec(1));
  j.append(2, rec(2)); // the first file's round is full: the second file
  // Bytes of the round before that read as a record, numbered higher, where the next record in the first file ends
  // (an event's rows could hold such bytes).
  const fake = encodeJournalRecord(99, rec(99));
  const fd = openSync(path, 'r+');
  writeSync(fd, fake, 0, fake.length, first.length);
  closeSync(fd);
  j.moved(2);
  assert.equal(j.append(3, rec(3)).length, first.length); // a new round of the first file, over record 1
  assert.deepEqual(new Journal(path).recover().map((r) => r.no), [2, 3]);
  j.close();
});

test('truncate empties both files; remove deletes them', () => {
  const path = join(dir, 'd');
  const j = new Journal(path, { roundBytes: 1 });
  j.append(1, batch(1));
  j.append(2, batch(2));
  assert.ok(statSync(path).size > 0 && statSync(`${path}.1`).size > 0, 'the second record went to the second file');
  j.truncate();
  assert.deepEqual([statSync(path).size, statSync(`${path}.1`).size], [0, 0]);
  j.append(3, batch(3));
  assert.deepEqual(j.recover().map((r) => r.no), [3]);
  j.close();
  Journal.remove(path);
  assert.deepEqual([existsSync(path), existsSync(`${path}.1`)], [false, false]);
});

test('rounds: a full file is written over only once its records are moved; a replay gets both files\' records in order, not what is left of a round before', () => {
  const path = join(dir, 'rounds');
  // Records of one size (bodies `SELECT 1n`): where a new round ends, an intact record of the round before follows.
  const rec = (no: number): OpsBatch => batch(10 + no);
  const size = encodeJournalRecord(1, rec(1)).length;
  /** The size of a file holding n records: each is followed by the end mark, which the next writes over. */
  const holding = (n: number): number => n * size + 8;
  const j = new Journal(path, { roundBytes: 3 * size });
  for (let no = 1; no <= 3; no++) j.append(no, rec(no));
  assert.equal(existsSync(`${path}.1`), false);
  // The first file's round is full: appends go on in the second file (nothing to wait for there).
  for (let no = 4; no <= 7; no++) j.append(no, rec(no));
  assert.deepEqual([statSync(path).size, statSync(`${path}.1`).size], [holding(3), holding(4)]);
  // The second file's round is full, but the first still holds records not moved into the tables: they are kept,
  // and the second file grows.
  j.moved(2);
  j.append(8, rec(8));
  assert.deepEqual([statSync(path).size, statSync(`${path}.1`).size], [holding(3), holding(5)]);
  // Once they are moved, the first file starts a new round from its start, over them; it does not grow.
  j.moved(7);
  j.append(9, rec(9));
  assert.deepEqual([statSync(path).size, statSync(`${path}.1`).size], [holding(3), holding(5)]);
  // A crash now: the next to open the journal reads the second file's round, then the first's, not records 2 and 3
  // left of the first file's round before.
  const after = new Journal(path, { roundBytes: 3 * size });
  assert.deepEqual(after.recover().map((r) => r.no), [4, 5, 6, 7, 8, 9]);
  // Appends after a replay go after the intact records (over records 2 and 3), and the next replay reads them.
  after.append(10, rec(10));
  assert.deepEqual(new Journal(path).recover().map((r) => r.no), [4, 5, 6, 7, 8, 9, 10]);
  // A new round that ends mid-record of the round before: that record fails its length or CRC check. (11 fills the
  // first file's round, 12-16 go to the second; once 11 is moved, 17 starts a round of the first file over 9.)
  after.moved(10);
  for (let no = 11; no <= 16; no++) after.append(no, rec(no));
  after.moved(15);
  after.append(17, batch(17, [event(17, { body: '{"sql":"SELECT 17 -- longer than the others"}' })]));
  assert.deepEqual(new Journal(path).recover().map((r) => r.no), [12, 13, 14, 15, 16, 17]);
  after.close();
  j.close();
});

/** A record as journal.ts frames it (length, CRC-32) around `payload`. */
function framed(payload: Buffer): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32LE(payload.length, 0);
  head.writeUInt32LE(crc32(payload), 4);
  return Buffer.concat([head, payload]);
}

/** u32 length, then the bytes. */
function section(b: Buffer): Buffer {
  const len = Buffer.alloc(4);
  len.writeUInt32LE(b.length);
  return Buffer.concat([len, b]);
}

test('journals written by earlier versions (batches planned already, in both of their layouts) still replay', () => {
  const nums = Buffer.from(new Float64Array([7, 7, 0, NaN, 3]).buffer);
  // prev, sessPrev, hash, then 3 bytes of rows.
  const bytes = Buffer.concat([Buffer.alloc(32, 1), Buffer.alloc(32, 2), Buffer.alloc(32, 3), Buffer.alloc(3, 4)]);
  const meta = {
    no: 7, stream: 1, sessions: [], colsets: [], columnSets: [], sessionColsets: [], closed: [], sessionIds: ['s-7'], checkpoint: null,
  };
  // The first layout: the bodies inside the JSON part.
  const first = section(Buffer.from(JSON.stringify({ ...meta, bodies: ['{"sql":"SELECT \\"7\\""}'] })));
  // The second: the bodies in a section of their own after `nums`, their lengths in the JSON part.
  const body8 = Buffer.from('{"sql":"SELECT 8 -- é"}');
  const second = Buffer.concat([
    section(Buffer.from(JSON.stringify({ ...meta, no: 8, sessionIds: ['s-8'], bodyBytes: [body8.length] }))), section(nums), section(body8), bytes,
  ]);
  const path = join(dir, 'f');
  writeFileSync(path, Buffer.concat([framed(Buffer.concat([first, section(nums), bytes])), framed(second)]));
  const j = new Journal(path);
  j.append(9, batch(9));
  const back = j.recover();
  assert.deepEqual(back.map((r) => r.no), [7, 8, 9]);
  // Each record's numbers, hashes (prev, sessPrev, hash) and rows, unpacked.
  const record = (sessionId: string, body: string) => ({
    sessionId, position: 7, seq: 7, fmt: 0, colset: null, prev: Buffer.alloc(32, 1), sessPrev: Buffer.alloc(32, 2), hash: Buffer.alloc(32, 3),
    body, rows: Buffer.alloc(3, 4),
  });
  assert.deepEqual(planned(back[0]!).records, [record('s-7', '{"sql":"SELECT \\"7\\""}')]);
  assert.deepEqual(planned(back[1]!).records, [record('s-8', '{"sql":"SELECT 8 -- é"}')]);
  assert.deepEqual(opsOf(back[2]!), batch(9).ops);
  j.close();
});

test('pending records: taken in order; after a failed move put back before those added since, growing as needed', () => {
  const j = new Journal(join(dir, 'h'));
  const p = new PendingRecords();
  assert.equal(p.empty, true);
  const big = batch(2, [event(2, { rows: Buffer.alloc(100_000, 2) })]);
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
  assert.deepEqual(opsOf(decodeJournalRecords(again.bytes)[1]!), big.ops);
  // A backlog of several megabytes, then business as usual.
  p.add(4, j.append(4, batch(4, [event(4, { rows: Buffer.alloc(5_000_000, 4) })])));
  assert.equal(p.take().bytes.length > 5_000_000, true);
  p.add(5, j.append(5, batch(5)));
  assert.deepEqual(decodeJournalRecords(p.take().bytes).map(opsOf), [batch(5).ops]);
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
  p.add(1, j.append(1, batch(1, [event(1, { rows: Buffer.alloc(6_000_000, 1) })])));
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
