import assert from 'node:assert/strict';
import { appendFileSync, mkdtempSync, rmSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, test } from 'node:test';
import { decodeJournalRecord, Journal } from './journal.ts';
import type { WireBatch } from './wire.ts';

const dir = mkdtempSync(join(tmpdir(), 'agentgate-journal-'));
after(() => rmSync(dir, { recursive: true, force: true }));

function batch(n: number): WireBatch {
  const nums = new Float64Array([n, n, 0, NaN, 3]);
  const bytes = new Uint8Array(99).fill(n);
  return {
    stream: 1, sessions: [], colsets: [], columnSets: [], sessionColsets: [], closed: [], checkpoint: null,
    records: { sessionIds: [`s-${n}`], bodies: [`{"sql":"SELECT ${n}"}`], nums, bytes },
  };
}

test('records read back as appended, also from the bytes append returned', () => {
  const j = new Journal(join(dir, 'a'));
  const written = [1, 2, 3].map((no) => j.append({ no, batch: batch(no) }));
  const back = j.recover();
  assert.deepEqual(back.map((r) => r.no), [1, 2, 3]);
  assert.equal(back[1]!.batch.records.bodies[0], '{"sql":"SELECT 2"}');
  assert.ok(Number.isNaN(back[1]!.batch.records.nums[3]));
  assert.deepEqual([...back[2]!.batch.records.bytes], new Array(99).fill(3));
  assert.deepEqual(decodeJournalRecord(written[1]!), back[1]);
  j.close();
});

test('a record cut short by a crash, or bytes after it, end the replay; the records before it are kept', () => {
  const path = join(dir, 'b');
  const j = new Journal(path);
  j.append({ no: 1, batch: batch(1) });
  const second = j.append({ no: 2, batch: batch(2) });
  j.close();
  appendFileSync(path, second.subarray(0, second.length - 5));
  assert.deepEqual(new Journal(path).recover().map((r) => r.no), [1, 2]);
  // A flipped byte inside a record fails its CRC.
  const path2 = join(dir, 'c');
  const k = new Journal(path2);
  k.append({ no: 1, batch: batch(1) });
  k.close();
  const bad = Buffer.from(second);
  bad[bad.length - 1]! ^= 0xff;
  appendFileSync(path2, bad);
  assert.deepEqual(new Journal(path2).recover().map((r) => r.no), [1]);
});

test('truncate empties the file only once it holds at least the given size', () => {
  const path = join(dir, 'd');
  const j = new Journal(path);
  j.append({ no: 1, batch: batch(1) });
  j.truncate(1 << 20);
  assert.ok(statSync(path).size > 0);
  j.truncate();
  assert.equal(statSync(path).size, 0);
  j.append({ no: 2, batch: batch(2) });
  assert.deepEqual(j.recover().map((r) => r.no), [2]);
  j.close();
});
