// The test command (`npm test`): installs missing system programs, type-checks, starts a throwaway MariaDB and
// PostgreSQL, runs every test file with `node --test`, and stops what it started.
// `npm test -- FILE…` runs only those files.
import { spawn, spawnSync } from 'node:child_process';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import { makeCerts } from '../test/helpers/certs.ts';
import { startMariaDB } from '../test/helpers/mariadb.ts';
import { startPostgres } from '../test/helpers/postgres.ts';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
process.chdir(root);

function step(name: string, cmd: string, args: string[]): void {
  process.stderr.write(`\n== ${name}\n`);
  const r = spawnSync(cmd, args, { stdio: 'inherit' });
  if (r.status !== 0) {
    process.stderr.write(`\n${name} failed (exit ${r.status ?? r.signal})\n`);
    process.exit(1);
  }
}

step('system packages', 'bash', ['scripts/ensure-system.sh']);
step('type check', process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', 'tsconfig.json']);

const files = process.argv.slice(2);
const patterns = files.length ? files : ['src/**/*.test.ts', 'test/**/*.test.ts'];

const work = mkdtempSync(join(tmpdir(), 'agentgate-test-'));
const certs = makeCerts(join(work, 'certs'));
process.env.AGENTGATE_TEST_CERTS = certs.dir;
process.stderr.write('\n== starting a throwaway MariaDB and PostgreSQL\n');
const [maria, pg] = await Promise.all([startMariaDB(), startPostgres()]);
process.stderr.write(`MariaDB on 127.0.0.1:${maria.port}, PostgreSQL on 127.0.0.1:${pg.port}\n`);

const cleanup = () => {
  maria.killNow();
  pg.stop();
  rmSync(work, { recursive: true, force: true });
};
process.on('SIGINT', () => { cleanup(); process.exit(130); });
process.on('SIGTERM', () => { cleanup(); process.exit(143); });

process.stderr.write('\n== tests\n');
const child = spawn(process.execPath, ['--test', '--test-concurrency=2', '--test-timeout=600000', ...patterns], {
  stdio: 'inherit',
  env: {
    ...process.env,
    AGENTGATE_TEST_MARIADB: `127.0.0.1:${maria.port}`,
    AGENTGATE_TEST_PG: pg.url,
    AGENTGATE_TEST_CERTS: certs.dir,
  },
});
// A test file whose process never exits (a server left listening after a failure) would hold the run forever: the
// whole run gets an hour (it takes a few minutes), then fails loudly.
const WATCHDOG_MS = 60 * 60 * 1000;
const watchdog = setTimeout(() => {
  process.stderr.write(`\n== the tests did not finish within ${WATCHDOG_MS / 60000} minutes: stopping them\n`);
  child.kill('SIGKILL');
}, WATCHDOG_MS);
const code: number = await new Promise((resolve) => child.on('exit', (c, s) => resolve(c ?? (s ? 1 : 0))));
clearTimeout(watchdog);
await maria.stop();
pg.stop();
rmSync(work, { recursive: true, force: true });
process.exit(code);
