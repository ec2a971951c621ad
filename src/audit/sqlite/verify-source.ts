import type { DatabaseSync } from 'node:sqlite';
import type { SessionKey, VerifySessionRow, VerifySource } from '../verifier.ts';
import { buf, bufOrNull, type Row } from './rows.ts';

/** What verifier.ts reads, from a SQLite connection. Sessions are keyed by their number (sessions.no). */
export function sqliteVerifySource(db: DatabaseSync): VerifySource {
    const q = {
      streams: db.prepare(`SELECT s.id, s.name, (SELECT max(position) FROM events e WHERE e.stream = s.id) AS head,
        (SELECT max(n) FROM checkpoints c WHERE c.stream = s.id) AS cps FROM streams s ORDER BY s.id`),
      records: db.prepare(`SELECT e.position, e.session_no, s.id AS sid, e.seq, e.prev, e.sess_prev, e.hash, e.body, r.rows
        FROM events e LEFT JOIN sessions s ON s.no = e.session_no LEFT JOIN event_rows r ON r.event_id = e.id
        WHERE e.stream = ? AND e.position > ? AND e.position <= ? ORDER BY e.position LIMIT ?`),
      checkpoints: db.prepare('SELECT n, position, payload, signature, key_id FROM checkpoints WHERE stream = ? AND n > ? ORDER BY n LIMIT ?'),
      previous: db.prepare('SELECT seq, hash FROM events WHERE session_no = ? AND seq < ? ORDER BY seq DESC LIMIT 1'),
      session: db.prepare('SELECT id, start, target, subject, started_at, pruned FROM sessions WHERE no = ?'),
      prune: db.prepare('SELECT payload, signature, key_id FROM prunes WHERE id = ?'),
      orphans: db.prepare('SELECT id FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.session_no = s.no AND e.seq = 0) LIMIT ?'),
      hash: db.prepare('SELECT e.hash FROM events e JOIN sessions s ON s.no = e.session_no WHERE s.id = ? AND e.seq = ?'),
      keys: db.prepare('SELECT id, public_pem FROM keys'),
      columnSet: db.prepare('SELECT columns FROM column_sets WHERE digest = ?'),
    };
    q.records.setReturnArrays(true);
    return {
      streams: async () => (q.streams.all() as Row[]).map((r) => ({ key: Number(r.id), name: String(r.name), head: Number(r.head ?? 0), checkpoints: Number(r.cps ?? 0) })),
      // Rows as arrays: a million objects with named fields cost more than reading them.
      records: async (stream, after, upTo, limit) => (q.records.all(stream, after, upTo, limit) as unknown as unknown[][]).map((r) => ({
        position: r[0] as number, sessionKey: r[1] as number, sessionId: (r[2] as string | null) ?? null, seq: r[3] as number,
        prev: buf(r[4]), sessPrev: buf(r[5]), hash: buf(r[6]), body: (r[7] as string | null) ?? null, rows: bufOrNull(r[8]),
      })),
      checkpoints: async (stream, afterN, limit) => (q.checkpoints.all(stream, afterN, limit) as Row[]).map((r) => ({
        n: Number(r.n), position: Number(r.position), payload: String(r.payload), signature: buf(r.signature), keyId: String(r.key_id),
      })),
      previousInSession: async (key, seq) => {
        const r = q.previous.get(key as number, seq) as Row | undefined;
        return r ? { seq: Number(r.seq), hash: buf(r.hash) } : null;
      },
      sessionRows: async (keys) => {
        const out = new Map<SessionKey, VerifySessionRow>();
        for (const k of new Set(keys)) {
          const r = q.session.get(k as number) as Row | undefined;
          if (r) out.set(k, { id: String(r.id), start: (r.start as string | null) ?? null, target: (r.target as string | null) ?? null, subject: (r.subject as string | null) ?? null, startedAt: String(r.started_at), pruned: r.pruned === null ? null : Number(r.pruned) });
        }
        return out;
      },
      pruneRecord: async (id) => {
        const r = q.prune.get(id) as Row | undefined;
        return r ? { payload: String(r.payload), signature: buf(r.signature), keyId: String(r.key_id) } : null;
      },
      sessionsWithoutHeader: async (limit) => (q.orphans.all(limit) as Row[]).map((r) => String(r.id)),
      recordHash: async (id, seq) => {
        const r = q.hash.get(id, seq) as Row | undefined;
        return r ? buf(r.hash) : null;
      },
      keys: async () => (q.keys.all() as Row[]).map((r) => ({ id: String(r.id), pem: String(r.public_pem) })),
      columnSet: async (digest) => {
        const r = q.columnSet.get(digest) as Row | undefined;
        return r ? String(r.columns) : null;
      },
    };
}
