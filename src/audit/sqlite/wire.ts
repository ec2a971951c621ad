import { endianness } from 'node:os';
import type { Plan, PlannedRecord, SessionChange } from '../chain-writer.ts';

/**
 * What the main thread sends the SQLite writer thread (writer-worker.ts), and what comes back. A batch is the plan
 * the chain writer made, flattened to what structured clone carries (Buffers arrive as Uint8Arrays).
 */

export type WireSession = Pick<SessionChange, 'id' | 'header' | 'startedAt' | 'statements' | 'denied' | 'approvals' | 'kinds' | 'endedAt' | 'endCause'> & {
  /** Opened in this batch: insert (header is the chained header body), else update by deltas. */
  isNew: boolean;
  /** The index columns of a new session, from its start (null otherwise). */
  target: string | null;
  subject: string | null;
  policy: string | null;
  instanceId: string | null;
};

/**
 * The records of a batch, packed so that structured clone copies two buffers and two string arrays rather than four
 * small Buffers per record (which cost more than committing them). Per record i, `nums` holds
 * [position, seq, fmt, colset (NaN: none), rows length (-1: none)] at 5i…5i+4, and `bytes` holds prev, sessPrev
 * and hash (32 bytes each) then the rows, one record after the other.
 */
export interface WireRecords {
  sessionIds: string[];
  bodies: string[];
  nums: Float64Array;
  bytes: Uint8Array;
}

export interface WireBatch {
  stream: number;
  sessions: WireSession[];
  records: WireRecords;
  colsets: [number, string][];
  columnSets: [string, string][];
  sessionColsets: [number, string][];
  checkpoint: Plan['checkpoint'];
  closed: string[];
}

export type ToWorker =
  /** catchUpBytes: see writer-worker.ts (`keepingUp`). */
  | { t: 'open'; path: string; fsync: boolean; busyTimeout: number; catchUpBytes: number }
  | { t: 'checkpointer'; path: string; busyTimeout: number; everyMs: number }
  | { t: 'batch'; id: number; batch: WireBatch }
  /**
   * Journaled batches (the journal's records as written, one after the other in one buffer: passing bytes costs far
   * less than cloning the batches; in shared memory, as the store passes them, they are not even copied) moved into
   * the tables in one transaction, recording the last one's number for the stream.
   */
  | { t: 'ingest'; id: number; records: Uint8Array; journal: { stream: number; batch: number } }
  | { t: 'close' };

export type FromWorker =
  | { t: 'opened' }
  | { t: 'done'; id: number }
  | { t: 'failed'; id: number; message: string; code?: string }
  | { t: 'closed' };

/** A batch with its records as the plan has them (the journal writes them out itself, without packing them first). */
export type PlannedBatch = Omit<WireBatch, 'records'> & { records: readonly PlannedRecord[] };

export function toWire(plan: Plan, stream: number): WireBatch {
  return { ...plannedBatch(plan, stream), records: packRecords(plan.records) };
}

export function plannedBatch(plan: Plan, stream: number): PlannedBatch {
  const sessions: WireSession[] = [];
  for (const c of plan.sessions.values()) {
    sessions.push({
      id: c.id, isNew: c.start !== null, header: c.header, target: c.start?.target ?? null,
      subject: c.start?.identity?.subject ?? null, startedAt: c.startedAt, policy: c.start?.policy ?? null,
      instanceId: c.start?.instanceId ?? null, statements: c.statements, denied: c.denied, approvals: c.approvals,
      kinds: c.kinds, endedAt: c.endedAt, endCause: c.endCause,
    });
  }
  return {
    stream, sessions, records: plan.records, colsets: [...plan.colsets], columnSets: [...plan.columnSets],
    sessionColsets: plan.sessionColsets.map((s) => [s.colset, s.sessionId]), checkpoint: plan.checkpoint, closed: plan.closed,
  };
}

function packRecords(records: readonly PlannedRecord[]): WireRecords {
  const nums = new Float64Array(NUMS_PER_RECORD * records.length);
  writeRecordNums(records, Buffer.from(nums.buffer), 0);
  const bytes = Buffer.allocUnsafeSlow(recordBytesLength(records));
  writeRecordBytes(records, bytes, 0);
  return { sessionIds: records.map((r) => r.sessionId), bodies: records.map((r) => r.body), nums, bytes };
}

/** Numbers per record in `WireRecords.nums`. */
export const NUMS_PER_RECORD = 5;
const NATIVE_LE = endianness() === 'LE';

/**
 * Writes the records' `WireRecords.nums` into `out` from byte `o`, in the byte order a Float64Array over the same
 * bytes reads (the platform's); returns the offset after them. packRecords and the journal (journal.ts) both write
 * them here.
 */
export function writeRecordNums(records: readonly PlannedRecord[], out: Buffer, o: number): number {
  const put = (v: number) => {
    o = NATIVE_LE ? out.writeDoubleLE(v, o) : out.writeDoubleBE(v, o);
  };
  for (const r of records) {
    put(r.position);
    put(r.seq);
    put(r.fmt);
    put(r.colset ?? NaN);
    put(r.rows ? r.rows.length : -1);
  }
  return o;
}

/** The length of the records' `WireRecords.bytes`. */
export function recordBytesLength(records: readonly PlannedRecord[]): number {
  let size = 0;
  for (const r of records) size += 96 + (r.rows ? r.rows.length : 0);
  return size;
}

/** Writes the records' `WireRecords.bytes` into `out` from byte `o`; returns the offset after them. */
export function writeRecordBytes(records: readonly PlannedRecord[], out: Buffer, o: number): number {
  for (const r of records) {
    o += r.prev.copy(out, o);
    o += r.sessPrev.copy(out, o);
    o += r.hash.copy(out, o);
    if (r.rows) o += r.rows.copy(out, o);
  }
  return o;
}

/** The buffers a batch can hand over to the writer thread instead of copying. */
export function transferables(b: WireBatch): ArrayBuffer[] {
  return [b.records.nums.buffer as ArrayBuffer, b.records.bytes.buffer as ArrayBuffer];
}
