import { badRequest } from './errors.ts';

/**
 * Query-string parsing with messages that say which parameter is wrong and what would be right. Unknown parameters
 * are refused: a misspelt filter (`?targt=app`) silently returning everything is worse than a 400.
 */

export type Query = Record<string, string | string[] | undefined>;

export function checkKnown(q: Query, known: readonly string[]): void {
  for (const k of Object.keys(q)) {
    if (!known.includes(k)) throw badRequest(`unknown query parameter "${k}" (known: ${known.join(', ')})`);
  }
}

/** The single value of a parameter; repeating it is an error. */
export function single(q: Query, name: string): string | undefined {
  const v = q[name];
  if (Array.isArray(v)) throw badRequest(`query parameter "${name}" is given ${v.length} times`);
  return v;
}

export function text(q: Query, name: string, opts: { max?: number } = {}): string | undefined {
  const v = single(q, name);
  if (v === undefined) return undefined;
  if (v === '') throw badRequest(`query parameter "${name}" is empty`);
  const max = opts.max ?? 500;
  if (v.length > max) throw badRequest(`query parameter "${name}" is longer than ${max} characters`);
  return v;
}

// A date, or a date and time with an optional fraction and zone: what people and scripts write.
const ISO = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d{1,9})?)?(Z|[+-]\d{2}:?\d{2})?)?$/i;

/** An ISO 8601 time, returned in UTC. A time without a zone is read as UTC. */
export function time(q: Query, name: string): string | undefined {
  const v = text(q, name, { max: 40 });
  if (v === undefined) return undefined;
  const m = ISO.exec(v);
  let t = Number.NaN;
  if (m) {
    // No zone given: UTC, whatever the server's local zone is.
    const withZone = m[1] && !m[4] ? `${v.replace(' ', 'T')}Z` : v.replace(' ', 'T');
    t = Date.parse(m[1] ? withZone : `${v}T00:00:00Z`);
  }
  if (!Number.isFinite(t)) {
    throw badRequest(`query parameter "${name}": ${JSON.stringify(v)} is not an ISO 8601 time (e.g. 2026-01-31T12:00:00Z or 2026-01-31)`);
  }
  return new Date(t).toISOString();
}

export function integer(q: Query, name: string, min: number, max: number): number | undefined {
  const v = text(q, name, { max: 20 });
  if (v === undefined) return undefined;
  if (!/^-?\d+$/.test(v)) throw badRequest(`query parameter "${name}": ${JSON.stringify(v)} is not an integer`);
  const n = Number(v);
  if (n < min || n > max) throw badRequest(`query parameter "${name}": ${n} is out of range (${min}-${max})`);
  return n;
}

export function bool(q: Query, name: string): boolean | undefined {
  const v = text(q, name, { max: 10 });
  if (v === undefined) return undefined;
  if (v === 'true' || v === '1') return true;
  if (v === 'false' || v === '0') return false;
  throw badRequest(`query parameter "${name}": ${JSON.stringify(v)} is not true or false`);
}

export function oneOf<T extends string>(q: Query, name: string, allowed: readonly T[]): T | undefined {
  const v = text(q, name, { max: 50 });
  if (v === undefined) return undefined;
  if (!(allowed as readonly string[]).includes(v)) {
    throw badRequest(`query parameter "${name}": ${JSON.stringify(v)} is not one of ${allowed.join(', ')}`);
  }
  return v as T;
}
