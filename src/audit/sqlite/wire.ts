import type { KeyObject } from 'node:crypto';
import type { Op, Plan, PlannedRecord, SessionChange } from '../chain-writer.ts';

/**
 * What the main thread sends the SQLite writer thread (writer-worker.ts), and what comes back. The main thread hands
 * over batches of operations as it admitted them (OpsBatch, encoded as journal records: journal.ts); the writer
 * thread plans each (chain positions, hashes, checkpoints: ChainWriter) and writes the plan, flattened to a WireBatch.
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
 * The records of a planned batch, packed as journals of earlier versions carry them (so that their records and those
 * planned now are written by the same code). Per record i, `nums` holds [position, seq, fmt, colset (NaN: none),
 * rows length (-1: none)] at 5i…5i+4, and `bytes` holds prev, sessPrev and hash (32 bytes each) then the rows, one
 * record after the other.
 */
export interface WireRecords {
  sessionIds: string[];
  bodies: string[];
  nums: Float64Array;
  bytes: Uint8Array;
}

/**
 * A planned batch, as the writer thread writes it; also how journals written before the writer thread planned the
 * chain carry their batches (journal.ts reads them back as such).
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

/** The plan's batch as the writer thread writes it. */
export function toWire(plan: Plan, stream: number): WireBatch {
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
    stream, sessions, records: packRecords(plan.records), colsets: [...plan.colsets], columnSets: [...plan.columnSets],
    sessionColsets: plan.sessionColsets.map((s) => [s.colset, s.sessionId]), checkpoint: plan.checkpoint, closed: plan.closed,
  };
}

function packRecords(records: readonly PlannedRecord[]): WireRecords {
  const nums = new Float64Array(NUMS_PER_RECORD * records.length);
  let o = 0;
  for (const r of records) {
    nums[o++] = r.position;
    nums[o++] = r.seq;
    nums[o++] = r.fmt;
    nums[o++] = r.colset ?? NaN;
    nums[o++] = r.rows ? r.rows.length : -1;
  }
  let size = 0;
  for (const r of records) size += 96 + (r.rows ? r.rows.length : 0);
  const bytes = Buffer.allocUnsafe(size);
  let b = 0;
  for (const r of records) {
    b += r.prev.copy(bytes, b);
    b += r.sessPrev.copy(bytes, b);
    b += r.hash.copy(bytes, b);
    if (r.rows) b += r.rows.copy(bytes, b);
  }
  return { sessionIds: records.map((r) => r.sessionId), bodies: records.map((r) => r.body), nums, bytes };
}

/** Numbers per record in `WireRecords.nums`. */
const NUMS_PER_RECORD = 5;
