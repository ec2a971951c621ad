import { execFileSync } from 'node:child_process';
import mysql from 'mysql2/promise';
import { startLocalMariaDB, type LocalMariaDB } from '../../src/cli/local-mariadb.ts';
import { testCerts } from './certs.ts';
import { eventually } from './wait.ts';

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

/**
 * Waits until the server is running a statement whose text is exactly `sql`, so that a test can act on it while it
 * runs (a fixed pause may end before the statement, relayed by the gateway, reaches the server on a loaded machine).
 */
export async function untilRunning(srv: { host: string; port: number }, sql: string, ms = 10_000): Promise<void> {
  const root = await mysql.createConnection({ host: srv.host, port: srv.port, user: 'root' });
  try {
    await eventually(async () => {
      const [rows] = (await root.query("SELECT COUNT(*) AS n FROM information_schema.PROCESSLIST WHERE COMMAND = 'Query' AND INFO = ?", [sql])) as unknown as [{ n: number }[]];
      return Number(rows[0]!.n) > 0;
    }, ms, `${sql} running on the server`);
  } finally {
    await root.end();
  }
}
