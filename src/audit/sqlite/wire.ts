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
export function isPlanned(b: OpsBatch | JournaledPlan): b is JournaledPlan {
  return !('ops' in b);
}

/** A planned batch as the writer thread inserts it: planned now (`fromPlan`), or read from an old journal. */
export interface PlannedBatch {
  sessions: WireSession[];
  records: readonly PlannedRecord[];
  colsets: Iterable<readonly [number, string]>;
  columnSets: Iterable<readonly [string, string]>;
  sessionColsets: readonly (readonly [number, string])[];
  checkpoint: Plan['checkpoint'];
}

/**
 * A batch planned, hashed and signed already, as journals written before the writer thread planned the chain carry
 * it (journal.ts reads such records back as this).
 */
export interface JournaledPlan extends PlannedBatch {
  stream: number;
  closed: string[];
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
