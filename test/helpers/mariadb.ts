import { execFileSync } from 'node:child_process';
import { startLocalMariaDB, type LocalMariaDB } from '../../src/cli/local-mariadb.ts';
import { testCerts } from './certs.ts';

export type MariaDBServer = LocalMariaDB;

/** A throwaway MariaDB server with TLS (the test CA) enabled; see src/cli/local-mariadb.ts. */
export function startMariaDB(opts: { port?: number; extraArgs?: string[] } = {}): Promise<MariaDBServer> {
  const c = testCerts();
  return startLocalMariaDB({ ...opts, tls: { ca: c.ca, cert: c.cert, key: c.key } });
}

let shared: Promise<{ host: string; port: number; user: string }> | undefined;

/**
 * The MariaDB server of this test run: the one scripts/test.ts started (AGENTGATE_TEST_MARIADB=host:port),
 * or, when a test file runs on its own, one started for this process and stopped when it exits.
 */
export function testMariaDB(): Promise<{ host: string; port: number; user: string }> {
  if (!shared) {
    const env = process.env.AGENTGATE_TEST_MARIADB;
    if (env) {
      const [host, port] = env.split(':');
      shared = Promise.resolve({ host: host!, port: Number(port), user: 'root' });
    } else {
      shared = startMariaDB().then((srv) => {
        srv.unref();
        process.once('exit', () => srv.killNow());
        return { host: srv.host, port: srv.port, user: 'root' };
      });
    }
  }
  return shared;
}

/** Runs SQL as root on the test server with the mariadb CLI and returns its tab-separated output. */
export function rootSql(srv: { host: string; port: number }, sql: string): string {
  return execFileSync('mariadb', [`-h${srv.host}`, `-P${srv.port}`, '-uroot', '--skip-ssl', '-N', '-B', '-e', sql], {
    stdio: ['ignore', 'pipe', 'pipe'],
  }).toString();
}
