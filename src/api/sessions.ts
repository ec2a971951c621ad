import { Readable } from 'node:stream';
import type { FastifyInstance } from 'fastify';
import { presentSession } from '../audit/present.ts';
import type { SessionFilter } from '../audit/types.ts';
import { STATEMENT_KINDS } from '../sql/types.ts';
import type { ApiDeps } from './index.ts';
import { badRequest, notFound } from './errors.ts';
import { bool, checkKnown, integer, oneOf, text, time, type Query } from './query.ts';

export const SESSION_LIMIT = { default: 50, max: 1000 } as const;

const LIST_PARAMS = ['target', 'subject', 'since', 'until', 'limit', 'before', 'hasDenied', 'hasApproval', 'kind'] as const;

/** Session ids are UUIDs today; anything printable and short is accepted so older or foreign ids still resolve. */
function sessionId(raw: string): string {
  if (raw.length === 0 || raw.length > 200 || /[\x00-\x1f]/.test(raw)) throw badRequest('that is not a session id');
  return raw;
}

export function parseSessionFilter(q: Query): SessionFilter {
  checkKnown(q, LIST_PARAMS);
  const f: SessionFilter = { limit: integer(q, 'limit', 1, SESSION_LIMIT.max) ?? SESSION_LIMIT.default };
  const target = text(q, 'target', { max: 100 });
  const subject = text(q, 'subject');
  const since = time(q, 'since');
  const until = time(q, 'until');
  const before = text(q, 'before', { max: 200 });
  const hasDenied = bool(q, 'hasDenied');
  const hasApproval = bool(q, 'hasApproval');
  const kind = oneOf(q, 'kind', STATEMENT_KINDS);
  if (since && until && since > until) throw badRequest(`"since" (${since}) is after "until" (${until})`);
  if (target !== undefined) f.target = target;
  if (subject !== undefined) f.subject = subject;
  if (since !== undefined) f.since = since;
  if (until !== undefined) f.until = until;
  if (before !== undefined) f.before = before;
  if (hasDenied !== undefined) f.hasDenied = hasDenied;
  if (hasApproval !== undefined) f.hasApproval = hasApproval;
  if (kind !== undefined) f.kind = kind;
  return f;
}

/** The recorded sessions: listing (newest first, paged by `before`), one session with its events, its export. */
export function sessionRoutes(deps: ApiDeps) {
  return async function sessions(app: FastifyInstance): Promise<void> {
    app.get('/sessions', async (req) => {
      const f = parseSessionFilter(req.query as Query);
      const list = await deps.store.listSessions(f);
      // A full page may have more behind it: `next` is the cursor for `before=`.
      const next = list.length === f.limit && list.length > 0 ? list[list.length - 1]!.id : null;
      return { sessions: list.map((s) => presentSession(s)), next };
    });

    app.get('/sessions/:id', async (req) => {
      checkKnown(req.query as Query, []);
      const id = sessionId((req.params as { id: string }).id);
      const s = await deps.store.getSession(id);
      if (!s) throw notFound(`no session ${id}`);
      return presentSession(s);
    });

    app.get('/sessions/:id/export', async (req, reply) => {
      checkKnown(req.query as Query, []);
      const id = sessionId((req.params as { id: string }).id);
      const lines = await deps.store.exportSession(id);
      if (!lines) throw notFound(`no session ${id}`);
      reply.type('application/x-ndjson; charset=utf-8');
      reply.header('content-disposition', `attachment; filename="agentgate-session-${id.replace(/[^A-Za-z0-9._-]/g, '_')}.jsonl"`);
      return reply.send(Readable.from(lines));
    });
  };
}
