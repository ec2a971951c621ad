import type { KeyObject } from 'node:crypto';
import {
  encodePayload, recordHash, sha256Hex, signPayload, ZERO_HASH,
  type CheckpointPayload, type CheckpointSession,
} from './chain.ts';
import { normTime, sessionHeaderBody, type EncodedEvent } from './record.ts';
import type { SessionStart } from './types.ts';

/**
 * Turns a batch of operations into the rows one transaction writes: chain positions and hashes, session counter
 * changes, new column sets, and a signed checkpoint when one is due. Store independent and synchronous; the state
 * it plans against only changes when the store reports the batch committed (`commit`), so a failed transaction
 * leaves the chain exactly where the database has it.
 */

export type Op =
  | { kind: 'open'; start: SessionStart }
  | { kind: 'event'; event: EncodedEvent }
  | { kind: 'close'; id: string; endedAt: string; cause: string }
  | { kind: 'checkpoint' };

export interface SessionHead {
  seq: number;
  hash: Buffer;
  /** Column sets already recorded for this session (session_colsets). */
  colsets: Set<number>;
}

export interface StreamHead {
  position: number;
  hash: Buffer;
  /** Last checkpoint: its number, position and sha256Hex of its payload. */
  checkpointN: number;
  checkpointPosition: number;
  checkpointDigest: string;
}

export interface PlannedRecord {
  sessionId: string;
  seq: number;
  position: number;
  prev: Buffer;
  sessPrev: Buffer;
  hash: Buffer;
  body: string;
  rows: Buffer | null;
  fmt: number;
  colset: number | null;
}

export interface SessionChange {
  id: string;
  /** Set when the session is opened in this batch (insert, with the counters below as initial values). */
  start: SessionStart | null;
  header: string | null;
  startedAt: string | null;
  statements: number;
  denied: number;
  approvals: number;
  kinds: number;
  endedAt: string | null;
  endCause: string | null;
}

export interface PlannedCheckpoint {
  n: number;
  position: number;
  payload: string;
  signature: Buffer;
  keyId: string;
  sessions: string[];
}

export interface Plan {
  records: PlannedRecord[];
  /** In first-touched order. */
  sessions: Map<string, SessionChange>;
  colsets: Map<number, string>;
  /** Column definitions not stored yet: digest → canonical JSON. */
  columnSets: Map<string, string>;
  sessionColsets: { colset: number; sessionId: string }[];
  checkpoint: PlannedCheckpoint | null;
  outcome: (Error | null)[];
  // What the state becomes if the batch commits.
  heads: Map<string, SessionHead>;
  closed: string[];
  stream: StreamHead;
  /** Session heads this batch changes (or, with a checkpoint, those changed after it: none). */
  touched: Map<string, Touched>;
  /** The batch has a checkpoint: the sessions touched before it are sealed. */
  sealed: boolean;
  sinceCheckpoint: number;
}

/** A session head changed since the last checkpoint; its hash turns into hex only when a checkpoint lists it. */
interface Touched {
  seq: number;
  hash: Buffer;
  endedAt: string | null;
  endCause: string | null;
}

export interface ChainWriterOptions {
  stream: string;
  key: KeyObject;
  keyId: string;
  checkpointEvery: number;
  now?: () => Date;
}

/** Refused before anything is written: only that operation fails, never its batch. */
export class OpRefused extends Error {
  constructor(message: string) {
    super(message);
    this.name = 'OpRefused';
  }
}

export class ChainWriter {
  readonly stream: string;
  readonly #key: KeyObject;
  readonly keyId: string;
  readonly #every: number;
  readonly #now: () => Date;
  head: StreamHead = { position: 0, hash: ZERO_HASH, checkpointN: 0, checkpointPosition: 0, checkpointDigest: '' };
  readonly sessions = new Map<string, SessionHead>();
  readonly knownColsets = new Set<number>();
  readonly knownColumnSets = new Set<string>();
  /** Session heads changed since the last checkpoint. */
  #touched = new Map<string, Touched>();
  #sinceCheckpoint = 0;
  /** When the last checkpoint was signed, or this writer started: the next one by time is due checkpointInterval later. */
  lastCheckpointAt = Date.now();

  constructor(o: ChainWriterOptions) {
    this.stream = o.stream;
    this.#key = o.key;
    this.keyId = o.keyId;
    this.#every = o.checkpointEvery;
    this.#now = o.now ?? (() => new Date());
  }

  /** Something was written since the last checkpoint. */
  get dirty(): boolean {
    return this.#sinceCheckpoint > 0 || this.#touched.size > 0;
  }

  /** Sessions the batch refers to that this writer does not hold: the store looks them up first (`adopt`). */
  unknownSessions(ops: readonly Op[]): string[] {
    const out = new Set<string>();
    const opened = new Set<string>();
    for (const op of ops) {
      if (op.kind === 'open') opened.add(op.start.id);
      else if (op.kind === 'event' || op.kind === 'close') {
        const id = op.kind === 'event' ? op.event.sessionId : op.id;
        if (!this.sessions.has(id) && !opened.has(id)) out.add(id);
      }
    }
    return [...out];
  }

  /**
   * A batch failed, and whether it was committed is unknown (the connection may have dropped after COMMIT): the
   * heads it touched are forgotten, so the store re-reads them (and the stream's) from the database before the next
   * plan, and the chain continues from what was actually stored.
   */
  forget(ops: readonly Op[]): void {
    this.stale = true;
    for (const op of ops) {
      if (op.kind === 'open') this.sessions.delete(op.start.id);
      else if (op.kind === 'event') this.sessions.delete(op.event.sessionId);
      else if (op.kind === 'close') this.sessions.delete(op.id);
    }
  }

  /** Set by forget(): the stream head must be re-read before planning. */
  stale = false;

  /** A session found in the database (opened by an earlier process, or by another writer). */
  adopt(id: string, head: SessionHead): void {
    this.sessions.set(id, head);
  }

  /** `existing`: ids the database already has, whose `open` is refused. */
  plan(ops: readonly Op[], o: { existing?: ReadonlySet<string> } = {}): Plan {
    const heads = new Map<string, SessionHead>();
    const getHead = (id: string): SessionHead | undefined => heads.get(id) ?? this.sessions.get(id);
    const stream: StreamHead = { ...this.head };
    // What this batch changes, apart from the writer's own map (copying that per batch would cost as much as the
    // sessions written since the last checkpoint).
    const touched = new Map<string, Touched>();
    let since = this.#sinceCheckpoint;
    const p: Plan = {
      records: [], sessions: new Map(), colsets: new Map(), columnSets: new Map(), sessionColsets: [], checkpoint: null, outcome: [],
      heads, closed: [], stream, touched, sealed: false, sinceCheckpoint: 0,
    };
    const change = (id: string): SessionChange => {
      let c = p.sessions.get(id);
      if (!c) {
        c = { id, start: null, header: null, startedAt: null, statements: 0, denied: 0, approvals: 0, kinds: 0, endedAt: null, endCause: null };
        p.sessions.set(id, c);
      }
      return c;
    };
    const closedNow = new Set<string>();
    let wantCheckpoint = false;

    const append = (sessionId: string, seq: number, sessPrev: Buffer, body: string, rows: Buffer | null, fmt: number, colset: number | null) => {
      const position = stream.position + 1;
      const link = { stream: this.stream, position, prev: stream.hash, sessionId, seq, sessPrev };
      const hash = recordHash(link, body, rows);
      p.records.push({ sessionId, seq, position, prev: stream.hash, sessPrev, hash, body, rows, fmt, colset });
      stream.position = position;
      stream.hash = hash;
      since++;
      touched.set(sessionId, { seq, hash, endedAt: null, endCause: null });
      return hash;
    };

    for (const op of ops) {
      try {
        switch (op.kind) {
          case 'open': {
            const s = op.start;
            if (getHead(s.id) || closedNow.has(s.id) || o.existing?.has(s.id)) throw new OpRefused(`session ${s.id} is already open`);
            const header = sessionHeaderBody(s);
            const c = change(s.id);
            c.start = s;
            c.header = header;
            c.startedAt = normTime(s.startedAt);
            const hash = append(s.id, 0, ZERO_HASH, header, null, 0, null);
            heads.set(s.id, { seq: 0, hash, colsets: new Set() });
            break;
          }
          case 'event': {
            const e = op.event;
            const h = getHead(e.sessionId);
            if (!h || closedNow.has(e.sessionId)) throw new OpRefused(`session ${e.sessionId} is not open`);
            if (e.seq <= h.seq) throw new OpRefused(`session ${e.sessionId}: seq ${e.seq} does not follow ${h.seq}`);
            const hash = append(e.sessionId, e.seq, h.hash, e.body, e.rows, e.fmt, e.colset);
            for (const c of e.columnSets) if (!this.knownColumnSets.has(c.digest)) p.columnSets.set(c.digest, c.text);
            const next: SessionHead = { seq: e.seq, hash, colsets: h.colsets };
            if (e.colset !== null) {
              if (!this.knownColsets.has(e.colset)) p.colsets.set(e.colset, e.colsetKey!);
              if (!h.colsets.has(e.colset)) {
                next.colsets = new Set(h.colsets).add(e.colset);
                p.sessionColsets.push({ colset: e.colset, sessionId: e.sessionId });
              }
            }
            heads.set(e.sessionId, next);
            const c = change(e.sessionId);
            c.statements += e.statements;
            c.denied += e.denied;
            c.approvals += e.approvals;
            c.kinds |= e.kinds;
            break;
          }
          case 'close': {
            const h = getHead(op.id);
            if (!h || closedNow.has(op.id)) throw new OpRefused(`session ${op.id} is not open`);
            const endedAt = normTime(op.endedAt);
            const c = change(op.id);
            c.endedAt = endedAt;
            c.endCause = op.cause;
            touched.set(op.id, { seq: h.seq, hash: h.hash, endedAt, endCause: op.cause });
            closedNow.add(op.id);
            p.closed.push(op.id);
            // A closed session is sealed by the checkpoint of its batch, so its export proves it is complete.
            wantCheckpoint = true;
            break;
          }
          case 'checkpoint':
            wantCheckpoint = true;
            break;
        }
        p.outcome.push(null);
      } catch (err) {
        p.outcome.push(err instanceof Error ? err : new Error(String(err)));
      }
    }

    if ((wantCheckpoint || since >= this.#every) && (since > 0 || touched.size > 0 || this.#touched.size > 0)) {
      const at = this.#now().toISOString();
      const all = new Map(this.#touched);
      for (const [id, t] of touched) all.set(id, t);
      const sessions: CheckpointSession[] = [];
      for (const [id, t] of all) sessions.push([id, t.seq, t.hash.toString('hex'), t.endedAt, t.endCause]);
      sessions.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
      const payload: CheckpointPayload = {
        type: 'checkpoint', v: 1, stream: this.stream, n: stream.checkpointN + 1, position: stream.position,
        hash: stream.hash.toString('hex'), prev: stream.checkpointDigest, at, key: this.keyId, sessions,
      };
      const text = encodePayload(payload);
      p.checkpoint = {
        n: payload.n, position: payload.position, payload: text, signature: signPayload(text, this.#key),
        keyId: this.keyId, sessions: sessions.map((s) => s[0]),
      };
      stream.checkpointN = payload.n;
      stream.checkpointPosition = payload.position;
      stream.checkpointDigest = sha256Hex(text);
      touched.clear();
      p.sealed = true;
      since = 0;
    }
    p.sinceCheckpoint = since;
    return p;
  }

  /** The batch is durable: its plan becomes the state. */
  commit(p: Plan): void {
    this.head = p.stream;
    for (const [id, h] of p.heads) this.sessions.set(id, h);
    for (const id of p.closed) this.sessions.delete(id);
    for (const id of p.colsets.keys()) this.knownColsets.add(id);
    if (this.knownColsets.size > 100_000) this.knownColsets.clear();
    for (const d of p.columnSets.keys()) this.knownColumnSets.add(d);
    if (this.knownColumnSets.size > 100_000) this.knownColumnSets.clear();
    if (p.sealed) this.#touched = new Map();
    for (const [id, t] of p.touched) this.#touched.set(id, t);
    this.#sinceCheckpoint = p.sinceCheckpoint;
    if (p.checkpoint) this.lastCheckpointAt = Date.now();
  }
}
