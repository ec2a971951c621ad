import type { DatabaseSync, StatementSync } from 'node:sqlite';
import type { ApprovalListeners } from '../approval-listeners.ts';
import { limitOf } from '../options.ts';
import type { Approval } from '../types.ts';
import type { Row } from './rows.ts';

/**
 * Approvals on SQLite. Each change is a short IMMEDIATE transaction on the main thread's connection: synchronous from
 * BEGIN to COMMIT, so nothing else in this process runs in between, and IMMEDIATE keeps other processes (and the
 * writer thread) out, which makes read-modify-write atomic. Listeners hear changes made by this process.
 */
export class SqliteApprovals {
  readonly #db: DatabaseSync;
  readonly #listeners: ApprovalListeners;
  readonly #get: StatementSync;
  readonly #ins: StatementSync;
  readonly #upd: StatementSync;

  constructor(db: DatabaseSync, listeners: ApprovalListeners) {
    this.#db = db;
    this.#listeners = listeners;
    this.#get = db.prepare('SELECT data, version FROM approvals WHERE id = ?');
    this.#ins = db.prepare('INSERT INTO approvals (id, status, instance_id, created_at, version, data) VALUES (?, ?, ?, ?, 1, ?)');
    this.#upd = db.prepare('UPDATE approvals SET status = ?, version = ?, data = ? WHERE id = ?');
  }

  async create(a: Approval): Promise<void> {
    this.#ins.run(a.id, a.status, a.instanceId, a.createdAt, JSON.stringify(a));
    this.#listeners.emit(a, 1);
  }

  async get(id: string): Promise<Approval | null> {
    const r = this.#get.get(id) as Row | undefined;
    return r ? (JSON.parse(String(r.data)) as Approval) : null;
  }

  async list(f: { status?: string; limit?: number }): Promise<Approval[]> {
    const rows = (f.status
      ? this.#db.prepare('SELECT data FROM approvals WHERE status = ? ORDER BY created_at DESC LIMIT ?').all(f.status, limitOf(f.limit, 100))
      : this.#db.prepare('SELECT data FROM approvals ORDER BY created_at DESC LIMIT ?').all(limitOf(f.limit, 100))) as Row[];
    return rows.map((r) => JSON.parse(String(r.data)) as Approval);
  }

  async update(id: string, change: (a: Approval) => Approval | null): Promise<Approval | null> {
    this.#db.exec('BEGIN IMMEDIATE');
    let next: Approval | null;
    let version: number;
    try {
      const r = this.#get.get(id) as Row | undefined;
      if (!r) {
        this.#db.exec('ROLLBACK');
        return null;
      }
      next = change(JSON.parse(String(r.data)) as Approval);
      if (!next) {
        this.#db.exec('ROLLBACK');
        return null;
      }
      if (next.id !== id) throw new Error(`updateApproval: the change returned approval ${next.id} for ${id}`);
      version = Number(r.version) + 1;
      this.#upd.run(next.status, version, JSON.stringify(next), id);
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
    this.#listeners.emit(next, version);
    return next;
  }

  async expire(instanceId: string): Promise<Approval[]> {
    const now = new Date().toISOString();
    const changed: [Approval, number][] = [];
    this.#db.exec('BEGIN IMMEDIATE');
    try {
      const rows = this.#db.prepare("SELECT data, version FROM approvals WHERE instance_id = ? AND status = 'pending'").all(instanceId) as Row[];
      for (const r of rows) {
        const a = { ...(JSON.parse(String(r.data)) as Approval), status: 'expired' as const, decidedAt: now, reason: 'the gateway instance holding the statement restarted' };
        const v = Number(r.version) + 1;
        this.#upd.run(a.status, v, JSON.stringify(a), a.id);
        changed.push([a, v]);
      }
      this.#db.exec('COMMIT');
    } catch (err) {
      if (this.#db.isTransaction) this.#db.exec('ROLLBACK');
      throw err;
    }
    for (const [a, v] of changed) this.#listeners.emit(a, v);
    return changed.map(([a]) => a);
  }
}
