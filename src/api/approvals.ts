import type { ServerResponse } from 'node:http';
import type { FastifyInstance } from 'fastify';
import type { Approval } from '../audit/types.ts';
import type { ApiDeps } from './index.ts';
import { adminOf } from './auth.ts';
import { badRequest, notFound } from './errors.ts';
import { checkKnown, integer, oneOf, type Query } from './query.ts';

export const APPROVAL_STATUSES = ['pending', 'approved', 'denied', 'timed_out', 'expired'] as const;
const MAX_REASON = 2000;
/** A stream whose client reads this far behind is dropped rather than buffered without end. */
const MAX_BACKLOG = 1024 * 1024;

export interface ApprovalRouteOptions {
  /** Milliseconds between heartbeat comments on the event stream. Default 15 s. */
  heartbeatMs?: number;
}

function approvalId(raw: string): string {
  if (raw.length === 0 || raw.length > 200 || /[\x00-\x1f]/.test(raw)) throw badRequest('that is not an approval id');
  return raw;
}

function reasonOf(body: unknown): string | undefined {
  if (body === undefined || body === null || body === '') return undefined;
  if (typeof body !== 'object' || Array.isArray(body)) throw badRequest('the body must be a JSON object such as {"reason": "…"}');
  const o = body as Record<string, unknown>;
  for (const k of Object.keys(o)) if (k !== 'reason') throw badRequest(`unknown field "${k}" in the body (known: reason)`);
  const r = o.reason;
  if (r === undefined || r === null) return undefined;
  if (typeof r !== 'string') throw badRequest('"reason" must be a string');
  if (r.length > MAX_REASON) throw badRequest(`"reason" is longer than ${MAX_REASON} characters`);
  return r.trim() === '' ? undefined : r;
}

/**
 * The approval queue: listing, one request, the decisions, and a Server-Sent Events stream of every creation and
 * change (what the console and `curl -N` watch).
 */
export function approvalRoutes(deps: ApiDeps, opts: ApprovalRouteOptions = {}) {
  const heartbeatMs = opts.heartbeatMs ?? 15_000;
  return async function approvals(app: FastifyInstance): Promise<void> {
    const streams = new Set<ServerResponse>();
    // Open streams never end by themselves: close them before the server waits for its connections to finish.
    app.addHook('preClose', async () => {
      for (const s of streams) s.end();
    });

    app.get('/approvals', async (req) => {
      const q = req.query as Query;
      checkKnown(q, ['status', 'limit']);
      const status = oneOf(q, 'status', [...APPROVAL_STATUSES, 'all'] as const);
      const limit = integer(q, 'limit', 1, 1000) ?? 100;
      const list = await deps.store.listApprovals({ status: status === 'all' ? undefined : status, limit });
      return { approvals: list };
    });

    app.get('/approvals/stream', async (req, reply) => {
      checkKnown(req.query as Query, []);
      reply.hijack();
      const res = reply.raw;
      res.writeHead(200, {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        connection: 'keep-alive',
        // Proxies such as nginx would otherwise hold events back in their buffers.
        'x-accel-buffering': 'no',
      });
      res.write(': agentgate approvals: an "approval" event for every request created or changed\n\n');
      streams.add(res);
      const write = (chunk: string) => {
        if (res.writableLength > MAX_BACKLOG) {
          res.destroy();
          return;
        }
        res.write(chunk);
      };
      // The same state can be announced twice (the store's change notification and the deciding call both report
      // it): a watcher gets each state of a request once.
      const last = new Map<string, string>();
      const unsubscribe = deps.approvals.subscribe((a: Approval) => {
        const json = JSON.stringify(a);
        if (last.get(a.id) === json) return;
        last.delete(a.id);
        last.set(a.id, json);
        if (last.size > 1000) last.delete(last.keys().next().value!);
        write(`event: approval\ndata: ${json}\n\n`);
      });
      const heartbeat = setInterval(() => write(`: heartbeat ${new Date().toISOString()}\n\n`), heartbeatMs);
      const done = () => {
        clearInterval(heartbeat);
        unsubscribe();
        streams.delete(res);
      };
      res.once('close', done);
      req.raw.once('close', done);
    });

    app.get('/approvals/:id', async (req) => {
      checkKnown(req.query as Query, []);
      const id = approvalId((req.params as { id: string }).id);
      const a = await deps.store.getApproval(id);
      if (!a) throw notFound(`no approval ${id}`);
      return a;
    });

    for (const decision of ['approve', 'deny'] as const) {
      app.post(`/approvals/:id/${decision}`, async (req) => {
        checkKnown(req.query as Query, []);
        const id = approvalId((req.params as { id: string }).id);
        const reason = reasonOf(req.body);
        const admin = adminOf(req);
        return deps.approvals.decide(id, { name: admin.name, groups: admin.groups }, decision, reason);
      });
    }
  };
}
