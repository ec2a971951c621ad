import type { KeyObject } from 'node:crypto';
import type pg from 'pg';
import { encodePayload, signPayload, type PrunePayload } from '../chain.ts';
import type { PruneOptions, PruneResult } from '../types.ts';
import { inTransaction } from './tx.ts';

export interface PruneContext {
  instanceId: string;
  key: KeyObject;
  keyId: string;
  /** Sessions this process still writes are never pruned under it. */
  isOpen(id: string): boolean;
}

/**
 * Retention on PostgreSQL (docs/audit-chain.md, "Retention"): up to 500 sessions per transaction, each with its
 * signed prune record. The sessions' rows are locked first, so two instances pruning at once never prune one
 * session twice.
 */
export async function prunePostgres(pool: pg.Pool, o: PruneOptions, ctx: PruneContext): Promise<PruneResult> {
    const now = o.now ? new Date(o.now) : new Date();
    const out: PruneResult = { sessions: 0, records: 0, pruneRecords: 0 };
    for (const [policy, ms] of o.retention) {
      const cutoff = new Date(now.getTime() - ms).toISOString();
      let skip = new Set<string>();
      for (;;) {
        const picked = (await pool.query(`SELECT id FROM sessions WHERE pruned IS NULL AND policy = $1
            AND ((ended_at IS NOT NULL AND ended_at < $2) OR (ended_at IS NULL AND started_at < $2)) ORDER BY started_at LIMIT 500`, [policy, cutoff])).rows
          .map((r) => r.id as string).filter((id) => !ctx.isOpen(id) && !skip.has(id));
        if (!picked.length) break;
        await inTransaction(pool, async (c) => {
          // Lock the rows, and skip any a concurrent prune (another instance) took first.
          const ids = (await c.query('SELECT id FROM sessions WHERE id = ANY($1::text[]) AND pruned IS NULL FOR UPDATE', [picked])).rows.map((r) => r.id as string);
          if (ids.length) {
            const stats = (await c.query('SELECT session_id, count(*) AS n, max(seq) AS last FROM events WHERE session_id = ANY($1::text[]) GROUP BY session_id', [ids])).rows;
            const entries: [string, number, number][] = stats.map((r) => [r.session_id, Number(r.n), Number(r.last)]);
            entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
            const payload: PrunePayload = { type: 'prune', v: 1, at: now.toISOString(), instance: ctx.instanceId, key: ctx.keyId, policy, sessions: entries };
            const text = encodePayload(payload);
            const pruneId = Number((await c.query('INSERT INTO prunes (payload, signature, key_id) VALUES ($1, $2, $3) RETURNING id', [text, signPayload(text, ctx.key), ctx.keyId])).rows[0].id);
            await c.query(`DELETE FROM session_colsets WHERE session_id = ANY($1::text[])
              AND colset IN (SELECT DISTINCT colset FROM events WHERE session_id = ANY($1::text[]) AND colset IS NOT NULL)`, [ids]);
            await c.query('DELETE FROM event_rows r USING events e WHERE e.session_id = ANY($1::text[]) AND r.stream_id = e.stream_id AND r.position = e.position', [ids]);
            out.records += (await c.query('UPDATE events SET body = NULL, colset = NULL WHERE session_id = ANY($1::text[])', [ids])).rowCount ?? 0;
            await c.query(`UPDATE sessions SET start = NULL, target = NULL, subject = NULL, instance_id = NULL, end_cause = NULL,
              statements = 0, denied = 0, approvals = 0, kinds = 0, pruned = $2 WHERE id = ANY($1::text[])`, [ids, pruneId]);
            out.sessions += ids.length;
            out.pruneRecords++;
          }
        });
        skip = new Set(picked);
      }
    }
    return out;
  }
