import { createHash, createHmac, randomUUID } from 'node:crypto';
import type { Config } from '../config/types.ts';
import type { Approval, AuditStore } from '../audit/types.ts';
import type { Logger } from '../log.ts';
import type { ApprovalGate, ApprovalRequest } from './approval-gate.ts';

/** Why a decision was refused, with the HTTP status of the contract. */
export class DecisionError extends Error {
  readonly status: 403 | 404 | 409;
  constructor(status: 403 | 404 | 409, message: string) {
    super(message);
    this.name = 'DecisionError';
    this.status = status;
  }
}

export interface Decider {
  name: string;
  groups: string[];
}

/** Milliseconds between keep-alive pings of a held statement's upstream connection. */
const KEEPALIVE_MS = 20_000;
const WEBHOOK_ATTEMPTS = 6;

/**
 * Just-in-time approval of single statements.
 *
 * Approvals live in the audit store, so every gateway sharing a PostgreSQL store sees every request, and a decision
 * made through any instance's API releases the statement held by another (the store notifies all of them).
 * Hold mode: the session waits here until the request is decided, times out, or the client goes away.
 * Retry mode: the statement is refused with the request id, and the identical statement (same identity, target,
 * fingerprint and parameters) runs once after approval, within `retryValidity`.
 */
export class ApprovalService implements ApprovalGate {
  private readonly config: Config;
  private readonly store: AuditStore;
  private readonly instanceId: string;
  private readonly log: Logger;
  private readonly waiters = new Map<string, (a: Approval) => void>();
  private readonly listeners = new Set<(a: Approval) => void>();
  private unsubscribe: (() => void) | null = null;
  private readonly timers = new Set<NodeJS.Timeout>();
  private readonly pendingWebhooks = new Set<Promise<void>>();
  private stopping = false;

  constructor(config: Config, store: AuditStore, instanceId: string, log: Logger) {
    this.config = config;
    this.store = store;
    this.instanceId = instanceId;
    this.log = log.child({ component: 'approvals' });
  }

  /** Subscribes to changes from every instance, and expires what a previous run of this instance left pending. */
  async start(): Promise<void> {
    this.unsubscribe = this.store.onApprovalChange((a) => this.changed(a));
    const now = new Date().toISOString();
    const orphans = await this.store.listApprovals({ status: 'pending', limit: 10_000 });
    for (const a of orphans) {
      if (a.instanceId !== this.instanceId || a.mode !== 'hold') continue;
      await this.store.updateApproval(a.id, (cur) =>
        cur.status === 'pending' ? { ...cur, status: 'expired', decidedAt: now, reason: 'the gateway holding the statement restarted' } : null);
    }
  }

  /** Live updates for the API's event stream; returns the unsubscribe function. */
  subscribe(fn: (a: Approval) => void): () => void {
    this.listeners.add(fn);
    return () => this.listeners.delete(fn);
  }

  private changed(a: Approval): void {
    if (a.status !== 'pending') {
      const w = this.waiters.get(a.id);
      if (w) w(a);
    }
    for (const l of this.listeners) {
      try {
        l(a);
      } catch (e) {
        this.log.warn('approval listener failed', { error: (e as Error).message });
      }
    }
  }

  private newApproval(req: ApprovalRequest, mode: 'hold' | 'retry'): Approval {
    const now = Date.now();
    return {
      id: randomUUID(),
      sessionId: req.sessionId,
      target: req.target,
      identity: req.identity,
      sql: req.sql,
      params: req.params,
      kinds: req.kinds,
      fingerprint: req.fingerprint,
      policy: req.policy,
      rule: req.rule,
      estimatedRows: req.estimatedRows,
      status: 'pending',
      mode,
      minApprovals: Math.max(1, req.minApprovals),
      votes: [],
      createdAt: new Date(now).toISOString(),
      expiresAt: new Date(now + this.config.approvals.timeout).toISOString(),
      decidedAt: null,
      decidedBy: null,
      reason: null,
      instanceId: this.instanceId,
      usedAt: null,
    };
  }

  async hold(req: ApprovalRequest, opts: { keepAlive: () => Promise<void>; cancelled: () => boolean }): Promise<Approval> {
    if (this.stopping) return { ...this.newApproval(req, 'hold'), status: 'expired', reason: 'the gateway is shutting down' };
    const a = this.newApproval(req, 'hold');
    const decided = new Promise<Approval>((resolve) => this.waiters.set(a.id, resolve));
    await this.store.createApproval(a);
    this.notify('created', a, req.reason);
    const finish = async (status: 'timed_out' | 'expired', reason: string) => {
      const r = await this.store.updateApproval(a.id, (cur) =>
        cur.status === 'pending' ? { ...cur, status, decidedAt: new Date().toISOString(), reason } : null);
      if (r) {
        this.changed(r);
        this.notifyDecision(r);
      } else {
        // Decided meanwhile: the waiter resolves through the change notification; make sure it does.
        const cur = await this.store.getApproval(a.id);
        if (cur && cur.status !== 'pending') this.changed(cur);
      }
    };
    const timeout = setTimeout(() => void finish('timed_out', 'no decision in time'), this.config.approvals.timeout);
    this.timers.add(timeout);
    // Every second: notice a client that went away; every KEEPALIVE_MS: ping the upstream so it does not time out.
    let pinging = false;
    let lastPing = Date.now();
    const keepAlive = setInterval(() => {
      if (opts.cancelled()) {
        void finish('expired', 'the client disconnected while waiting');
        return;
      }
      if (pinging || Date.now() - lastPing < KEEPALIVE_MS) return;
      pinging = true;
      lastPing = Date.now();
      opts.keepAlive().catch((e) => this.log.warn('keep-alive of a held statement failed', { approval: a.id, error: (e as Error).message }))
        .finally(() => { pinging = false; });
    }, 1_000);
    this.timers.add(keepAlive);
    // The decision may have come before the waiter was registered with the store's notifications.
    const existing = await this.store.getApproval(a.id);
    if (existing && existing.status !== 'pending') this.changed(existing);
    try {
      return await decided;
    } finally {
      clearTimeout(timeout);
      clearInterval(keepAlive);
      this.timers.delete(timeout);
      this.timers.delete(keepAlive);
      this.waiters.delete(a.id);
    }
  }

  async retry(req: ApprovalRequest): Promise<{ run: boolean; approval: Approval }> {
    const key = retryKey(req);
    const now = Date.now();
    const validity = (policy: string) => this.config.policies.find((p) => p.name === policy)?.retryValidity ?? 0;
    const candidates = await this.store.listApprovals({ limit: 500 });
    for (const c of candidates) {
      if (c.mode !== 'retry' || retryKey(c) !== key || c.identity.subject !== req.identity.subject || c.target !== req.target) continue;
      if (c.status === 'approved' && !c.usedAt && c.decidedAt && Date.parse(c.decidedAt) + validity(c.policy) > now) {
        const used = await this.store.updateApproval(c.id, (cur) =>
          cur.status === 'approved' && !cur.usedAt ? { ...cur, usedAt: new Date().toISOString() } : null);
        if (used) return { run: true, approval: used };
      }
      if (c.status === 'pending' && Date.parse(c.expiresAt) > now) return { run: false, approval: c };
    }
    const a = this.newApproval(req, 'retry');
    await this.store.createApproval(a);
    this.notify('created', a, req.reason);
    return { run: false, approval: a };
  }

  /** An approver's decision (API and CLI). Enforces who may decide; `minApprovals` distinct approvals release. */
  async decide(id: string, by: Decider, decision: 'approve' | 'deny', reason?: string): Promise<Approval> {
    const approvers = this.config.approvals.approvers;
    if (!by.groups.some((g) => approvers.includes(g))) {
      throw new DecisionError(403, `${by.name} is not in an approver group (${approvers.join(', ')})`);
    }
    const current = await this.store.getApproval(id);
    if (!current) throw new DecisionError(404, `no approval ${id}`);
    if (current.identity.subject === by.name) throw new DecisionError(403, `${by.name} raised this request and cannot decide it`);
    let refusal: DecisionError | null = null;
    const updated = await this.store.updateApproval(id, (a) => {
      if (a.status !== 'pending') {
        refusal = new DecisionError(409, `approval ${id} is no longer pending (${a.status})`);
        return null;
      }
      if (Date.parse(a.expiresAt) <= Date.now()) {
        refusal = new DecisionError(409, `approval ${id} has expired`);
        return null;
      }
      if (a.votes.some((v) => v.by === by.name)) {
        refusal = new DecisionError(409, `${by.name} already voted on approval ${id}`);
        return null;
      }
      const at = new Date().toISOString();
      const votes = [...a.votes, { by: by.name, decision, reason, at }];
      if (decision === 'deny') {
        return { ...a, votes, status: 'denied', decidedAt: at, decidedBy: by.name, reason: reason ?? null };
      }
      const approvals = votes.filter((v) => v.decision === 'approve').length;
      if (approvals >= a.minApprovals) {
        return { ...a, votes, status: 'approved', decidedAt: at, decidedBy: votes.filter((v) => v.decision === 'approve').map((v) => v.by).join(', '), reason: reason ?? null };
      }
      return { ...a, votes };
    });
    if (refusal) throw refusal;
    if (!updated) throw new DecisionError(409, `approval ${id} could not be updated`);
    this.changed(updated);
    this.notifyDecision(updated);
    return updated;
  }

  /** At shutdown: statements held by this instance are released with "expired" rather than left waiting. */
  shutdown(): void {
    this.stopping = true;
    const now = new Date().toISOString();
    for (const id of this.waiters.keys()) {
      void this.store.updateApproval(id, (cur) =>
        cur.status === 'pending' ? { ...cur, status: 'expired', decidedAt: now, reason: 'the gateway is shutting down' } : null)
        .then((a) => a && this.changed(a))
        .catch(() => {});
    }
  }

  async stop(): Promise<void> {
    this.unsubscribe?.();
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    // Webhooks already under way get a moment to finish.
    await Promise.race([Promise.allSettled([...this.pendingWebhooks]), new Promise((r) => setTimeout(r, 2_000))]);
  }

  // ---------------------------------------------------------------- webhook

  private notifyDecision(a: Approval): void {
    this.notify(a.status === 'pending' ? 'vote' : 'decided', a);
  }

  private notify(event: 'created' | 'vote' | 'decided', a: Approval, why?: string): void {
    const url = this.config.approvals.webhook;
    if (!url) return;
    const body = JSON.stringify(webhookPayload(event, a, why));
    const p = this.deliver(url, body, a.id).finally(() => this.pendingWebhooks.delete(p));
    this.pendingWebhooks.add(p);
  }

  private async deliver(url: string, body: string, id: string): Promise<void> {
    const secret = this.config.approvals.webhookSecret;
    for (let attempt = 1; attempt <= WEBHOOK_ATTEMPTS; attempt++) {
      const ts = Math.floor(Date.now() / 1000).toString();
      const headers: Record<string, string> = { 'content-type': 'application/json', 'user-agent': 'agentgate', 'x-agentgate-timestamp': ts };
      if (secret) headers['x-agentgate-signature'] = `sha256=${createHmac('sha256', secret).update(`${ts}.${body}`).digest('hex')}`;
      try {
        const r = await fetch(url, { method: 'POST', headers, body, signal: AbortSignal.timeout(10_000) });
        if (r.ok) return;
        if (r.status >= 400 && r.status < 500 && r.status !== 429) {
          this.log.warn('webhook refused the notification', { approval: id, status: r.status });
          return;
        }
        this.log.warn('webhook failed; retrying', { approval: id, status: r.status, attempt });
      } catch (e) {
        this.log.warn('webhook unreachable; retrying', { approval: id, error: (e as Error).message, attempt });
      }
      if (attempt < WEBHOOK_ATTEMPTS) await new Promise((r) => setTimeout(r, Math.min(30_000, 500 * 2 ** (attempt - 1))));
    }
  }
}

/** Identity of "the identical statement" for retry mode: fingerprint plus the exact SQL and parameters. */
function retryKey(r: { sql: string; params?: unknown; fingerprint: string }): string {
  return createHash('sha256').update(r.fingerprint).update('\0').update(r.sql).update('\0').update(JSON.stringify(r.params ?? null)).digest('hex');
}

/**
 * The webhook body: `text` (and `blocks`) make it a valid Slack incoming-webhook message as it is; `agentgate`
 * carries the full request for other receivers.
 */
export function webhookPayload(event: 'created' | 'vote' | 'decided', a: Approval, why?: string): Record<string, unknown> {
  const who = `${a.identity.subject} (${a.identity.via})`;
  const sql = a.sql.length > 500 ? `${a.sql.slice(0, 500)}…` : a.sql;
  let text: string;
  if (event === 'created') {
    text = `agentgate: approval ${a.id} requested by ${who} on ${a.target}: ${why ?? a.kinds.join(', ')}`;
  } else if (event === 'vote') {
    text = `agentgate: approval ${a.id}: ${a.votes.length} of ${a.minApprovals} approvals`;
  } else {
    text = `agentgate: approval ${a.id} ${a.status}${a.decidedBy ? ` by ${a.decidedBy}` : ''}${a.reason ? `: ${a.reason}` : ''}`;
  }
  return {
    text,
    blocks: [
      { type: 'section', text: { type: 'mrkdwn', text } },
      { type: 'section', text: { type: 'mrkdwn', text: '```' + sql.replace(/```/g, "'''") + '```' } },
    ],
    agentgate: { event, approval: a },
  };
}
