import { ConfigError, loadConfig } from '../config/index.ts';
import type { Config, HostPort } from '../config/types.ts';
import { CliError } from './errors.ts';

/**
 * Loads `--config FILE` for a command. A bad configuration is exit 2, with every problem on its own line, each
 * naming the file, the key and what is wrong (ConfigError's message already reads that way).
 */
export function loadCliConfig(file: string): Config {
  try {
    return loadConfig(file);
  } catch (e) {
    if (e instanceof ConfigError) throw new CliError(e.message, 2);
    throw e;
  }
}

const UNSET = /: environment variable \S+ is not set$/;
/** Stands for a variable that is not set, long enough for every key's rules (tokens need 16 characters). */
const PLACEHOLDER = 'not-set-in-this-shell-0123456789';

/**
 * The configuration, for commands that use no secret from it (`policy explain`, the default `--api`): the
 * upstream passwords, secrets and tokens a file takes from the environment need not be set in this shell. The first
 * reading reports every problem of the file; when the only ones are variables that are not set, it is read again
 * with placeholders in their place. Any other problem is exit 2 with the first reading's message.
 */
export function loadConfigWithoutSecrets(file: string): Config {
  try {
    return loadConfig(file);
  } catch (e) {
    if (!(e instanceof ConfigError)) throw e;
    if (!e.problems.every((p) => UNSET.test(p))) throw new CliError(e.message, 2);
    const env = new Proxy(process.env, { get: (t, k) => (typeof k === 'string' ? t[k] ?? PLACEHOLDER : undefined) });
    try {
      return loadConfig(file, env);
    } catch {
      throw new CliError(e.message, 2);
    }
  }
}

/** `api.listen` of a configuration file, for the commands that only talk to the gateway's API. */
export function apiListenOf(file: string): HostPort {
  return loadConfigWithoutSecrets(file).api.listen;
}

/** The URL a client on this machine reaches a listener at: a wildcard address means loopback. */
export function urlOf(at: HostPort): string {
  let host = at.host;
  if (host === '0.0.0.0' || host === '') host = '127.0.0.1';
  if (host === '::') host = '::1';
  return `http://${host.includes(':') ? `[${host}]` : host}:${at.port}`;
}
