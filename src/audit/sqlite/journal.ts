import { createHash } from 'node:crypto';
import { closeSync, constants, existsSync, fstatSync, ftruncateSync, openSync, readdirSync, readFileSync, readSync, rmSync, writeFileSync, writevSync } from 'node:fs';
import { basename, dirname, join } from 'node:path';
import { crc32 } from 'node:zlib';
import { readStat } from '../../procfs.ts';
import { BatchWriter } from './batch-writer.ts';
import type { Op, PlannedRecord } from '../chain-writer.ts';
import type { EncodedEvent } from '../record.ts';
import type { SessionStart } from '../types.ts';
import type { ChainSigner, JournaledPlan, OpsBatch, WireSession } from './wire.ts';

/**
 * The write-ahead journal of one writer (stream) of the SQLite store.
 *
 * A group commit is durable once its batch is appended here with one write(): like a WAL commit with
 * synchronous=NORMAL, the bytes are then in the kernel and survive a crash of the process. The batches are moved into
 * the SQLite tables a moment later, many per transaction (journal_state records the last one moved, in the same
 * transaction). That keeps a statement's added latency to a write() instead of a SQLite commit, and costs less CPU
 * per event. After a crash, `recover` returns what was journaled but not yet moved.
 *
 * A batch is journaled as the operations the main thread admitted (OpsBatch), not yet chained: the writer thread
 * plans the chain (positions, hashes, checkpoints) when it moves the batch, and so does a replay. The hashes depend
 * only on what the tables hold before the batch and on the batch itself, so a batch planned twice (a move that
 * failed, then another) is planned the same; only a checkpoint's time is when it was planned.
 *
 * Record: u32 length of the payload, u32 CRC-32 of the payload, then the payload: u32 length of a JSON part (the
 * batch number, the stream and the operations, see `encodeJournalRecord`), that JSON, u32 length of the bodies, the
 * events' bodies one after the other as UTF-8, then their rows one after the other. The bodies are JSON text
 * already: kept out of the JSON part, they are not escaped a second time on the way in nor parsed on the way out.
 * A record cut short by the crash (or any later bytes) fails its length or CRC check and ends the replay. Records
 * written by earlier versions hold a batch planned already (a JournaledPlan, `decodePlannedRecord`); they still read
 * back.
 *
 * The journal is two files written in rounds (see ROUND_BYTES): `<path>` and, once the first round is full,
 * `<path>.1`. A round starts at the beginning of its file, over records moved into the tables already. Each record is
 * followed by an end mark (END_MARK), which the next one writes over: a replay of the file ends there, before what is
 * left of the round before; as a second guard it also ends at a record numbered no higher than the one before it.
 * Earlier versions appended to `<path>` alone, without end marks; such a journal is one round.
 */
export interface JournalRecord {
  no: number;
  /** The operations as admitted; a JournaledPlan (planned, hashed, signed) in a record an earlier version wrote. */
  batch: OpsBatch | JournaledPlan;
}

export class Journal {
  readonly path: string;
  private readonly roundBytes: number;
  /** The journal's two files: `path`, and `path.1` once the first round of `path` is full. */
  private readonly segments: [Segment, Segment | null];
  /** The segment appends go to. */
  private active: 0 | 1 = 0;
  /** Records up to this number are in the tables (`moved`). */
  private movedNo = 0;

  /** `roundBytes`: how much a segment takes before appends go to the other one, as soon as that one is all moved. */
  constructor(path: string, o: { roundBytes?: number } = {}) {
    this.path = path;
    this.roundBytes = o.roundBytes ?? ROUND_BYTES;
    const second = `${path}.1`;
    this.segments = [new Segment(path), existsSync(second) ? new Segment(second) : null];
  }

  /**
   * Appends batch number `no`; returns once write() returned. Returns
   * the record as written (`journalRecords` reads it back: the writer thread gets these bytes, not the batch).
   * Numbers must increase from one record to the next.
   */
  append(no: number, batch: OpsBatch): Buffer {
    const out = encodeJournalRecord(no, batch);
    let seg = this.segments[this.active]!;
    if (seg.end >= this.roundBytes) {
      const other = (1 - this.active) as 0 | 1;
      const next = (this.segments[other] ??= new Segment(`${this.path}.1`));
      if (next.last <= this.movedNo) {
        next.startRound();
        this.active = other;
        seg = next;
      }
    }
    // The record and, after it, the end mark, in one write: a replay never reads on into the round before. A write
    // that fails part-way (a full disk) leaves part of the record at `end`, which fails its length or CRC check; the
    // next append writes over it.
    const total = out.length + END_MARK.length;
    let done = writevSync(seg.fd, [out, END_MARK], seg.end);
    while (done < total) {
      const rest = done < out.length ? [out.subarray(done), END_MARK] : [END_MARK.subarray(done - out.length)];
      done += writevSync(seg.fd, rest, seg.end + done);
    }
    seg.end += out.length;
    seg.last = no;
    return out;
  }

  /** Records up to number `no` are in the tables: a segment that holds no later one may start a new round. */
  moved(no: number): void {
    if (no > this.movedNo) this.movedNo = no;
  }

  /**
   * Every intact record of the current rounds of both segments, in order; later appends go after the last of them.
   * A segment's scan ends at the end mark, at a record cut short or damaged, or at one whose number is not above the
   * one before it.
   */
  recover(): JournalRecord[] {
    const [first, second] = this.segments;
    const records = [...first.recover(), ...(second?.recover() ?? [])].sort((x, y) => x.no - y.no);
    this.active = second && second.last > first.last ? 1 : 0;
    return records;
  }

  /** Empties the journal: everything in it has been moved into the tables. */
  truncate(): void {
    for (const seg of this.segments) seg?.truncate();
    this.active = 0;
  }

  close(): void {
    for (const seg of this.segments) seg?.close();
  }

  /** Removes a closed journal's files. */
  static remove(path: string): void {
    rmSync(`${path}.1`, { force: true });
    rmSync(path, { force: true });
  }
}

/**
 * How much of the journal one round of a segment holds. Appends go to one segment until its round holds this much,
 * then to the other, once everything in that one has been moved into the tables: from its start, over the records of
 * its round before. Rounds keep the journal's size bounded under a load that never pauses (a single file could start
 * over only at a moment when all of it had been moved, which a steady stream of statements never leaves), and new
 * records go into pages the files already have: appending past the end of a file costs the kernel a new page, zeroed,
 * every 4 KiB. So each file holds at most about this much (more only while the writer thread falls behind), all of
 * it records moved into the tables already, apart from the latest.
 */
const ROUND_BYTES = 1024 * 1024;

/**
 * Written after every record, and written over by the next: a length no record has, so a replay ends there and never
 * reads the bytes of the round before as records (a value stored in an event's rows could hold what looks like one).
 */
const END_MARK = Buffer.alloc(8, 0xff);

/** One file of a journal, written in rounds: each starts at the beginning of the file, over the round before. */
class Segment {
  fd: number;
  /** Where the next record goes: the end of this round's records. */
  end: number;
  /** The number of the last record of this round (0: none). */
  last = 0;

  constructor(path: string) {
    // Not O_APPEND: a new round writes from the start of the file.
    this.fd = openSync(path, constants.O_RDWR | constants.O_CREAT, 0o600);
    this.end = fstatSync(this.fd).size;
    // What an existing file holds is unknown until `recover` reads it: until then, appends go after it and no new
    // round writes over it.
    if (this.end > 0) this.last = Number.MAX_SAFE_INTEGER;
  }

  recover(): JournalRecord[] {
    const size = fstatSync(this.fd).size;
    const buf = Buffer.allocUnsafe(size);
    let got = 0;
    while (got < size) {
      const n = readSync(this.fd, buf, got, size - got, got);
      if (n === 0) break;
      got += n;
    }
    const out: JournalRecord[] = [];
    let reached = 0;
    this.end = 0;
    for (const r of scan(buf.subarray(0, got), (at) => (reached = at))) {
      if (out.length && r.no <= out[out.length - 1]!.no) break;
      out.push(r);
      this.end = reached;
    }
    this.last = out.at(-1)?.no ?? 0;
    return out;
  }

  /** The next record goes to the start of the file. */
  startRound(): void {
    this.end = 0;
    this.last = 0;
  }

  truncate(): void {
    ftruncateSync(this.fd, 0);
    this.startRound();
  }

  close(): void {
    if (this.fd >= 0) closeSync(this.fd);
    this.fd = -1;
  }
}

const PENDING_START = 64 * 1024;

/** A Buffer over shared memory: posted to the writer thread, it is shared with it rather than copied. */
function sharedBuffer(size: number): Buffer {
  return Buffer.from(new SharedArrayBuffer(size));
}

/**
 * Journaled records not yet moved into the tables, as one run of bytes: the records one after the other, as `append`
 * returned them. Not a Buffer per record: held across several collections of the young generation, those would be
 * promoted to the old one and cost the garbage collector more than the copy made here.
 *
 * The run lives in shared memory, in one of two buffers used in turn: `take` hands over the current one (the writer
 * thread reads the records where they are) and goes on in the other, and the one taken comes back with `release` or
 * `restore` once the move is over. No buffer is allocated per move: a new one each time, held (and so promoted)
 * until the move ends, made the old generation's external memory grow by its size at every move, and V8 answered
 * with a full collection about every half second under load.
 */
export class PendingRecords {
  #buf = sharedBuffer(PENDING_START);
  /** The other buffer, when it is not taken: where the next `take` goes on. */
  #spare: Buffer | null = null;
  #len = 0;
  /** Number of the last batch added (0: none since the last take). */
  lastNo = 0;

  get empty(): boolean {
    return this.#len === 0;
  }

  get bytes(): number {
    return this.#len;
  }

  add(no: number, record: Buffer): void {
    this.#reserve(record.length);
    this.#len += record.copy(this.#buf, this.#len);
    this.lastNo = no;
  }

  /**
   * Everything added so far, and empties this. The bytes stay this object's memory: they must not change until they
   * come back through `release` (moved) or `restore` (not moved), and at most one take may be out at a time.
   */
  take(): { bytes: Buffer; lastNo: number } {
    const taken = { bytes: this.#buf.subarray(0, this.#len), lastNo: this.lastNo };
    this.#buf = this.#spare ?? sharedBuffer(PENDING_START);
    this.#spare = null;
    this.#len = 0;
    this.lastNo = 0;
    return taken;
  }

  /** The bytes `take` returned were moved: their buffer is free again. */
  release(taken: { bytes: Buffer }): void {
    this.#recycle(taken.bytes);
  }

  /** Puts back what `take` returned, before what was added since. */
  restore(taken: { bytes: Buffer; lastNo: number }): void {
    this.#reserve(taken.bytes.length);
    this.#buf.copy(this.#buf, taken.bytes.length, 0, this.#len);
    taken.bytes.copy(this.#buf, 0);
    this.#len += taken.bytes.length;
    if (!this.lastNo) this.lastNo = taken.lastNo;
    this.#recycle(taken.bytes);
  }

  /**
   * Keeps a returned buffer as the spare, however large a backlog made it. A buffer the writer thread has seen is freed
   * only once that thread's isolate has collected its own reference, which an idle writer thread may not do for a long
   * time: dropping the large ones after each move let the process's memory grow by tens of megabytes with every burst
   * of load followed by a pause (to 460 MB after six). Kept, the two buffers grow to the largest backlog and stay there,
   * which `maxPendingBytes` (with the batch that crosses it) bounds.
   */
  #recycle(b: Buffer): void {
    if (b.buffer !== this.#buf.buffer) this.#spare = Buffer.from(b.buffer);
  }

  /**
   * Grows the current buffer. The one outgrown may have been the writer thread's before (see #recycle): it is left to
   * that thread's collector, but since buffers never shrink, this happens at most twice per doubling of the largest
   * backlog, not once per move.
   */
  #reserve(more: number): void {
    if (this.#len + more <= this.#buf.length) return;
    const next = sharedBuffer(Math.max(this.#buf.length * 2, this.#len + more));
    this.#buf.copy(next, 0, 0, this.#len);
    this.#buf = next;
  }
}

/**
 * The journal record of batch number `no`, as `append` writes it; the writer thread gets the same bytes (with fsync,
 * unjournaled, numbered 0). Each operation is a tuple in the JSON part:
 *
 * - `["o", start]`: a session opened (its SessionStart);
 * - `["e", sessionId, seq, fmt, colset, colsetKey, [[digest, text]…], statements, denied, approvals, kinds, body
 *   bytes, rows bytes]`: an event (EncodedEvent), its body in the bodies section, its rows (rows bytes -1: none) in
 *   the rows section;
 * - `["c", id, endedAt, cause]`: a session closed;
 * - `["k"]`: a checkpoint asked for.
 */
export function encodeJournalRecord(no: number, b: OpsBatch): Buffer {
  const ops = b.ops;
  const n = ops.length;
  const tuples = new Array<unknown[]>(n);
  /** Each event's body length in UTF-8 bytes (0 for the other operations). */
  const bodyBytes = new Array<number>(n).fill(0);
  let bodiesLen = 0;
  let rowsLen = 0;
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    switch (op.kind) {
      case 'event': {
        const e = op.event;
        bodiesLen += bodyBytes[i] = Buffer.byteLength(e.body, 'utf8');
        if (e.rows) rowsLen += e.rows.length;
        const sets = e.columnSets.length ? e.columnSets.map((c) => [c.digest, c.text]) : NO_SETS;
        tuples[i] = ['e', e.sessionId, e.seq, e.fmt, e.colset, e.colsetKey, sets, e.statements, e.denied, e.approvals, e.kinds, bodyBytes[i], e.rows ? e.rows.length : -1];
        break;
      }
      case 'open':
        tuples[i] = ['o', op.start];
        break;
      case 'close':
        tuples[i] = ['c', op.id, op.endedAt, op.cause];
        break;
      case 'checkpoint':
        tuples[i] = ['k'];
        break;
    }
  }
  const meta = JSON.stringify({ no, stream: b.stream, name: b.name, ops: tuples });
  const metaLen = Buffer.byteLength(meta, 'utf8');
  const payloadLen = 4 + metaLen + 4 + bodiesLen + rowsLen;
  const out = Buffer.allocUnsafe(8 + payloadLen);
  let o = 8;
  out.writeUInt32LE(metaLen, o); o += 4;
  o += out.write(meta, o, metaLen, 'utf8');
  out.writeUInt32LE(bodiesLen, o); o += 4;
  for (let i = 0; i < n; i++) {
    const op = ops[i]!;
    if (op.kind === 'event') o += out.write(op.event.body, o, bodyBytes[i]!, 'utf8');
  }
  for (const op of ops) if (op.kind === 'event' && op.event.rows) o += op.event.rows.copy(out, o);
  out.writeUInt32LE(payloadLen, 0);
  out.writeUInt32LE(crc32(out.subarray(8)), 4);
  return out;
}
const NO_SETS: never[] = [];

/**
 * Records as `append` returned them (headers included), one after the other in `recs`. The batches' buffers are views
 * into `recs`, not copies.
 */
export function decodeJournalRecords(recs: Uint8Array): JournalRecord[] {
  return [...journalRecords(recs)];
}

/**
 * The same, one record at a time: a record is decoded when the one before has been dealt with, so that a long run of
 * them is never all held as objects at once (the writer thread's young generation would copy them around). Throws,
 * once the intact records are done, when the run ends in a record cut short or damaged.
 */
export function* journalRecords(recs: Uint8Array): Generator<JournalRecord> {
  const b = Buffer.from(recs.buffer, recs.byteOffset, recs.byteLength);
  let end = 0;
  for (const r of scan(b, (at) => (end = at))) yield r;
  if (end !== recs.byteLength) throw new Error(`journal records: the one at byte ${end} is cut short or damaged`);
}

/**
 * The intact records at the start of `b`, and (`reached`) where each one ends: a record cut short (a crash in the
 * middle of its write) or failing its CRC ends the scan, and nothing after it is read.
 */
function* scan(b: Buffer, reached?: (end: number) => void): Generator<JournalRecord> {
  let pos = 0;
  while (pos + 8 <= b.length) {
    const end = pos + 8 + b.readUInt32LE(pos);
    if (end > b.length) break;
    const payload = b.subarray(pos + 8, end);
    if (crc32(payload) !== b.readUInt32LE(pos + 4)) break;
    const record = decodeRecord(payload);
    pos = end;
    reached?.(pos);
    yield record;
  }
}

type OpTuple =
  | ['o', SessionStart]
  | ['e', string, number, number, number | null, string | null, [string, string][], number, number, number, number, number, number]
  | ['c', string, string, string]
  | ['k'];

function decodeRecord(p: Buffer): JournalRecord {
  let o = 0;
  const metaLen = p.readUInt32LE(o); o += 4;
  const m = JSON.parse(p.toString('utf8', o, o + metaLen)) as { no: number; stream: number; name?: string; ops?: OpTuple[] };
  o += metaLen;
  if (!m.ops) return decodePlannedRecord(p, o, m as unknown as PlannedMeta);
  const bodiesEnd = o + 4 + p.readUInt32LE(o);
  o += 4;
  let rowsAt = bodiesEnd;
  const ops: Op[] = new Array<Op>(m.ops.length);
  for (let i = 0; i < m.ops.length; i++) {
    const t = m.ops[i]!;
    switch (t[0]) {
      case 'e': {
        const body = p.toString('utf8', o, o + t[11]);
        o += t[11];
        let rows: Buffer | null = null;
        if (t[12] >= 0) {
          rows = p.subarray(rowsAt, rowsAt + t[12]);
          rowsAt += t[12];
        }
        const event: EncodedEvent = {
          sessionId: t[1], seq: t[2], body, rows, fmt: t[3], colset: t[4], colsetKey: t[5],
          columnSets: t[6].map(([digest, text]) => ({ digest, text })), statements: t[7], denied: t[8], approvals: t[9], kinds: t[10],
        };
        ops[i] = { kind: 'event', event };
        break;
      }
      case 'o':
        ops[i] = { kind: 'open', start: t[1] };
        break;
      case 'c':
        ops[i] = { kind: 'close', id: t[1], endedAt: t[2], cause: t[3] };
        break;
      case 'k':
        ops[i] = { kind: 'checkpoint' };
        break;
      default:
        throw new Error(`journal record: unknown operation ${JSON.stringify((t as unknown[])[0])}`);
    }
  }
  if (o !== bodiesEnd || rowsAt !== p.length) throw new Error('journal record: the bodies and rows do not add up to their sections');
  return { no: m.no, batch: { stream: m.stream, name: m.name!, ops } };
}

/** The JSON part of a record written before the writer thread planned the chain: the batch planned already. */
interface PlannedMeta {
  no: number;
  stream: number;
  sessions: WireSession[];
  colsets: [number, string][];
  columnSets: [string, string][];
  sessionColsets: [number, string][];
  closed: string[];
  sessionIds: string[];
  bodyBytes?: number[];
  bodies?: string[];
  checkpoint: (Omit<NonNullable<JournaledPlan['checkpoint']>, 'signature'> & { signature: string }) | null;
}

/** Numbers per record in a planned record: position, seq, fmt, colset (NaN: none), rows length (-1: none). */
const NUMS_PER_RECORD = 5;

/**
 * A record an earlier version wrote, read back as the planned batch it holds: after its JSON part, u32 length of the
 * records' numbers (NUMS_PER_RECORD doubles each, in the platform's byte order) and their bytes, u32 length of the
 * bodies and the bodies (without that section, the bodies are a `bodies` array of the JSON part), then each record's
 * prev, sessPrev and hash (32 bytes each) and its rows, one record after the other.
 */
function decodePlannedRecord(p: Buffer, o: number, m: PlannedMeta): JournalRecord {
  const n = m.sessionIds.length;
  const numsLen = p.readUInt32LE(o); o += 4;
  if (numsLen !== 8 * NUMS_PER_RECORD * n) throw new Error('journal record: the planned records\' numbers do not match their count');
  // A Float64Array needs its own (aligned) memory.
  const nums = new Float64Array(numsLen / 8);
  Buffer.from(nums.buffer).set(p.subarray(o, o + numsLen));
  o += numsLen;
  let bodies: string[];
  if (Array.isArray(m.bodyBytes)) {
    const lens = m.bodyBytes;
    const end = o + 4 + p.readUInt32LE(o);
    o += 4;
    bodies = new Array<string>(lens.length);
    for (let i = 0; i < lens.length; i++) {
      bodies[i] = p.toString('utf8', o, o + lens[i]!);
      o += lens[i]!;
    }
    if (o !== end) throw new Error('journal record: the bodies do not add up to their section');
  } else {
    bodies = m.bodies!;
  }
  const records: PlannedRecord[] = new Array<PlannedRecord>(n);
  for (let i = 0; i < n; i++) {
    const k = NUMS_PER_RECORD * i;
    const colset = nums[k + 3]!;
    const rowsLen = nums[k + 4]!;
    const at = o;
    o += 96;
    const rows = rowsLen >= 0 ? p.subarray(o, o + rowsLen) : null;
    if (rowsLen >= 0) o += rowsLen;
    records[i] = {
      sessionId: m.sessionIds[i]!, position: nums[k]!, seq: nums[k + 1]!, fmt: nums[k + 2]!, colset: Number.isNaN(colset) ? null : colset,
      prev: p.subarray(at, at + 32), sessPrev: p.subarray(at + 32, at + 64), hash: p.subarray(at + 64, at + 96), body: bodies[i]!, rows,
    };
  }
  if (o !== p.length) throw new Error('journal record: the planned records do not add up to their bytes');
  const batch: JournaledPlan = {
    stream: m.stream, sessions: m.sessions, colsets: m.colsets, columnSets: m.columnSets, sessionColsets: m.sessionColsets,
    closed: m.closed,
    checkpoint: m.checkpoint ? { ...m.checkpoint, signature: Buffer.from(m.checkpoint.signature, 'base64') } : null,
    records,
  };
  return { no: m.no, batch };
}

// ---- which writer holds which journal ----
//
// A stream's journal is `<database>-journal-<hash of the stream name>`, held by one live writer through the lock file
// next to it (`….lock`, holding the writer's process tag). A journal whose holder is gone (crashed, or closed before
// everything in it reached the tables) is an orphan: whoever opens the database next moves it into the tables.

/** Journal locks held by stores of this process, by lock file. */
const heldLocks = new Set<string>();

/**
 * A live process's identity: its pid and start time (a pid alone may be reused after a crash); null when there is no
 * such process, or only its zombie (killed, not yet reaped by its parent).
 */
function processTag(pid: number): string | null {
  try {
    const { fields } = readStat(`/proc/${pid}/stat`);
    if (fields[0] === 'Z' || fields[0] === 'X') return null;
    return `${pid} ${fields[19]}`;
  } catch {
    return null;
  }
}

/** The journal file of a stream of a database. */
export function journalPath(dbPath: string, stream: string): string {
  return `${dbPath}-journal-${createHash('sha256').update(stream).digest('hex').slice(0, 16)}`;
}

/** Takes the lock of a journal; false when another live writer (of this process or another) holds it. */
export function takeJournalLock(journal: string): boolean {
  const file = `${journal}.lock`;
  if (heldLocks.has(file)) return false;
  const me = processTag(process.pid) ?? String(process.pid);
  try {
    writeFileSync(file, me, { flag: 'wx', mode: 0o600 });
  } catch {
    let holder = '';
    try {
      holder = readFileSync(file, 'utf8').trim();
    } catch { /* removed meanwhile: take it */ }
    const pid = Number(holder.split(' ')[0]);
    if (holder !== me && pid && processTag(pid) === holder) return false;
    writeFileSync(file, me, { mode: 0o600 });
  }
  heldLocks.add(file);
  return true;
}

export function releaseJournalLock(journal: string): void {
  const file = `${journal}.lock`;
  heldLocks.delete(file);
  rmSync(file, { force: true });
}

/**
 * Moves the orphaned journals of a database into its tables and removes them: what a crashed writer acknowledged is
 * then visible to every reader, whatever its own stream. Returns the number of batches moved.
 */
export function recoverOrphanJournals(dbPath: string, busyTimeout: number, signer: ChainSigner): number {
  const prefix = `${basename(dbPath)}-journal-`;
  const names = readdirSync(dirname(dbPath)).filter((n) => n.startsWith(prefix) && /^[0-9a-f]{16}$/.test(n.slice(prefix.length)));
  let moved = 0;
  let writer: BatchWriter | null = null;
  try {
    for (const name of names) {
      const path = join(dirname(dbPath), name);
      if (!takeJournalLock(path)) continue;
      try {
        const journal = new Journal(path);
        try {
          const records = journal.recover();
          if (records.length) {
            writer ??= new BatchWriter(dbPath, { fsync: true, busyTimeout, signer });
            moved += writer.replay(records);
          }
        } finally {
          journal.close();
        }
        Journal.remove(path);
      } finally {
        releaseJournalLock(path);
      }
    }
  } finally {
    writer?.close();
  }
  return moved;
}
