import type { KeyObject } from 'node:crypto';
import {
  keyId, publicKeyFromPem, recordHash, sha256Hex, verifyPayload, ZERO_HASH,
  type CheckpointPayload, type PrunePayload,
} from './chain.ts';
import { columnSetRefs, normTime } from './record.ts';
import type { VerifyOptions, VerifyResult } from './types.ts';

/**
 * Full verification, shared by both stores: they only provide the rows (VerifySource). It streams each writer's
 * chain in position order, a chunk at a time, so memory stays bounded whatever the number of events; the only
 * per-session state is an LRU of session heads, and a session that fell out of it is looked up in the database.
 *
 * Checked, in order of position in each stream:
 * - positions are 1, 2, 3… without gaps or repeats, and each record's `prev` is the previous record's hash;
 * - each record's hash is recomputed from its stored body and rows (stubs left by retention keep only their hash,
 *   and must belong to a session a valid signed prune record names);
 * - each record's `sessPrev` is the hash of the previous record of its session (seq 0, the header, starts from
 *   zeros) and seqs increase; the session's index row agrees with its header;
 * - checkpoints: numbered 1, 2, 3…, each linked to the one before, signed by a trusted key, and the record at the
 *   checkpoint's position has the hash the checkpoint signed; no checkpoint lies beyond the end of its stream
 *   (which is how removing the newest records is detected, up to the last checkpoint);
 * - finally, no session index row has lost its records.
 */

export type SessionKey = number | string;

export interface VerifyRecord {
  position: number;
  sessionKey: SessionKey;
  /** Null when the session's index row (which holds the id, SQLite) is gone. */
  sessionId: string | null;
  seq: number;
  prev: Buffer;
  sessPrev: Buffer;
  hash: Buffer;
  body: string | null;
  rows: Buffer | null;
}

export interface VerifySessionRow {
  id: string;
  start: string | null;
  target: string | null;
  subject: string | null;
  startedAt: string;
  pruned: number | null;
}

export interface VerifyCheckpoint {
  n: number;
  position: number;
  payload: string;
  signature: Buffer;
  keyId: string;
}

export interface SignedRecord {
  payload: string;
  signature: Buffer;
  keyId: string;
}

export interface VerifySource {
  /**
   * Every stream, with its last position and last checkpoint number when verification starts, read in one snapshot:
   * records and checkpoints added later are not looked at (a store in use keeps writing while it is verified).
   */
  streams(): Promise<{ key: number; name: string; head: number; checkpoints: number }[]>;
  records(stream: number, afterPosition: number, upTo: number, limit: number): Promise<VerifyRecord[]>;
  checkpoints(stream: number, afterN: number, limit: number): Promise<VerifyCheckpoint[]>;
  /** The record of the session with the greatest seq below `seq`. */
  previousInSession(session: SessionKey, seq: number): Promise<{ seq: number; hash: Buffer } | null>;
  sessionRows(keys: SessionKey[]): Promise<Map<SessionKey, VerifySessionRow>>;
  pruneRecord(id: number): Promise<SignedRecord | null>;
  /** Session ids whose index row exists but whose header record does not. */
  sessionsWithoutHeader(limit: number): Promise<string[]>;
  recordHash(sessionId: string, seq: number): Promise<Buffer | null>;
  keys(): Promise<{ id: string; pem: string }[]>;
  /** The canonical JSON of a column set, by digest. */
  columnSet(digest: string): Promise<string | null>;
}


class Bad extends Error {
  readonly sessionId: string;
  readonly seq: number;
  constructor(sessionId: string, seq: number, problem: string) {
    super(problem);
    this.sessionId = sessionId;
    this.seq = seq;
  }
}

interface SessionState {
  seq: number;
  hash: Buffer;
  pruned: boolean;
}

const LRU_MAX = 200_000;

export async function verifyStore(src: VerifySource, localKey: { id: string; key: KeyObject } | null, o: VerifyOptions & { chunk?: number } = {}): Promise<VerifyResult> {
  const v = new Verifier(src, o.chunk ?? 5000);
  await v.loadKeys(localKey, o.trustedKeys);
  try {
    await v.run();
    return { ok: true, events: v.events, firstBad: null, checkpoints: v.checkpoints, records: v.records, stubs: v.stubs, streams: v.streamCount, unanchored: v.unanchored };
  } catch (err) {
    if (!(err instanceof Bad)) throw err;
    return {
      ok: false, events: v.events, firstBad: { sessionId: err.sessionId, seq: err.seq }, problem: err.message,
      checkpoints: v.checkpoints, records: v.records, stubs: v.stubs, streams: v.streamCount,
    };
  }
}

class Verifier {
  readonly #src: VerifySource;
  readonly #chunk: number;
  readonly #keys = new Map<string, KeyObject>();
  readonly #lru = new Map<SessionKey, SessionState>();
  readonly #prunes = new Map<number, Set<string>>();
  /** Column sets already found to match their digest. */
  readonly #goodSets = new Set<string>();
  events = 0;
  records = 0;
  stubs = 0;
  checkpoints = 0;
  streamCount = 0;
  unanchored = 0;

  constructor(src: VerifySource, chunk: number) {
    this.#src = src;
    this.#chunk = chunk;
  }

  async loadKeys(local: { id: string; key: KeyObject } | null, trusted?: string[]): Promise<void> {
    const stored = await this.#src.keys();
    if (trusted) {
      for (const t of trusted) {
        if (t.includes('BEGIN')) {
          const k = publicKeyFromPem(t);
          this.#keys.set(keyId(k), k);
        } else {
          const s = stored.find((x) => x.id === t);
          if (s) this.#keys.set(s.id, publicKeyFromPem(s.pem));
          else if (local && local.id === t) this.#keys.set(t, local.key);
        }
      }
      return;
    }
    for (const s of stored) this.#keys.set(s.id, publicKeyFromPem(s.pem));
    if (local) this.#keys.set(local.id, local.key);
  }

  async run(): Promise<void> {
    const streams = await this.#src.streams();
    this.streamCount = streams.length;
    for (const s of streams) await this.#stream(s.key, s.name, s.head, s.checkpoints);
    const orphans = await this.#src.sessionsWithoutHeader(1);
    if (orphans.length) throw new Bad(orphans[0]!, 0, `session ${orphans[0]} is listed but its records are gone (deleted)`);
  }

  #sessionLabel(r: VerifyRecord): string {
    return r.sessionId ?? `#${r.sessionKey}`;
  }

  async #stream(stream: number, name: string, head: number, lastN: number): Promise<void> {
    let expected = 1;
    let prev = ZERO_HASH;
    let last: VerifyRecord | null = null;
    // Checkpoints are read alongside the records, a page at a time.
    let cps: VerifyCheckpoint[] = [];
    let cpIdx = 0;
    let cpN = 0;
    let cpDigest = '';
    let cpDone = false;
    let lastCheckpoint: CheckpointPayload | null = null;
    const nextCheckpoint = async (): Promise<VerifyCheckpoint | null> => {
      if (cpIdx >= cps.length) {
        if (cpDone) return null;
        cps = (await this.#src.checkpoints(stream, cpN, 1000)).filter((c) => c.n <= lastN);
        cpIdx = 0;
        if (!cps.length) {
          cpDone = true;
          return null;
        }
      }
      return cps[cpIdx]!;
    };
    const takeCheckpoint = (c: VerifyCheckpoint, at: VerifyRecord | null): CheckpointPayload => {
      cpIdx++;
      const where = at ? { id: this.#sessionLabel(at), seq: at.seq } : { id: '', seq: 0 };
      const bad = (m: string) => new Bad(where.id, where.seq, `checkpoint ${c.n} of stream ${name}: ${m}`);
      if (c.n !== cpN + 1) throw bad(`expected checkpoint ${cpN + 1} (one was removed)`);
      const key = this.#keys.get(c.keyId);
      if (!key) throw bad(`signed by key ${c.keyId}, which is not trusted`);
      if (!verifyPayload(c.payload, c.signature, key)) throw bad('the signature does not match (edited or forged)');
      const p = JSON.parse(c.payload) as CheckpointPayload;
      if (p.type !== 'checkpoint' || p.stream !== name || p.n !== c.n || p.position !== c.position || p.key !== c.keyId) {
        throw bad('its columns disagree with its signed payload');
      }
      if (p.prev !== cpDigest) throw bad('not linked to the previous checkpoint (one was removed or replaced)');
      cpN = c.n;
      cpDigest = sha256Hex(c.payload);
      this.checkpoints++;
      return p;
    };

    // Checkpoints taken before the stream's first record (impossible in practice) or at position 0.
    for (let c = await nextCheckpoint(); c && c.position < 1; c = await nextCheckpoint()) lastCheckpoint = takeCheckpoint(c, null);

    let after = 0;
    for (;;) {
      const rows = await this.#src.records(stream, after, head, this.#chunk);
      if (!rows.length) break;
      after = rows[rows.length - 1]!.position;
      const headerKeys: SessionKey[] = [];
      for (const r of rows) if (r.seq === 0 || (r.body === null && !this.#lru.has(r.sessionKey))) headerKeys.push(r.sessionKey);
      const sessionRows = headerKeys.length ? await this.#src.sessionRows(headerKeys) : new Map<SessionKey, VerifySessionRow>();

      for (const r of rows) {
        const label = this.#sessionLabel(r);
        const fail = (m: string) => new Bad(label, r.seq, m);
        if (r.position !== expected) {
          throw fail(r.position > expected
            ? r.position - 1 > expected
              ? `records ${expected}–${r.position - 1} of stream ${name} are missing (deleted)`
              : `record ${expected} of stream ${name} is missing (deleted)`
            : `position ${r.position} of stream ${name} appears out of order`);
        }
        if (!r.prev.equals(prev)) throw fail(`not linked to the record before it in stream ${name} (a record was removed, inserted or reordered)`);
        if (r.sessionId === null) throw fail(`its session's index row (#${r.sessionKey}) is gone (deleted)`);
        const link = { stream: name, position: r.position, prev: r.prev, sessionId: r.sessionId, seq: r.seq, sessPrev: r.sessPrev };
        if (r.body !== null) {
          if (!recordHash(link, r.body, r.rows).equals(r.hash)) throw fail('its content does not match its hash (edited)');
          for (const d of columnSetRefs(r.body)) {
            if (this.#goodSets.has(d)) continue;
            const text = await this.#src.columnSet(d);
            if (text === null) throw fail(`its column definitions (set ${d.slice(0, 12)}…) are gone (deleted)`);
            if (sha256Hex(text) !== d) throw fail(`its column definitions (set ${d.slice(0, 12)}…) do not match their digest (edited)`);
            if (this.#goodSets.size >= 100_000) this.#goodSets.clear();
            this.#goodSets.add(d);
          }
        } else this.stubs++;

        // The session chain.
        let st = this.#lru.get(r.sessionKey);
        if (r.seq === 0) {
          if (!r.sessPrev.equals(ZERO_HASH)) throw fail('a session header must start its session chain');
          const row = sessionRows.get(r.sessionKey);
          let pruned = false;
          if (r.body !== null) {
            if (!row) throw fail('the session index row is gone (deleted)');
            if (row.pruned !== null) throw fail('the session is marked pruned but its records still have content');
            this.#checkSessionRow(row, r.body, fail);
          } else {
            await this.#checkPruned(r.sessionId, row, fail);
            pruned = true;
          }
          st = { seq: 0, hash: r.hash, pruned };
        } else {
          if (!st || st.seq >= r.seq || !st.hash.equals(r.sessPrev)) {
            const p = await this.#src.previousInSession(r.sessionKey, r.seq);
            if (!p) throw fail('no session header before it (its session start was removed)');
            if (!p.hash.equals(r.sessPrev)) throw fail(`not linked to the record before it in its session (seq ${p.seq}): a record was removed, inserted or reordered`);
            if (!st) {
              const row = (await this.#src.sessionRows([r.sessionKey])).get(r.sessionKey);
              st = { seq: p.seq, hash: p.hash, pruned: !!row && row.pruned !== null };
              if (st.pruned) await this.#checkPruned(r.sessionId, row, fail);
            }
          }
          if (r.body === null && !st.pruned) {
            // Pruned while being verified (an earlier page saw it whole)? Then its marker says so now.
            const row = (await this.#src.sessionRows([r.sessionKey])).get(r.sessionKey);
            await this.#checkPruned(r.sessionId, row, fail);
            st = { ...st, pruned: true };
          }
          if (r.body !== null && st.pruned) throw fail('its session was pruned but this record kept its content');
          st = { seq: r.seq, hash: r.hash, pruned: st.pruned };
          this.events++;
        }
        this.#lru.delete(r.sessionKey);
        this.#lru.set(r.sessionKey, st);
        if (this.#lru.size > LRU_MAX) this.#lru.delete(this.#lru.keys().next().value!);

        // Checkpoints at this position (the next one is usually in the page already read: no await then).
        for (;;) {
          const c = cpIdx < cps.length ? cps[cpIdx]! : cpDone ? null : await nextCheckpoint();
          if (!c || c.position > r.position) break;
          if (c.position < r.position) throw fail(`checkpoint ${c.n} of stream ${name} names position ${c.position}, which was skipped`);
          const p = takeCheckpoint(c, r);
          if (p.hash !== r.hash.toString('hex')) throw fail(`differs from what checkpoint ${c.n} signed (the chain was rewritten)`);
          lastCheckpoint = p;
        }
        prev = r.hash;
        expected++;
        last = r;
        this.records++;
      }
      // Let the gateway breathe between chunks (SQLite reads are synchronous).
      await new Promise<void>((resolve) => setImmediate(resolve));
    }

    // A checkpoint beyond the last record: the newest records were removed.
    const beyond = await nextCheckpoint();
    if (beyond) {
      const p = takeCheckpoint(beyond, last);
      const lost = await this.#firstMissing(p);
      throw new Bad(lost?.[0] ?? (last ? this.#sessionLabel(last) : ''), lost?.[1] ?? (last ? last.seq : 0),
        `stream ${name} ends at position ${expected - 1} but checkpoint ${p.n} signed position ${p.position}: the newest records were removed`);
    }
    this.unanchored += (expected - 1) - (lastCheckpoint?.position ?? 0);
  }

  /** The first session head a checkpoint names that no longer exists. */
  async #firstMissing(p: CheckpointPayload): Promise<[string, number] | null> {
    for (const [id, seq, hash] of p.sessions) {
      const h = await this.#src.recordHash(id, seq);
      if (!h || h.toString('hex') !== hash) return [id, seq];
    }
    return null;
  }

  #checkSessionRow(row: VerifySessionRow, header: string, fail: (m: string) => Bad): void {
    if (row.start !== header) throw fail('the session index row differs from its signed-off header (edited)');
    const s = JSON.parse(header) as { target?: string; identity?: { subject?: string }; startedAt?: string };
    let started = '';
    try {
      started = normTime(s.startedAt ?? '');
    } catch { /* compared below */ }
    if (row.target !== (s.target ?? null) || row.subject !== (s.identity?.subject ?? null) || row.startedAt !== started) {
      throw fail('the session index columns disagree with its header (edited)');
    }
  }

  async #checkPruned(sessionId: string, row: VerifySessionRow | undefined, fail: (m: string) => Bad): Promise<void> {
    if (!row || row.pruned === null) throw fail('its content was removed, and no signed prune record covers its session');
    let p = this.#prunes.get(row.pruned);
    if (!p) {
      const rec = await this.#src.pruneRecord(row.pruned);
      if (!rec) throw fail(`prune record ${row.pruned} is gone`);
      const key = this.#keys.get(rec.keyId);
      if (!key) throw fail(`prune record ${row.pruned} is signed by key ${rec.keyId}, which is not trusted`);
      if (!verifyPayload(rec.payload, rec.signature, key)) throw fail(`prune record ${row.pruned}: the signature does not match`);
      const payload = JSON.parse(rec.payload) as PrunePayload;
      if (payload.type !== 'prune') throw fail(`prune record ${row.pruned} is not a prune record`);
      p = new Set(payload.sessions.map((s) => s[0]));
      if (this.#prunes.size > 1000) this.#prunes.clear();
      this.#prunes.set(row.pruned, p);
    }
    if (!p.has(sessionId)) throw fail(`prune record ${row.pruned} does not name this session`);
  }
}
