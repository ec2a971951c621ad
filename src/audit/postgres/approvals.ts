import pg from 'pg';
import type { ApprovalListeners } from '../approval-listeners.ts';
import { limitOf } from '../options.ts';
import type { Approval } from '../types.ts';
import { inTransaction } from './tx.ts';

const CHANNEL = 'agentgate_approvals';

/**
 * Approvals on PostgreSQL, shared by every gateway instance of the database. A change is a transaction holding the
 * row (`SELECT … FOR UPDATE`) and ends with a NOTIFY carrying the approval's id and new version; every instance
 * LISTENs on a connection of its own and delivers each version once (ApprovalListeners).
 */
export class PostgresApprovals {
  readonly #url: string;
  readonly #pool: () => pg.Pool;
  readonly #listeners: ApprovalListeners;
  #closed = false;
  #listener: pg.Client | null = null;
  #listenerDownSince = 0;
  #listenRetry: NodeJS.Timeout | null = null;

  constructor(url: string, pool: () => pg.Pool, listeners: ApprovalListeners) {
    this.#url = url;
    this.#pool = pool;
    this.#listeners = listeners;
  }

  async create(a: Approval): Promise<void> {
    await this.#pool().query(`WITH i AS (INSERT INTO approvals (id, status, instance_id, created_at, version, data) VALUES ($1, $2, $3, $4, 1, $5))
      SELECT pg_notify('${CHANNEL}', $6)`, [a.id, a.status, a.instanceId, a.createdAt, JSON.stringify(a), JSON.stringify({ id: a.id, v: 1 })]);
    this.#listeners.emit(a, 1);
  }

  async get(id: string): Promise<Approval | null> {
    const r = (await this.#pool().query('SELECT data FROM approvals WHERE id = $1', [id])).rows[0];
    return r ? (JSON.parse(r.data) as Approval) : null;
  }

  async list(f: { status?: string; limit?: number }): Promise<Approval[]> {
    const r = f.status
      ? await this.#pool().query('SELECT data FROM approvals WHERE status = $1 ORDER BY created_at DESC LIMIT $2', [f.status, limitOf(f.limit, 100)])
      : await this.#pool().query('SELECT data FROM approvals ORDER BY created_at DESC LIMIT $1', [limitOf(f.limit, 100)]);
    return r.rows.map((x) => JSON.parse(x.data) as Approval);
  }

  async update(id: string, change: (a: Approval) => Approval | null): Promise<Approval | null> {
    const done = await inTransaction(this.#pool(), async (c) => {
      const r = (await c.query('SELECT data, version FROM approvals WHERE id = $1 FOR UPDATE', [id])).rows[0];
      const next = r ? change(JSON.parse(r.data) as Approval) : null;
      if (!r || !next) return null;
      if (next.id !== id) throw new Error(`updateApproval: the change returned approval ${next.id} for ${id}`);
      const version = Number(r.version) + 1;
      await c.query('UPDATE approvals SET status = $2, version = $3, data = $4, updated_at = now() WHERE id = $1', [id, next.status, version, JSON.stringify(next)]);
      await c.query(`SELECT pg_notify('${CHANNEL}', $1)`, [JSON.stringify({ id, v: version })]);
      return { next, version };
    });
    if (!done) return null;
    this.#listeners.emit(done.next, done.version);
    return done.next;
  }

  async expire(instanceId: string): Promise<Approval[]> {
    const now = new Date().toISOString();
    const changed = await inTransaction(this.#pool(), async (c) => {
      const out: [Approval, number][] = [];
      const rows = (await c.query("SELECT data, version FROM approvals WHERE instance_id = $1 AND status = 'pending' FOR UPDATE", [instanceId])).rows;
      for (const r of rows) {
        const a: Approval = { ...(JSON.parse(r.data) as Approval), status: 'expired', decidedAt: now, reason: 'the gateway instance holding the statement restarted' };
        const v = Number(r.version) + 1;
        await c.query('UPDATE approvals SET status = $2, version = $3, data = $4, updated_at = now() WHERE id = $1', [a.id, a.status, v, JSON.stringify(a)]);
        await c.query(`SELECT pg_notify('${CHANNEL}', $1)`, [JSON.stringify({ id: a.id, v })]);
        out.push([a, v]);
      }
      return out;
    });
    for (const [a, v] of changed) this.#listeners.emit(a, v);
    return changed.map(([a]) => a);
  }

  /**
   * LISTEN on a dedicated connection. When it drops, it is re-made (backing off to 2 s) and the approvals changed
   * while it was down are read once and delivered, so no change is missed for longer than the outage.
   */
  async listen(): Promise<void> {
    if (this.#closed) return;
    const c = new pg.Client({ connectionString: this.#url, connectionTimeoutMillis: 5000, keepAlive: true });
    let failed = false;
    const lost = () => {
      if (failed) return;
      failed = true;
      if (this.#listener === c) this.#listener = null;
      c.end().catch(() => {});
      if (!this.#listenerDownSince) this.#listenerDownSince = Date.now();
      this.#retryListen(200);
    };
    c.on('error', lost);
    c.on('end', lost);
    c.on('notification', (n) => {
      if (n.channel !== CHANNEL || !n.payload) return;
      let m: { id: string; v: number };
      try {
        m = JSON.parse(n.payload);
      } catch {
        return;
      }
      if (this.#listeners.seenVersion(m.id) >= m.v) return;
      void this.#deliver(m.id);
    });
    try {
      await c.connect();
      await c.query(`LISTEN ${CHANNEL}`);
    } catch {
      lost();
      return;
    }
    if (this.#closed) {
      failed = true;
      await c.end().catch(() => {});
      return;
    }
    this.#listener = c;
    if (this.#listenerDownSince) {
      const downFor = (Date.now() - this.#listenerDownSince) / 1000 + 10;
      this.#listenerDownSince = 0;
      try {
        const rows = (await this.#pool().query('SELECT data, version FROM approvals WHERE updated_at > now() - make_interval(secs => $1)', [downFor])).rows;
        for (const r of rows) this.#listeners.emit(JSON.parse(r.data) as Approval, Number(r.version));
      } catch { /* the next notification or reconnect catches up */ }
    }
  }

  #retryListen(ms: number): void {
    if (this.#closed || this.#listenRetry) return;
    this.#listenRetry = setTimeout(() => {
      this.#listenRetry = null;
      void this.listen();
    }, ms);
    this.#listenRetry.unref();
  }

  async #deliver(id: string): Promise<void> {
    try {
      const r = (await this.#pool().query('SELECT data, version FROM approvals WHERE id = $1', [id])).rows[0];
      if (r) this.#listeners.emit(JSON.parse(r.data) as Approval, Number(r.version));
    } catch { /* store closing, or the database is down: the reconnect catch-up covers it */ }
  }

  async close(): Promise<void> {
    this.#closed = true;
    if (this.#listenRetry) clearTimeout(this.#listenRetry);
    const l = this.#listener;
    this.#listener = null;
    await l?.end().catch(() => {});
  }
}
