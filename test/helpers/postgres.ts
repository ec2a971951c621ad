import { execFileSync } from 'node:child_process';
import { chownSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir, userInfo } from 'node:os';
import { join } from 'node:path';
import { freePort } from './ports.ts';

export interface PostgresServer {
  /** postgres://postgres@127.0.0.1:PORT/postgres (trust authentication). */
  url: string;
  port: number;
  /** Stops the server (fast shutdown), keeping its data: the store becomes unreachable. */
  pause(): void;
  /** Starts it again on the same port and data. */
  resume(): void;
  stop(): void;
}

function pgBin(name: string): string {
  const root = '/usr/lib/postgresql';
  const versions = existsSync(root) ? readdirSync(root).sort((a, b) => Number(b) - Number(a)) : [];
  for (const v of versions) {
    const p = join(root, v, 'bin', name);
    if (existsSync(p)) return p;
  }
  throw new Error(`PostgreSQL's ${name} is not installed (apt-get install postgresql)`);
}

/**
 * Starts a throwaway PostgreSQL cluster on its own port and data directory (trust authentication, loopback only).
 * PostgreSQL refuses to run as root, so as root it runs as the `postgres` user.
 */
export async function startPostgres(): Promise<PostgresServer> {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-pg-'));
  const port = await freePort();
  const asRoot = userInfo().uid === 0;
  const run = (bin: string, args: string[]) =>
    asRoot
      ? execFileSync('runuser', ['-u', 'postgres', '--', pgBin(bin), ...args], { stdio: 'pipe' })
      : execFileSync(pgBin(bin), args, { stdio: 'pipe' });
  if (asRoot) chownSync(dir, Number(execFileSync('id', ['-u', 'postgres']).toString()), Number(execFileSync('id', ['-g', 'postgres']).toString()));
  const data = join(dir, 'data');
  run('initdb', ['-D', data, '--auth=trust', '-U', 'postgres', '-E', 'UTF8', '--no-sync']);
  const start = () => run('pg_ctl', ['-D', data, '-w', '-l', join(dir, 'server.log'), '-o',
    `-p ${port} -k ${dir} -c listen_addresses=127.0.0.1 -c fsync=off -c max_connections=300`, 'start']);
  start();
  return {
    url: `postgres://postgres@127.0.0.1:${port}/postgres`,
    port,
    pause() {
      run('pg_ctl', ['-D', data, '-m', 'fast', '-w', 'stop']);
    },
    resume() {
      start();
    },
    stop() {
      try { run('pg_ctl', ['-D', data, '-m', 'immediate', 'stop']); } catch { /* already gone */ }
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

let shared: Promise<string> | undefined;
let counter = 0;

/**
 * A fresh, empty database on the PostgreSQL of this test run (AGENTGATE_TEST_PG, started by scripts/test.ts), or on one
 * started for this process when a test file runs on its own. Each call creates a new database.
 */
export async function testPostgresDatabase(): Promise<string> {
  if (!shared) {
    const env = process.env.AGENTGATE_TEST_PG;
    shared = env
      ? Promise.resolve(env)
      : startPostgres().then((srv) => {
          process.once('exit', () => srv.stop());
          return srv.url;
        });
  }
  const base = new URL(await shared);
  const name = `t_${process.pid}_${++counter}_${Date.now().toString(36)}`;
  execFileSync('psql', [base.toString(), '-v', 'ON_ERROR_STOP=1', '-q', '-c', `CREATE DATABASE ${name}`], { stdio: 'pipe' });
  base.pathname = `/${name}`;
  return base.toString();
}
