import { PostgresAuditStore } from './postgres/store.ts';
import { SqliteAuditStore } from './sqlite/store.ts';
import type { AuditStore, AuditStoreOptions } from './types.ts';

export type * from './types.ts';
export { presentEvent, presentSession, presentResult, type PresentedEvent, type PresentedSession } from './present.ts';
export { SqliteAuditStore } from './sqlite/store.ts';
export { PostgresAuditStore } from './postgres/store.ts';

/**
 * The store for `audit.store`: `sqlite:PATH` (the embedded default) or `postgres://…` / `postgresql://…` (shared by
 * several gateway instances). Call `init()` on what it returns before use.
 */
export function openAuditStore(url: string, opts: AuditStoreOptions): AuditStore {
  if (url.startsWith('sqlite:')) {
    const path = url.slice('sqlite:'.length);
    if (!path) throw new TypeError('audit store: sqlite: needs a file path, e.g. sqlite:./.agentgate/audit.db');
    return new SqliteAuditStore(path, opts);
  }
  if (url.startsWith('postgres://') || url.startsWith('postgresql://')) return new PostgresAuditStore(url, opts);
  throw new TypeError(`audit store: ${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//…@'))} is neither sqlite:PATH nor postgres://…`);
}
