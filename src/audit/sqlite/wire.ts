import type { KeyObject } from 'node:crypto';
import type { Op, Plan, PlannedRecord, SessionChange } from '../chain-writer.ts';

/**
 * What the main thread sends the SQLite writer thread (writer-worker.ts), and what comes back. The main thread hands
 * over batches of operations as it admitted them (OpsBatch, encoded as journal records: journal.ts); the writer
 * thread plans each (chain positions, hashes, checkpoints: ChainWriter) and inserts the plan (PlannedBatch).
 */

/** A group commit's operations, admitted by the main thread (ChainLedger), in the stream they go to. */
export interface OpsBatch {
  /** streams.id and streams.name. */
  stream: number;
  name: string;
  ops: Op[];
}

/** What the writer thread needs to plan the chain: the key that signs checkpoints, and how often. */
export interface ChainSigner {
  key: KeyObject;
  keyId: string;
  checkpointEvery: number;
}

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
 * The records of a planned batch, packed as journals of earlier versions carry them (`fromWire` unpacks them). Per
 * record i, `nums` holds [position, seq, fmt, colset (NaN: none), rows length (-1: none)] at 5i…5i+4, and `bytes`
 * holds prev, sessPrev and hash (32 bytes each) then the rows, one record after the other.
 */
export interface WireRecords {
  sessionIds: string[];
  bodies: string[];
  nums: Float64Array;
  bytes: Uint8Array;
}

/**
 * A planned batch as journals written before the writer thread planned the chain carry it (journal.ts reads them back
 * as such).
 */
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
  | { t: 'open'; path: string; fsync: boolean; busyTimeout: number; catchUpBytes: number; signer: ChainSigner }
  | { t: 'checkpointer'; path: string; busyTimeout: number; everyMs: number }
  /** One batch (a journal record not written to any journal) committed in a transaction of its own (`fsync: true`). */
  | { t: 'batch'; id: number; records: Uint8Array }
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

/** A batch planned already (journaled by an earlier version), not operations to plan. */
export function isPlanned(b: OpsBatch | WireBatch): b is WireBatch {
  return !('ops' in b);
}

/** A planned batch as the writer thread inserts it: planned now (`fromPlan`), or read from an old journal (`fromWire`). */
export interface PlannedBatch {
  sessions: WireSession[];
  records: readonly PlannedRecord[];
  colsets: Iterable<readonly [number, string]>;
  columnSets: Iterable<readonly [string, string]>;
  sessionColsets: readonly (readonly [number, string])[];
  checkpoint: Plan['checkpoint'];
}

/** The plan's batch as the writer thread inserts it; the records are the plan's own, not copied. */
export function fromPlan(plan: Plan): PlannedBatch {
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
    sessions, records: plan.records, colsets: plan.colsets, columnSets: plan.columnSets,
    sessionColsets: plan.sessionColsets.map((s) => [s.colset, s.sessionId] as const), checkpoint: plan.checkpoint,
  };
}

/** A batch an earlier version planned and journaled, with its packed records (WireRecords) unpacked. */
export function fromWire(w: WireBatch): PlannedBatch {
  const { sessionIds, bodies, nums, bytes } = w.records;
  const at = (from: number, len: number) => Buffer.from(bytes.buffer, bytes.byteOffset + from, len);
  const records: PlannedRecord[] = [];
  let pos = 0;
  for (let i = 0; i < sessionIds.length; i++) {
    const n = NUMS_PER_RECORD * i;
    const colset = nums[n + 3]!;
    const rowsLen = nums[n + 4]!;
    const prev = at(pos, 32);
    const sessPrev = at(pos + 32, 32);
    const hash = at(pos + 64, 32);
    pos += 96;
    const rows = rowsLen >= 0 ? at(pos, rowsLen) : null;
    if (rowsLen >= 0) pos += rowsLen;
    records.push({
      sessionId: sessionIds[i]!, position: nums[n]!, seq: nums[n + 1]!, fmt: nums[n + 2]!, colset: Number.isNaN(colset) ? null : colset,
      prev, sessPrev, hash, body: bodies[i]!, rows,
    });
  }
  if (pos !== bytes.length) throw new Error('journal record: the planned records do not add up to their bytes');
  return { sessions: w.sessions, records, colsets: w.colsets, columnSets: w.columnSets, sessionColsets: w.sessionColsets, checkpoint: w.checkpoint };
}

/** Numbers per record in `WireRecords.nums`. */
const NUMS_PER_RECORD = 5;
