import assert from 'node:assert/strict';
import { createPublicKey, generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { DatabaseSync } from 'node:sqlite';
import { after, test } from 'node:test';
import { crc32 } from 'node:zlib';
import { keyId, sha256Hex, verifyPayload, type CheckpointPayload } from '../chain.ts';
import { ChainWriter, type Op, type Plan } from '../chain-writer.ts';
import { encodeEvent } from '../record.ts';
import { selectEvent, sessionStart } from '../../../test/helpers/audit.ts';
import { BatchWriter } from './batch-writer.ts';
import { decodeJournalRecords } from './journal.ts';
import { SQLITE_MIGRATIONS } from './schema.ts';
import { fromPlan, isPlanned, type JournaledPlan, type OpsBatch } from './wire.ts';

const dir = mkdtempSync(join(tmpdir(), 'agentgate-batch-writer-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const { privateKey } = generateKeyPairSync('ed25519');
const publicKey = createPublicKey(privateKey);
const signer = { key: privateKey, keyId: keyId(publicKey), checkpointEvery: 5 };
const open = (id: string): Op => ({ kind: 'open', start: sessionStart(id, { startedAt: '2025-01-01T00:00:00.000Z' }) });
const ev = (id: string, seq: number): Op => ({ kind: 'event', event: encodeEvent(selectEvent(id, seq), 1000) });
const close = (id: string): Op => ({ kind: 'close', id, endedAt: '2025-01-01T00:01:00.000Z', cause: 'quit' });

let dbs = 0;
/** A fresh database with the store's tables and stream 1, `gw`. */
function database(): string {
  const path = join(dir, `audit-${++dbs}.db`);
  const db = new DatabaseSync(path);
  db.exec('PRAGMA journal_mode = WAL');
  for (const m of SQLITE_MIGRATIONS) db.exec(m);
  db.prepare('INSERT INTO streams (id, name) VALUES (1, ?)').run('gw');
  db.close();
  return path;
}

const stored = (path: string) => {
  const db = new DatabaseSync(path, { readOnly: true });
  try {
    const events = db.prepare(`SELECT s.id, e.seq, e.position, hex(e.prev) AS prev, hex(e.sess_prev) AS sessPrev, hex(e.hash) AS hash
      FROM events e JOIN sessions s ON s.no = e.session_no ORDER BY e.position`).all();
    const checkpoints = db.prepare('SELECT n, position, payload, signature FROM checkpoints ORDER BY n').all();
    const contents = db.prepare(`SELECT e.body, e.colset, r.fmt, hex(r.rows) AS rows FROM events e LEFT JOIN event_rows r ON r.event_id = e.id
      ORDER BY e.position`).all();
    return { events, checkpoints, contents };
  } finally {
    db.close();
  }
};

const batches: Op[][] = [
  [open('a'), ev('a', 1), open('b')],
  [ev('b', 1), ev('a', 2)],
  [ev('a', 3), close('b')],
  [ev('a', 4), { kind: 'checkpoint' }],
  [ev('a', 5), ev('a', 6)],
];
const asBatch = (ops: Op[]): OpsBatch => ({ stream: 1, name: 'gw', ops });

/** The batches as a ChainWriter plans them on its own, one after the other. */
function referencePlans() {
  const reference = new ChainWriter({ stream: 'gw', ...signer });
  return batches.map((ops) => {
    const p = reference.plan(ops);
    reference.commit(p);
    return p;
  });
}

test('plans each batch as a ChainWriter does on its own, and signs the checkpoints it plans', () => {
  const plans = referencePlans();
  const path = database();
  const w = new BatchWriter(path, { fsync: false, busyTimeout: 1000, signer });
  w.writeMany(batches.slice(0, 2).map(asBatch), null);
  w.writeMany(batches.slice(2).map(asBatch), { stream: 1, batch: 5 });
  w.close();
  const { events, checkpoints } = stored(path);
  const hex = (b: Buffer) => b.toString('hex').toUpperCase();
  assert.deepEqual(events.map((e) => ({ ...e })), plans.flatMap((p) => p.records.map((r) => ({
    id: r.sessionId, seq: r.seq, position: r.position, prev: hex(r.prev), sessPrev: hex(r.sessPrev), hash: hex(r.hash),
  }))));
  const planned = plans.flatMap((p) => (p.checkpoint ? [p.checkpoint] : []));
  assert.equal(checkpoints.length, 3, 'every 5 records, the close of b, and the one asked for');
  assert.equal(planned.length, 3);
  checkpoints.forEach((c, i) => {
    // The time differs, and so does the digest of the previous checkpoint, which holds its time.
    const { at: _a, prev, ...mine } = JSON.parse(String(c.payload)) as CheckpointPayload;
    const { at: _b, prev: _c, ...theirs } = JSON.parse(planned[i]!.payload) as CheckpointPayload;
    assert.deepEqual(mine, theirs);
    assert.equal(prev, i === 0 ? '' : sha256Hex(String(checkpoints[i - 1]!.payload)));
    assert.equal(verifyPayload(String(c.payload), Buffer.from(c.signature as Uint8Array), publicKey), true);
  });
});

test('a batch planned again after a failed transaction, or by a writer started afresh, continues the chain from the tables', () => {
  const plans = referencePlans();
  const path = database();
  const w = new BatchWriter(path, { fsync: false, busyTimeout: 1000, signer });
  w.writeMany([asBatch(batches[0]!)], null);
  // The second batch fails half-way (an event of a session that is not open): nothing of the transaction stays.
  assert.throws(() => w.writeMany([asBatch(batches[1]!), asBatch([ev('x', 1)])], null), /refused an operation the store had admitted: session x is not open/);
  assert.equal(stored(path).events.length, 3);
  w.writeMany([asBatch(batches[1]!)], null);
  w.close();
  // Another writer (a restart) goes on, and its first checkpoint also seals what the first wrote since the last one.
  const again = new BatchWriter(path, { fsync: false, busyTimeout: 1000, signer });
  again.writeMany(batches.slice(2).map(asBatch), null);
  again.close();
  const { events, checkpoints } = stored(path);
  assert.deepEqual(events.map((e) => e.hash), plans.flatMap((p) => p.records.map((r) => r.hash.toString('hex').toUpperCase())));
  const first = JSON.parse(String(checkpoints[0]!.payload)) as CheckpointPayload;
  const expected = JSON.parse(plans.find((p) => p.checkpoint)!.checkpoint!.payload) as CheckpointPayload;
  assert.deepEqual(first.sessions, expected.sessions);
  assert.deepEqual(first.sessions.map((s) => s[0]), ['a', 'b']);
});

/**
 * A plan as an earlier version journaled it, planned already (the record's second layout: the JSON part, the records'
 * numbers, the bodies, then each record's hashes and rows), read back by the journal.
 */
function fromOldJournal(no: number, p: Plan): JournaledPlan {
  const u32 = (n: number) => {
    const b = Buffer.alloc(4);
    b.writeUInt32LE(n);
    return b;
  };
  const section = (b: Buffer) => Buffer.concat([u32(b.length), b]);
  const w = fromPlan(p);
  const bodies = p.records.map((r) => Buffer.from(r.body));
  const meta = {
    no, stream: 1, sessions: w.sessions, colsets: [...w.colsets], columnSets: [...w.columnSets], sessionColsets: w.sessionColsets,
    closed: p.closed, sessionIds: p.records.map((r) => r.sessionId), bodyBytes: bodies.map((b) => b.length),
    checkpoint: p.checkpoint ? { ...p.checkpoint, signature: p.checkpoint.signature.toString('base64') } : null,
  };
  const nums = new Float64Array(p.records.flatMap((r) => [r.position, r.seq, r.fmt, r.colset ?? NaN, r.rows ? r.rows.length : -1]));
  const payload = Buffer.concat([
    section(Buffer.from(JSON.stringify(meta))), section(Buffer.from(nums.buffer)), section(Buffer.concat(bodies)),
    ...p.records.flatMap((r) => [r.prev, r.sessPrev, r.hash, ...(r.rows ? [r.rows] : [])]),
  ]);
  const [r] = decodeJournalRecords(Buffer.concat([u32(payload.length), u32(crc32(payload)), payload]));
  assert.ok(r && isPlanned(r.batch));
  return r.batch;
}

test('batches an earlier version planned and journaled are stored as planned, and the chain goes on after them', () => {
  const plans = referencePlans();
  const fresh = database();
  const w = new BatchWriter(fresh, { fsync: false, busyTimeout: 1000, signer });
  w.writeMany(batches.map(asBatch), null);
  w.close();
  const path = database();
  const old = new BatchWriter(path, { fsync: false, busyTimeout: 1000, signer });
  // The first three as an earlier version journaled them (the third closes b and carries a checkpoint), the rest
  // as operations this version plans.
  old.writeMany([...plans.slice(0, 3).map((p, i) => fromOldJournal(i + 1, p)), ...batches.slice(3).map(asBatch)], null);
  old.close();
  const a = stored(fresh);
  const b = stored(path);
  assert.equal(b.events.length, 9);
  assert.deepEqual(b.events, a.events);
  assert.deepEqual(b.contents, a.contents);
  assert.ok(b.contents.some((c) => c.rows !== null && c.colset !== null), 'events with rows and column origins were compared');
  // The checkpoints an earlier version signed are stored as signed; the next, planned here, links to them.
  const signedBefore = plans.slice(0, 3).flatMap((p) => (p.checkpoint ? [p.checkpoint] : []));
  assert.ok(signedBefore.length >= 1);
  assert.equal(b.checkpoints.length, 3);
  b.checkpoints.forEach((c, i) => {
    if (i < signedBefore.length) {
      assert.equal(String(c.payload), signedBefore[i]!.payload);
      assert.deepEqual(Buffer.from(c.signature as Uint8Array), signedBefore[i]!.signature);
    } else {
      const { at: _a, prev, ...mine } = JSON.parse(String(c.payload)) as CheckpointPayload;
      const { at: _b, prev: _c, ...theirs } = JSON.parse(String(a.checkpoints[i]!.payload)) as CheckpointPayload;
      assert.deepEqual(mine, theirs);
      assert.equal(prev, sha256Hex(String(b.checkpoints[i - 1]!.payload)));
      assert.equal(verifyPayload(String(c.payload), Buffer.from(c.signature as Uint8Array), publicKey), true);
    }
  });
});
