import type { FastifyInstance } from 'fastify';
import type { ApiDeps } from './index.ts';
import { badRequest } from './errors.ts';
import { bool, checkKnown, integer, single, type Query } from './query.ts';

/** `db.table.column`, each part a name or `*`. */
export function parseColumnPattern(v: string): string {
  const parts = v.split('.');
  if (parts.length !== 3 || parts.some((p) => p === '' || /\s/.test(p) || (p.includes('*') && p !== '*'))) {
    throw badRequest(`"column": ${JSON.stringify(v)} is not DB.TABLE.COLUMN (each part a name or *)`);
  }
  return v;
}

/** The integrity check and "who saw what". */
export function auditRoutes(deps: ApiDeps) {
  return async function audit(app: FastifyInstance): Promise<void> {
    app.get('/audit/verify', async (req) => {
      checkKnown(req.query as Query, []);
      return deps.store.verify();
    });

    app.get('/audit/search', async (req) => {
      const q = req.query as Query;
      checkKnown(q, ['value', 'column', 'substring', 'limit']);
      const value = single(q, 'value');
      const column = single(q, 'column');
      const limit = integer(q, 'limit', 1, 1000) ?? 100;
      const substring = bool(q, 'substring') ?? false;
      if ((value === undefined) === (column === undefined)) {
        throw badRequest('give exactly one of "value" (a cell value) or "column" (DB.TABLE.COLUMN)');
      }
      if (value !== undefined) {
        if (value === '') throw badRequest('"value" is empty');
        if (value.length > 1000) throw badRequest('"value" is longer than 1000 characters');
        return { hits: await deps.store.searchValue(value, limit, { substring }) };
      }
      if (substring) throw badRequest('"substring" applies to a value search only');
      return { hits: await deps.store.searchColumn(parseColumnPattern(column!), limit) };
    });
  };
}
