import type pg from 'pg';
import type { SessionKey, VerifySessionRow, VerifySource } from '../verifier.ts';

/** What verifier.ts reads, from PostgreSQL. Sessions are keyed by their id. */
export function postgresVerifySource(pool: pg.Pool): VerifySource {
    const q = (text: string, values: unknown[] = []) => pool.query(text, values).then((r) => r.rows);
    return {
      streams: async () => (await q(`SELECT s.id, s.name, (SELECT max(position) FROM events e WHERE e.stream_id = s.id) AS head,
          (SELECT max(n) FROM checkpoints c WHERE c.stream_id = s.id) AS cps FROM streams s ORDER BY s.id`))
        .map((r) => ({ key: Number(r.id), name: r.name, head: Number(r.head ?? 0), checkpoints: Number(r.cps ?? 0) })),
      records: async (stream, after, upTo, limit) => (await q(`SELECT e.position, e.session_id, e.seq, e.prev, e.sess_prev, e.hash, e.body, r.rows
          FROM events e LEFT JOIN event_rows r ON r.stream_id = e.stream_id AND r.position = e.position
          WHERE e.stream_id = $1 AND e.position > $2 AND e.position <= $3 ORDER BY e.position LIMIT $4`, [stream, after, upTo, limit]))
        .map((r) => ({
          position: Number(r.position), sessionKey: r.session_id, sessionId: r.session_id, seq: Number(r.seq),
          prev: r.prev, sessPrev: r.sess_prev, hash: r.hash, body: r.body ?? null, rows: r.rows ?? null,
        })),
      checkpoints: async (stream, afterN, limit) => (await q('SELECT n, position, payload, signature, key_id FROM checkpoints WHERE stream_id = $1 AND n > $2 ORDER BY n LIMIT $3', [stream, afterN, limit]))
        .map((r) => ({ n: Number(r.n), position: Number(r.position), payload: r.payload, signature: r.signature, keyId: r.key_id })),
      previousInSession: async (key, seq) => {
        const r = (await q('SELECT seq, hash FROM events WHERE session_id = $1 AND seq < $2 ORDER BY seq DESC LIMIT 1', [key, seq]))[0];
        return r ? { seq: Number(r.seq), hash: r.hash } : null;
      },
      sessionRows: async (keys) => {
        const out = new Map<SessionKey, VerifySessionRow>();
        for (const r of await q('SELECT id, start, target, subject, started_at, pruned FROM sessions WHERE id = ANY($1::text[])', [[...new Set(keys)]])) {
          out.set(r.id, { id: r.id, start: r.start, target: r.target, subject: r.subject, startedAt: (r.started_at as Date).toISOString(), pruned: r.pruned === null ? null : Number(r.pruned) });
        }
        return out;
      },
      pruneRecord: async (id) => {
        const r = (await q('SELECT payload, signature, key_id FROM prunes WHERE id = $1', [id]))[0];
        return r ? { payload: r.payload, signature: r.signature, keyId: r.key_id } : null;
      },
      sessionsWithoutHeader: async (limit) => (await q('SELECT id FROM sessions s WHERE NOT EXISTS (SELECT 1 FROM events e WHERE e.session_id = s.id AND e.seq = 0) LIMIT $1', [limit])).map((r) => r.id),
      recordHash: async (id, seq) => (await q('SELECT hash FROM events WHERE session_id = $1 AND seq = $2', [id, seq]))[0]?.hash ?? null,
      keys: async () => (await q('SELECT id, public_pem FROM keys')).map((r) => ({ id: r.id, pem: r.public_pem })),
      columnSet: async (digest) => (await q('SELECT columns FROM column_sets WHERE digest = $1', [digest]))[0]?.columns ?? null,
    };
}
