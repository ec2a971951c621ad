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
  | { t: 'open'; path: string; fsync: boolean; busyTimeout: number }
  | { t: 'checkpointer'; path: string; busyTimeout: number; everyMs: number }
  | { t: 'batch'; id: number; batch: WireBatch }
  /**
   * Journaled batches (the journal's records as written, one after the other in one buffer: copying bytes costs far
   * less than cloning the batches) moved into the tables in one transaction, recording the last one's number for
   * the stream.
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
  const n = records.length;
  let size = 0;
  for (const r of records) size += 96 + (r.rows ? r.rows.length : 0);
  const bytes = Buffer.allocUnsafeSlow(size);
  const nums = new Float64Array(n * 5);
  const sessionIds = new Array<string>(n);
  const bodies = new Array<string>(n);
  let pos = 0;
  for (let i = 0; i < n; i++) {
    const r = records[i]!;
    sessionIds[i] = r.sessionId;
    bodies[i] = r.body;
    nums[5 * i] = r.position;
    nums[5 * i + 1] = r.seq;
    nums[5 * i + 2] = r.fmt;
    nums[5 * i + 3] = r.colset ?? NaN;
    nums[5 * i + 4] = r.rows ? r.rows.length : -1;
    r.prev.copy(bytes, pos);
    r.sessPrev.copy(bytes, pos + 32);
    r.hash.copy(bytes, pos + 64);
    pos += 96;
    if (r.rows) {
      r.rows.copy(bytes, pos);
      pos += r.rows.length;
    }
  }
  return { sessionIds, bodies, nums, bytes };
}

/** The buffers a batch can hand over to the writer thread instead of copying. */
export function transferables(b: WireBatch): ArrayBuffer[] {
  return [b.records.nums.buffer as ArrayBuffer, b.records.bytes.buffer as ArrayBuffer];
}
