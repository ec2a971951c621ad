// The primitives of validation: each reads one value at a key path, reports what is wrong in plain words and
// returns the parsed value, or undefined after reporting. Nothing here throws: every problem is collected so the
// user sees all of them at once.
import { isIP } from 'node:net';
import { isAbsolute, resolve } from 'node:path';
import { parseDuration } from './duration.ts';
import { isSecretPath, joinIndex, joinKey } from './secrets.ts';
import { closest } from './suggest.ts';

export type ReadFile = (path: string) => string;

export class Checker {
  readonly file: string;
  readonly dir: string;
  readonly expanded: Set<string>;
  readonly readFile: ReadFile;
  readonly problems: string[] = [];
  /** Paths already reported (a missing environment variable): a second message about them would only confuse. */
  readonly silenced: Set<string>;
  constructor(file: string, dir: string, expanded: Set<string>, readFile: ReadFile, silenced = new Set<string>()) {
    this.file = file;
    this.dir = dir;
    this.expanded = expanded;
    this.readFile = readFile;
    this.silenced = silenced;
  }

  problem(path: string, msg: string): void {
    if (this.silenced.has(path)) return;
    this.problems.push(`${this.file}: ${path ? `${path}: ` : ''}${msg}`);
  }

  /** The value as the user wrote it, for a message; a secret is never shown. */
  show(path: string, v: unknown): string {
    if (isSecretPath(path)) return 'the value';
    const text = typeof v === 'string' ? JSON.stringify(v) : String(v);
    return text.length > 80 ? `${text.slice(0, 77)}...` : text;
  }

  /** A relative path resolved against the config file's folder. */
  resolvePath(p: string): string {
    return isAbsolute(p) ? p : resolve(this.dir, p);
  }
}

export type Parse<T> = (c: Checker, path: string, v: unknown) => T | undefined;

export function typeName(v: unknown): string {
  if (v === null || v === undefined) return 'empty';
  if (Array.isArray(v)) return 'a list';
  if (typeof v === 'object') return Buffer.isBuffer(v) ? 'binary data' : 'a mapping (key: value)';
  if (typeof v === 'boolean') return 'true/false';
  return `a ${typeof v}`;
}

/**
 * A mapping with exactly the given keys allowed. Unknown keys are problems (a typo must not silently fall back to a
 * default), with the closest known key as a suggestion. Empty (`key:` with nothing after it) counts as absent.
 */
export function mapping(c: Checker, path: string, v: unknown, keys: readonly string[]): Record<string, unknown> | undefined {
  if (v === null || v === undefined) return {};
  if (typeof v !== 'object' || Array.isArray(v) || Buffer.isBuffer(v)) {
    c.problem(path, `must be a mapping (key: value), not ${typeName(v)}`);
    return undefined;
  }
  const o = v as Record<string, unknown>;
  for (const k of Object.keys(o)) {
    if (keys.includes(k)) continue;
    const near = closest(k, keys);
    c.problem(joinKey(path, k), near ? `unknown key (did you mean "${near}"?)` : `unknown key (known keys here: ${keys.join(', ')})`);
  }
  return o;
}

/** A required field: reported as missing when absent or empty. The `undefined` return only happens with a problem recorded, and a config with problems is never returned. */
export function req<T>(c: Checker, o: Record<string, unknown>, path: string, key: string, parse: Parse<T>, hint?: string): T {
  const p = joinKey(path, key);
  const v = o[key];
  if (v === undefined || v === null) {
    c.problem(p, hint ? `is missing (${hint})` : 'is missing');
    return undefined as unknown as T;
  }
  return parse(c, p, v) as T;
}

/** An optional field: the default when absent or empty (and after a problem, so validation can go on). */
export function opt<T>(c: Checker, o: Record<string, unknown>, path: string, key: string, parse: Parse<T>, dflt: T): T {
  const v = o[key];
  if (v === undefined || v === null) return dflt;
  return parse(c, joinKey(path, key), v) ?? dflt;
}

/** Like `opt` without a default. */
export function maybe<T>(c: Checker, o: Record<string, unknown>, path: string, key: string, parse: Parse<T>): T | undefined {
  const v = o[key];
  if (v === undefined || v === null) return undefined;
  return parse(c, joinKey(path, key), v);
}

export const str: Parse<string> = (c, path, v) => {
  if (typeof v === 'string') {
    if (v === '') {
      c.problem(path, 'is empty');
      return undefined;
    }
    return v;
  }
  if (isSecretPath(path) && (typeof v === 'number' || typeof v === 'boolean')) {
    // YAML reads `secret: 123456` as a number: quoting keeps it text (and keeps leading zeros).
    c.problem(path, `the value must be a string, not ${typeName(v)} (put it in quotes)`);
  } else {
    c.problem(path, `must be a string, not ${typeName(v)}`);
  }
  return undefined;
};

/** A string that may be empty (an upstream password, for a server user without one). */
export const strOrEmpty: Parse<string> = (c, path, v) => (v === '' ? '' : str(c, path, v));

export const bool: Parse<boolean> = (c, path, v) => {
  if (typeof v === 'boolean') return v;
  if (typeof v === 'string' && c.expanded.has(path) && /^(true|false)$/i.test(v.trim())) return v.trim().toLowerCase() === 'true';
  c.problem(path, `${c.show(path, v)} must be true or false`);
  return undefined;
};

export function int(min: number, max = Number.MAX_SAFE_INTEGER): Parse<number> {
  return (c, path, v) => {
    let n: number | undefined;
    if (typeof v === 'number') n = v;
    // `${PORT}` arrives as text; only an expanded value may stand for a number, a quoted "3306" is a mistake to point out.
    else if (typeof v === 'string' && c.expanded.has(path) && /^-?\d+$/.test(v.trim())) n = Number(v.trim());
    if (n === undefined || !Number.isInteger(n) || n < min || n > max) {
      const range = max === Number.MAX_SAFE_INTEGER ? `a whole number ≥ ${min}` : `a whole number from ${min} to ${max}`;
      c.problem(path, `${c.show(path, v)} must be ${range}`);
      return undefined;
    }
    return n;
  };
}

export function duration(min: number): Parse<number> {
  return (c, path, v) => {
    if (typeof v === 'number') {
      c.problem(path, `${v} needs a unit (e.g. "${v}s"; units: ms, s, m, h, d)`);
      return undefined;
    }
    const ms = typeof v === 'string' ? parseDuration(v) : undefined;
    if (ms === undefined) {
      c.problem(path, `${c.show(path, v)} is not a duration (e.g. 250ms, 300s, 5m, 1h, 90d)`);
      return undefined;
    }
    if (ms < min) {
      c.problem(path, min === 1 ? `${c.show(path, v)} must be longer than 0` : `${c.show(path, v)} must be at least ${min} ms`);
      return undefined;
    }
    return ms;
  };
}

export function oneOf<T extends string>(values: readonly T[]): Parse<T> {
  return (c, path, v) => {
    if (typeof v === 'string' && (values as readonly string[]).includes(v)) return v as T;
    const near = typeof v === 'string' ? closest(v, values) : undefined;
    c.problem(path, `${c.show(path, v)} is not one of ${values.join(', ')}${near ? ` (did you mean "${near}"?)` : ''}`);
    return undefined;
  };
}

/** A list whose items are parsed one by one; a single value where a list is expected is accepted when `single`. */
export function list<T>(item: Parse<T>, opts: { nonEmpty?: boolean; single?: boolean } = {}): Parse<T[]> {
  return (c, path, v) => {
    let items: unknown[];
    if (Array.isArray(v)) items = v;
    else if (opts.single && typeof v === 'string') items = [v];
    else {
      c.problem(path, `must be a list, not ${typeName(v)}${typeof v === 'string' ? ` (write [${v}])` : ''}`);
      return undefined;
    }
    if (opts.nonEmpty && items.length === 0) {
      c.problem(path, 'must not be empty');
      return undefined;
    }
    // Items with problems are left out but the rest is returned, so later checks (unique names, references) still
    // run on what is valid and the user sees everything in one go.
    const out: T[] = [];
    items.forEach((x, i) => {
      const p = joinIndex(path, i);
      if (x === null || x === undefined) {
        c.problem(p, 'is empty');
        return;
      }
      const r = item(c, p, x);
      if (r !== undefined) out.push(r);
    });
    return out;
  };
}

/** A file path, resolved against the config file's folder. */
export const path: Parse<string> = (c, p, v) => {
  const s = str(c, p, v);
  return s === undefined ? undefined : c.resolvePath(s);
};

/** Reads a file named by the config; the problem says which file and why it cannot be read. */
export function readAt(c: Checker, keyPath: string, file: string): string | undefined {
  try {
    return c.readFile(file);
  } catch (err) {
    c.problem(keyPath, `cannot read ${file}: ${fileError(err)}`);
    return undefined;
  }
}

function fileError(err: unknown): string {
  const code = (err as NodeJS.ErrnoException).code;
  if (code === 'ENOENT') return 'no such file';
  if (code === 'EACCES' || code === 'EPERM') return 'permission denied';
  if (code === 'EISDIR') return 'it is a folder, not a file';
  return err instanceof Error ? err.message : String(err);
}

export interface HostPortValue {
  host: string;
  port: number;
}

/** `host:port`, `[v6]:port`. */
export const hostPort: Parse<HostPortValue> = (c, p, v) => {
  if (typeof v !== 'string' && typeof v !== 'number') {
    c.problem(p, `must be host:port (e.g. 127.0.0.1:3307), not ${typeName(v)}`);
    return undefined;
  }
  const s = String(v).trim();
  const bad = (why: string) => {
    c.problem(p, `${JSON.stringify(s)} is not a host:port (${why})`);
    return undefined;
  };
  const m = /^(?:\[([^\]]*)\]|([^:[\]]*)):([^:]*)$/.exec(s);
  if (!m) {
    if (!s.includes(':') || /^\d+$/.test(s)) return bad('the port is missing; e.g. 127.0.0.1:3307');
    return bad('write an IPv6 address in brackets, e.g. [::1]:3307');
  }
  const host = m[1] ?? m[2] ?? '';
  if (host === '') return bad('the host is missing; use 0.0.0.0 for every interface');
  if (m[1] !== undefined && isIP(host) !== 6) return bad(`${host} is not an IPv6 address`);
  if (/\s/.test(host)) return bad('the host has a space');
  const port = /^\d+$/.test(m[3]!) ? Number(m[3]) : NaN;
  if (!(port >= 1 && port <= 65535)) return bad('port must be 1-65535');
  return { host, port };
};

const LOOPBACK = new Set(['localhost', '127.0.0.1', '[::1]', '::1']);

export function isLoopbackHost(hostname: string): boolean {
  return LOOPBACK.has(hostname.toLowerCase()) || /^127(\.\d{1,3}){3}$/.test(hostname) || hostname.toLowerCase().endsWith('.localhost');
}

/**
 * An https URL; plain http only for a loopback host (tests and an IdP on the same machine), since a token's keys
 * fetched over plaintext from elsewhere could be swapped on the way.
 */
export function httpsUrl(opts: { query?: boolean } = {}): Parse<string> {
  return (c, p, v) => {
    const s = str(c, p, v);
    if (s === undefined) return undefined;
    let u: URL;
    try {
      u = new URL(s);
    } catch {
      c.problem(p, `${c.show(p, s)} is not a URL`);
      return undefined;
    }
    if (u.protocol === 'http:' && !isLoopbackHost(u.hostname)) {
      c.problem(p, `${c.show(p, s)} must be an https URL (http is allowed only for localhost and 127.0.0.1)`);
      return undefined;
    }
    if (u.protocol !== 'https:' && u.protocol !== 'http:') {
      c.problem(p, `${c.show(p, s)} must be an https URL`);
      return undefined;
    }
    if (!opts.query && (u.search || u.hash)) {
      c.problem(p, `${c.show(p, s)} must not have a query or a fragment`);
      return undefined;
    }
    return s;
  };
}
