import type { Config } from './types.ts';

const HIDDEN = '***';

/**
 * A copy of the configuration that can be printed, logged or returned by the API: every secret replaced by `***`
 * (an empty upstream password stays empty, since "no password" is itself worth seeing), the password of a
 * PostgreSQL URL hidden, a webhook URL cut to its origin, and the client TLS private key left out.
 */
export function redactConfig(config: Config): Config {
  const copy = structuredClone(config);
  for (const t of copy.targets) {
    if (t.upstream.password !== '') t.upstream.password = HIDDEN;
  }
  if (copy.tls) copy.tls.keyPem = HIDDEN;
  for (const a of copy.identity.serviceAccounts) a.secret = HIDDEN;
  for (const a of copy.identity.admins) a.token = HIDDEN;
  copy.audit.store = redactUrl(copy.audit.store);
  if (copy.approvals.webhook !== undefined) copy.approvals.webhook = webhookOrigin(copy.approvals.webhook);
  if (copy.approvals.webhookSecret !== undefined) copy.approvals.webhookSecret = HIDDEN;
  if (copy.masking.hashKey !== undefined) copy.masking.hashKey = HIDDEN;
  return copy;
}

/** `postgres://user:pw@host/db` → `postgres://user:***@host/db`; other stores unchanged. */
export function redactUrl(store: string): string {
  if (!/^postgres(ql)?:/.test(store)) return store;
  try {
    const u = new URL(store);
    if (u.password) u.password = HIDDEN;
    // Query parameters can carry a password too (`?password=`), and sslkey paths are nobody's business.
    if (u.search) u.search = `?${HIDDEN}`;
    return u.toString();
  } catch {
    return HIDDEN;
  }
}

function webhookOrigin(url: string): string {
  try {
    const u = new URL(url);
    return u.pathname === '/' && !u.search ? u.origin : `${u.origin}/${HIDDEN}`;
  } catch {
    return HIDDEN;
  }
}
