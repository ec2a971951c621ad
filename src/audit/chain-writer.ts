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
    return unknownSessions(ops, this.sessions);
  }

  /**
   * A batch failed, and whether it was committed is unknown (the connection may have dropped after COMMIT): the
   * heads it touched are forgotten, so the store re-reads them (and the stream's) from the database before the next
   * plan, and the chain continues from what was actually stored.
   */
  forget(ops: readonly Op[]): void {
    this.stale = true;
    forgetSessions(ops, this.sessions);
  }

  /** Set by forget(): the stream head must be re-read before planning. */
  stale = false;

  /** A session found in the database (opened by an earlier process, or by another writer). */
  adopt(id: string, head: SessionHead): void {
    this.sessions.set(id, head);
  }

  /**
   * Starting from the stream's `head` in the database: `since` records, with the session heads `touched`, were
   * written after its last checkpoint (by an earlier writer): the next checkpoint signs them too.
   */
  resume(since: number, touched: Iterable<[id: string, seq: number, hash: Buffer]>): void {
    this.#sinceCheckpoint = since;
    for (const [id, seq, hash] of touched) this.#touched.set(id, { seq, hash, endedAt: null, endCause: null });
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
            const refused = refusal(op, getHead(s.id)?.seq, closedNow, o.existing);
            if (refused) throw refused;
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
            const refused = refusal(op, h?.seq, closedNow);
            if (refused) throw refused;
            const hash = append(e.sessionId, e.seq, h!.hash, e.body, e.rows, e.fmt, e.colset);
            for (const c of e.columnSets) if (!this.knownColumnSets.has(c.digest)) p.columnSets.set(c.digest, c.text);
            const next: SessionHead = { seq: e.seq, hash, colsets: h!.colsets };
            if (e.colset !== null) {
              // A key left out (null) is one the store has already handed over for writing (ChainLedger).
              if (e.colsetKey !== null && !this.knownColsets.has(e.colset)) p.colsets.set(e.colset, e.colsetKey);
              if (!h!.colsets.has(e.colset)) {
                next.colsets = new Set(h!.colsets).add(e.colset);
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
            const refused = refusal(op, h?.seq, closedNow);
            if (refused) throw refused;
            const endedAt = normTime(op.endedAt);
            const c = change(op.id);
            c.endedAt = endedAt;
            c.endCause = op.cause;
            touched.set(op.id, { seq: h!.seq, hash: h!.hash, endedAt, endCause: op.cause });
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

/**
 * Why `op` cannot be planned, or null. `seq`: the last seq of the session it names (undefined: not open); `closedNow`:
 * sessions closed earlier in the same batch; `existing`: ids the database already has (an `open` of one is refused).
 * ChainWriter.plan and ChainLedger.admit refuse by these same rules.
 */
export function refusal(op: Op, seq: number | undefined, closedNow: ReadonlySet<string>, existing?: ReadonlySet<string>): OpRefused | null {
  switch (op.kind) {
    case 'open':
      return seq !== undefined || closedNow.has(op.start.id) || existing?.has(op.start.id) ? new OpRefused(`session ${op.start.id} is already open`) : null;
    case 'event': {
      const id = op.event.sessionId;
      if (seq === undefined || closedNow.has(id)) return new OpRefused(`session ${id} is not open`);
      return op.event.seq <= seq ? new OpRefused(`session ${id}: seq ${op.event.seq} does not follow ${seq}`) : null;
    }
    case 'close':
      return seq === undefined || closedNow.has(op.id) ? new OpRefused(`session ${op.id} is not open`) : null;
    case 'checkpoint':
      return null;
  }
}

/** The session an operation names (null: a checkpoint). */
function sessionOf(op: Op): string | null {
  switch (op.kind) {
    case 'open':
      return op.start.id;
    case 'event':
      return op.event.sessionId;
    case 'close':
      return op.id;
    case 'checkpoint':
      return null;
  }
}

/** Sessions the batch refers to that `held` does not hold and the batch does not open. */
function unknownSessions(ops: readonly Op[], held: ReadonlyMap<string, unknown>): string[] {
  const out = new Set<string>();
  const opened = new Set<string>();
  for (const op of ops) {
    const id = sessionOf(op);
    if (id === null) continue;
    if (op.kind === 'open') opened.add(id);
    else if (!held.has(id) && !opened.has(id)) out.add(id);
  }
  return [...out];
}

function forgetSessions(ops: readonly Op[], held: Map<string, unknown>): void {
  for (const op of ops) {
    const id = sessionOf(op);
    if (id !== null) held.delete(id);
  }
}

/** What ChainLedger.admit lets through, and what the ledger becomes once it is stored (`commit`). */
export interface Admitted {
  /** One per operation: null (admitted) or why it was refused. */
  outcome: (Error | null)[];
  /** The operations admitted, in order, column sets and colset keys already handed over left out. */
  ops: Op[];
  /** Each session's last seq after the batch (null: closed in it). */
  seqs: Map<string, number | null>;
  /** Column sets and colsets the batch hands over. */
  columnSets: string[];
  colsets: number[];
  /** The batch brings a checkpoint: it closes a session, asks for one, or reaches checkpointEvery records. */
  checkpoint: boolean;
  records: number;
}

/**
 * The main thread's side of a chain planned elsewhere (the SQLite store's writer thread plans and hashes, with a
 * ChainWriter of its own): which sessions are open and their last seq, so that an operation ChainWriter.plan would
 * refuse is refused before it is journaled, and so that an operation admitted is one the writer thread will plan.
 * Also what the main thread needs to know of checkpoints: whether anything was written since the last one, and when
 * that was, as ChainWriter would have it (a checkpoint asked for with nothing to sign is planned as nothing).
 */
export class ChainLedger {
  readonly #every: number;
  readonly #seqs = new Map<string, number>();
  /** Column sets and colsets already handed over: their texts are not sent again. */
  readonly #columnSets = new Set<string>();
  readonly #colsets = new Set<number>();
  #sinceCheckpoint = 0;
  #touched = false;
  lastCheckpointAt = Date.now();

  constructor(o: { checkpointEvery: number }) {
    this.#every = o.checkpointEvery;
  }

  get dirty(): boolean {
    return this.#sinceCheckpoint > 0 || this.#touched;
  }

  has(id: string): boolean {
    return this.#seqs.has(id);
  }

  unknownSessions(ops: readonly Op[]): string[] {
    return unknownSessions(ops, this.#seqs);
  }

  /** A session found in the database. */
  adopt(id: string, seq: number): void {
    this.#seqs.set(id, seq);
  }

  /** A batch failed, maybe after it was stored: its sessions are looked up again before they are next used. */
  forget(ops: readonly Op[]): void {
    forgetSessions(ops, this.#seqs);
  }

  admit(ops: readonly Op[], o: { existing?: ReadonlySet<string> } = {}): Admitted {
    const a: Admitted = { outcome: [], ops: [], seqs: new Map(), columnSets: [], colsets: [], checkpoint: false, records: 0 };
    const closedNow = new Set<string>();
    const seqOf = (id: string): number | undefined => {
      const s = a.seqs.get(id);
      return s === undefined ? this.#seqs.get(id) : (s ?? undefined);
    };
    for (const op of ops) {
      const id = sessionOf(op);
      const refused = refusal(op, id === null ? undefined : seqOf(id), closedNow, o.existing);
      a.outcome.push(refused);
      if (refused) continue;
      switch (op.kind) {
        case 'open':
          a.seqs.set(op.start.id, 0);
          a.records++;
          a.ops.push(op);
          break;
        case 'event': {
          const e = op.event;
          a.seqs.set(e.sessionId, e.seq);
          a.records++;
          let handed = e;
          const fresh = e.columnSets.filter((c) => !this.#columnSets.has(c.digest) && !a.columnSets.includes(c.digest));
          for (const c of fresh) a.columnSets.push(c.digest);
          if (fresh.length !== e.columnSets.length) handed = { ...handed, columnSets: fresh };
          if (e.colset !== null && e.colsetKey !== null) {
            if (this.#colsets.has(e.colset) || a.colsets.includes(e.colset)) handed = { ...handed, colsetKey: null };
            else a.colsets.push(e.colset);
          }
          a.ops.push(handed === e ? op : { kind: 'event', event: handed });
          break;
        }
        case 'close':
          a.seqs.set(op.id, null);
          closedNow.add(op.id);
          a.checkpoint = true;
          a.ops.push(op);
          break;
        case 'checkpoint':
          a.checkpoint = true;
          a.ops.push(op);
          break;
      }
    }
    if (this.#sinceCheckpoint + a.records >= this.#every) a.checkpoint = true;
    return a;
  }

  /** The admitted batch is stored (journaled, or committed). */
  commit(a: Admitted): void {
    for (const [id, seq] of a.seqs) {
      if (seq === null) this.#seqs.delete(id);
      else this.#seqs.set(id, seq);
    }
    for (const d of a.columnSets) this.#columnSets.add(d);
    if (this.#columnSets.size > 100_000) this.#columnSets.clear();
    for (const c of a.colsets) this.#colsets.add(c);
    if (this.#colsets.size > 100_000) this.#colsets.clear();
    if (a.checkpoint) {
      // As ChainWriter: a checkpoint is signed only when something was written since the last one (or is now).
      if (this.dirty || a.seqs.size > 0) this.lastCheckpointAt = Date.now();
      this.#sinceCheckpoint = 0;
      this.#touched = false;
    } else {
      this.#sinceCheckpoint += a.records;
      if (a.seqs.size > 0) this.#touched = true;
    }
  }
}
