import { spawn, execFileSync, type ChildProcess } from 'node:child_process';
import { mkdtempSync, rmSync, existsSync } from 'node:fs';
import { createServer, connect } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * A throwaway MariaDB server on its own port and data directory (root without a password, loopback only), for the
 * demo when no server is running, and for the tests. `stop` ends it and removes its folder.
 */
export interface LocalMariaDB {
  host: string;
  port: number;
  dir: string;
  stop(): Promise<void>;
  /** Synchronous kill and clean-up, for process exit handlers. */
  killNow(): void;
  /** Lets this process exit while the server runs (the exit handler then kills it). */
  unref(): void;
}

export function mariadbInstalled(): boolean {
  return existsSync('/usr/sbin/mariadbd') || existsSync('/usr/bin/mariadbd');
}

/**
 * A loopback port nothing listens on, for a listener this process is about to start. The kernel may offer a port it
 * offered a moment ago (nothing listens there yet), so two picks for one configuration could collide: a port this
 * process already handed out is not handed out again.
 */
export async function freePort(): Promise<number> {
  for (let tries = 1; ; tries++) {
    const port = await unusedPort();
    if (handedOut.has(port) && tries < 50) continue;
    handedOut.add(port);
    if (handedOut.size > 4096) handedOut.delete(handedOut.values().next().value!);
    return port;
  }
}

const handedOut = new Set<number>();

/** A port nothing listens on right now (the kernel's pick for an ephemeral listener). */
function unusedPort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const srv = createServer();
    srv.on('error', reject);
    srv.listen(0, '127.0.0.1', () => {
      const addr = srv.address();
      const port = typeof addr === 'object' && addr ? addr.port : 0;
      srv.close(() => resolve(port));
    });
  });
}

/** Whether something accepts TCP connections on host:port. */
export function listening(host: string, port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const s = connect({ host, port });
    s.once('connect', () => {
      s.destroy();
      resolve(true);
    });
    s.once('error', () => resolve(false));
  });
}

export interface LocalMariaDBOptions {
  port?: number;
  /** TLS for the server (paths). */
  tls?: { ca: string; cert: string; key: string };
  extraArgs?: string[];
}

export async function startLocalMariaDB(opts: LocalMariaDBOptions = {}): Promise<LocalMariaDB> {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-mariadb-'));
  const dataDir = join(dir, 'data');
  const port = opts.port ?? (await freePort());
  const asRoot = process.getuid?.() === 0 ? ['--user=root'] : [];
  execFileSync('mariadb-install-db', ['--no-defaults', `--datadir=${dataDir}`, '--auth-root-authentication-method=normal',
    '--skip-test-db', ...asRoot], { stdio: 'pipe' });
  const args = [
    '--no-defaults', `--datadir=${dataDir}`, `--port=${port}`, '--bind-address=127.0.0.1',
    `--socket=${join(dir, 'mysqld.sock')}`, `--pid-file=${join(dir, 'mysqld.pid')}`, ...asRoot,
    '--innodb-buffer-pool-size=256M', '--innodb-log-file-size=128M', '--innodb-flush-log-at-trx-commit=2',
    '--skip-log-bin', '--max-connections=1000', '--max-allowed-packet=1G', '--local-infile=1',
    ...(opts.tls ? [`--ssl-ca=${opts.tls.ca}`, `--ssl-cert=${opts.tls.cert}`, `--ssl-key=${opts.tls.key}`] : []),
    `--log-error=${join(dir, 'error.log')}`, ...(opts.extraArgs ?? []),
  ];
  const child: ChildProcess = spawn('mariadbd', args, { stdio: 'ignore' });
  let exited = false;
  child.on('exit', () => {
    exited = true;
  });
  // Ready once a real login works (accepting TCP comes a little earlier).
  const deadline = Date.now() + 60_000;
  for (;;) {
    if (exited) throw new Error(`MariaDB did not start (see ${join(dir, 'error.log')})`);
    if (await listening('127.0.0.1', port)) {
      try {
        execFileSync('mariadb', ['-h127.0.0.1', `-P${port}`, '-uroot', '--skip-ssl', '-e', 'SELECT 1'], { stdio: 'pipe' });
        break;
      } catch {
        /* not ready yet */
      }
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`MariaDB on port ${port} did not become ready (see ${join(dir, 'error.log')})`);
    }
    await new Promise((r) => setTimeout(r, 100));
  }
  return {
    host: '127.0.0.1',
    port,
    dir,
    async stop() {
      if (!exited) {
        const done = new Promise((r) => child.once('exit', r));
        child.kill('SIGTERM');
        const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
        await done;
        clearTimeout(t);
      }
      rmSync(dir, { recursive: true, force: true });
    },
    killNow() {
      if (!exited) child.kill('SIGKILL');
      rmSync(dir, { recursive: true, force: true });
    },
    unref() {
      child.unref();
    },
  };
}
