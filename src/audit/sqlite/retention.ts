import type { KeyObject } from 'node:crypto';
import type { DatabaseSync } from 'node:sqlite';
import { encodePayload, signPayload, type PrunePayload } from '../chain.ts';
import type { PruneOptions, PruneResult } from '../types.ts';
import { breathe, type Row } from './rows.ts';

export interface PruneContext {
  instanceId: string;
  key: KeyObject;
  keyId: string;
  /** Sessions this process still writes are never pruned under it. */
  isOpen(id: string): boolean;
}

/**
 * Retention on SQLite (docs/audit-chain.md, "Retention"): up to 500 sessions per transaction, each transaction with
 * its signed prune record; the sessions' records become stubs (hash and links kept, body and rows gone) and their
 * index rows markers.
 */
export async function pruneSqlite(db: DatabaseSync, o: PruneOptions, ctx: PruneContext): Promise<PruneResult> {
    const now = o.now ? new Date(o.now) : new Date();
    const out: PruneResult = { sessions: 0, records: 0, pruneRecords: 0 };
    const pick = db.prepare(`SELECT s.no, s.id FROM sessions s JOIN session_state st ON st.no = s.no WHERE s.pruned IS NULL AND s.policy = ?
      AND ((st.ended_at IS NOT NULL AND st.ended_at < ?) OR (st.ended_at IS NULL AND s.started_at < ?)) ORDER BY s.no LIMIT 500`);
    const stats = db.prepare('SELECT count(*) AS n, max(seq) AS last FROM events WHERE session_no = ?');
    const insPrune = db.prepare('INSERT INTO prunes (payload, signature, key_id) VALUES (?, ?, ?)');
    const dropColsets = db.prepare('DELETE FROM session_colsets WHERE session_no = ? AND colset IN (SELECT colset FROM events WHERE session_no = ? AND colset IS NOT NULL)');
    const dropRows = db.prepare('DELETE FROM event_rows WHERE event_id IN (SELECT id FROM events WHERE session_no = ?)');
    const stub = db.prepare('UPDATE events SET body = NULL, colset = NULL WHERE session_no = ?');
    const mark = db.prepare('UPDATE sessions SET start = NULL, target = NULL, subject = NULL, instance_id = NULL, pruned = ? WHERE no = ?');
    const clearState = db.prepare('UPDATE session_state SET statements = 0, denied = 0, approvals = 0, kinds = 0, end_cause = NULL WHERE no = ?');
    for (const [policy, ms] of o.retention) {
      const cutoff = new Date(now.getTime() - ms).toISOString();
      let skip = new Set<number>();
      for (;;) {
        // Sessions this process still writes are never pruned under it.
        const picked = (pick.all(policy, cutoff, cutoff) as Row[]).filter((r) => !ctx.isOpen(String(r.id)) && !skip.has(Number(r.no)));
        if (!picked.length) break;
        db.exec('BEGIN IMMEDIATE');
        try {
          const entries: [string, number, number][] = [];
          for (const r of picked) {
            const st = stats.get(r.no as number) as Row;
            entries.push([String(r.id), Number(st.n), Number(st.last ?? 0)]);
          }
          entries.sort((a, b) => (a[0] < b[0] ? -1 : a[0] > b[0] ? 1 : 0));
          const payload: PrunePayload = { type: 'prune', v: 1, at: now.toISOString(), instance: ctx.instanceId, key: ctx.keyId, policy, sessions: entries };
          const text = encodePayload(payload);
          const pruneId = Number(insPrune.run(text, signPayload(text, ctx.key), ctx.keyId).lastInsertRowid);
          for (const r of picked) {
            const no = r.no as number;
            dropColsets.run(no, no);
            dropRows.run(no);
            out.records += Number(stub.run(no).changes);
            mark.run(pruneId, no);
            clearState.run(no);
          }
          db.exec('COMMIT');
          out.sessions += picked.length;
          out.pruneRecords++;
        } catch (err) {
          db.exec('ROLLBACK');
          throw err;
        }
        skip = new Set(picked.map((r) => Number(r.no)));
        await breathe();
      }
    }
    return out;
  }
