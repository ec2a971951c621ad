import { InvalidArgumentError, type Command } from 'commander';
import { parseDuration } from '../config/index.ts';
import { serverFlavor } from '../gateway/upstream.ts';
import type { ServerFlavor } from '../sql/types.ts';
import { usage } from './errors.ts';

/** The server the SQL is read for when no gateway says which: the LTS release the project is tested on. */
export const DEFAULT_SERVER_VERSION = '10.11.19-MariaDB';

export function apiOptions(cmd: Command): Command {
  return cmd
    .option('--api <url>', 'the gateway HTTP API (default: http:// + api.listen of --config)')
    .option('--token <token>', 'admin bearer token (default: $AGENTGATE_TOKEN)')
    .option('--config <file>', 'the gateway configuration, read for its api.listen');
}

export function jsonOption(cmd: Command): Command {
  return cmd.option('--json', 'print one JSON document on stdout instead of text');
}

/** A commander parser for an integer in [min, max]. */
export function intIn(min: number, max: number) {
  return (v: string): number => {
    if (!/^-?\d+$/.test(v)) throw new InvalidArgumentError(`"${v}" is not an integer`);
    const n = Number(v);
    if (n < min || n > max) throw new InvalidArgumentError(`${n} is out of range (${min}-${max})`);
    return n;
  };
}

/** A commander parser for a positive number (a speed factor). */
export function positive(v: string): number {
  const n = Number(v);
  if (!Number.isFinite(n) || n <= 0) throw new InvalidArgumentError(`"${v}" is not a number above 0`);
  return n;
}

/**
 * A time for --since/--until: ISO 8601 (a time without a zone is UTC), or a duration back from now (`90m`, `2h`,
 * `7d`). Returned as ISO 8601 UTC.
 */
export function when(now: () => number = Date.now) {
  return (v: string): string => {
    const ago = parseDuration(v);
    if (ago !== undefined) return new Date(now() - ago).toISOString();
    const m = /^\d{4}-\d{2}-\d{2}([T ]\d{2}:\d{2}(:\d{2}(\.\d+)?)?(Z|[+-]\d{2}:?\d{2})?)?$/i.exec(v);
    if (m) {
      const text = !m[1] ? `${v}T00:00:00Z` : m[4] ? v.replace(' ', 'T') : `${v.replace(' ', 'T')}Z`;
      const t = Date.parse(text);
      if (Number.isFinite(t)) return new Date(t).toISOString();
    }
    throw new InvalidArgumentError(`"${v}" is neither an ISO 8601 time (2026-01-31T12:00:00Z, 2026-01-31) nor a duration back from now (90m, 2h, 7d)`);
  };
}

/** `--server-version`: what executable comments and the SQL dialect are read for. */
export function flavorOption(cmd: Command): Command {
  return cmd.option('--server-version <version>', 'the server the SQL is read for, as it reports its version', DEFAULT_SERVER_VERSION);
}

export function flavorOf(version: string): ServerFlavor {
  const f = serverFlavor(version);
  if (f.version === 0) throw usage(`--server-version: "${version}" is not a server version such as 10.11.19-MariaDB or 8.0.36`);
  return f;
}
