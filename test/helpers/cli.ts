// Shared by the CLI integration tests (test/integration/cli-*.test.ts): a real gateway started in this process on
// the test MariaDB, and the `agentgate` command run as a child process against it.
import { spawn } from 'node:child_process';
import { generateKeyPairSync } from 'node:crypto';
import { existsSync, linkSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { loadConfig } from '../../src/config/index.ts';
import type { Config } from '../../src/config/types.ts';
import { Gateway } from '../../src/gateway/server.ts';
import { silentLogger } from '../../src/log.ts';
import { rootSql, testMariaDB } from './mariadb.ts';
import { freePort } from './ports.ts';

export const REPO = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
export const BIN = join(REPO, 'bin', 'agentgate.js');

export const TOKENS = {
  alice: 'alice-token-5b2e8f01c3d4', // dba: an approver
  bob: 'bob-token-9a7c6e5d4f3b', // dev: not an approver
  carol: 'carol-token-1f2e3d4c5b6a', // dba, and also the name of a service account
} as const;

export const SECRETS = {
  agent: 'agent-secret-7d1e4c9a',
  carol: 'carol-secret-2b8f6a1d',
  ci: 'ci-secret-6c3a9e2f',
} as const;

/** A 2048-bit key is enough for tests; the gateway would otherwise make an 8192-bit one on first start. */
export function rsaKeyFile(): string {
  const p = join(tmpdir(), 'agentgate-cli-test-rsa-2048.pem');
  if (!existsSync(p)) {
    const tmp = `${p}.${process.pid}`;
    writeFileSync(tmp, generateKeyPairSync('rsa', { modulusLength: 2048 }).privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    try {
      // Atomic: when another test process made the key meanwhile, its key stays.
      linkSync(tmp, p);
    } catch {
      // It exists already.
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return p;
}

let counter = 0;

export interface Upstream {
  host: string;
  port: number;
  user: string;
  password: string;
  database: string;
}

/** A fresh schema on the test MariaDB, and a user owning it: the gateway's vaulted credential. */
export async function upstreamAccount(): Promise<Upstream> {
  const srv = await testMariaDB();
  const n = `cli_${process.pid}_${++counter}`;
  const password = `Vaulted-${n}-Pw9`;
  rootSql(srv, [
    `DROP DATABASE IF EXISTS ${n}`,
    `CREATE DATABASE ${n}`,
    `DROP USER IF EXISTS '${n}'@'%'`,
    `CREATE USER '${n}'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('${password}')`,
    `GRANT ALL ON ${n}.* TO '${n}'@'%'`,
  ].join('; '));
  return { host: srv.host, port: srv.port, user: n, password, database: n };
}

export interface YamlParts {
  targetPort: number;
  apiPort: number;
  upstream: Upstream;
  dir: string;
  rsaKey: string;
}

/** The configuration of the CLI tests; `policies` replaces the default open policy. */
export function cliYaml(p: YamlParts, extra: { policies?: string; approvals?: string } = {}): string {
  return `
targets:
  - name: app
    listen: 127.0.0.1:${p.targetPort}
    upstream:
      host: ${p.upstream.host}
      port: ${p.upstream.port}
      user: ${p.upstream.user}
      password: \${UPSTREAM_PASSWORD}
      tls: disabled
identity:
  rsaKey: ${p.rsaKey}
  serviceAccounts:
    - { name: agent, secret: ${SECRETS.agent}, groups: [agents] }
    - { name: carol, secret: ${SECRETS.carol}, groups: [agents] }
    - { name: ci, secret: ${SECRETS.ci}, groups: [ci] }
  admins:
    - { name: alice, token: ${TOKENS.alice}, groups: [dba] }
    - { name: bob, token: ${TOKENS.bob}, groups: [dev] }
    - { name: carol, token: ${TOKENS.carol}, groups: [dba] }
audit:
  store: sqlite:${join(p.dir, 'audit.db')}
api:
  listen: 127.0.0.1:${p.apiPort}
approvals:
  approvers: [dba]
${extra.approvals ?? '  timeout: 60s'}
masking:
  hashKey: cli-test-hash-key-0123456789
policies:
${extra.policies ?? `  - name: open
    groups: [agents, ci]
    targets: ["*"]`}
`;
}

export interface CliGateway {
  gateway: Gateway;
  config: Config;
  configFile: string;
  dir: string;
  dbFile: string;
  upstream: Upstream;
  apiUrl: string;
  /** Where agents connect. */
  port: number;
  /** Environment a child needs to load the configuration in full. */
  env: Record<string, string>;
  /** A stock client logged in through the gateway as a service account. */
  connect(user?: keyof typeof SECRETS, opts?: Partial<mysql.ConnectionOptions>): Promise<mysql.Connection>;
  /** SQL as root on the upstream, past the gateway. */
  root(sql: string): string;
  stop(): Promise<void>;
}

export async function startCliGateway(opts: { policies?: string; approvals?: string } = {}): Promise<CliGateway> {
  const upstream = await upstreamAccount();
  const srv = await testMariaDB();
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-cli-'));
  const parts: YamlParts = { targetPort: await freePort(), apiPort: await freePort(), upstream, dir, rsaKey: rsaKeyFile() };
  const configFile = join(dir, 'agentgate.yaml');
  writeFileSync(configFile, cliYaml(parts, opts));
  const env = { UPSTREAM_PASSWORD: upstream.password };
  const config = loadConfig(configFile, env);
  const gateway = await Gateway.start(config, { log: silentLogger });
  return {
    gateway, config, configFile, dir, dbFile: join(dir, 'audit.db'), upstream, env,
    apiUrl: `http://127.0.0.1:${parts.apiPort}`,
    port: parts.targetPort,
    connect: (user = 'agent', o = {}) => mysql.createConnection({
      host: '127.0.0.1', port: parts.targetPort, user, password: SECRETS[user], database: upstream.database, ...o,
    }),
    root: (sql) => rootSql(srv, sql),
    async stop() {
      await gateway.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export interface CliRun {
  code: number | null;
  signal: NodeJS.Signals | null;
  stdout: string;
  stderr: string;
}

/**
 * `agentgate ARGS` in a child process (asynchronously: the gateway it talks to runs in this process). The
 * environment is minimal on purpose, so nothing leaks in from the test runner; `env` adds to it.
 */
export function cli(args: string[], env: Record<string, string | undefined> = {}, opts: { input?: string; timeoutMs?: number } = {}): Promise<CliRun> {
  return new Promise((resolve, reject) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: REPO,
      env: { PATH: process.env.PATH ?? '', HOME: process.env.HOME ?? '', ...env },
      stdio: ['pipe', 'pipe', 'pipe'],
    });
    let stdout = '';
    let stderr = '';
    child.stdout.setEncoding('utf8').on('data', (d: string) => { stdout += d; });
    child.stderr.setEncoding('utf8').on('data', (d: string) => { stderr += d; });
    const timer = setTimeout(() => {
      child.kill('SIGKILL');
      reject(new Error(`agentgate ${args.join(' ')} did not finish in ${opts.timeoutMs ?? 60_000} ms\nstdout: ${stdout}\nstderr: ${stderr}`));
    }, opts.timeoutMs ?? 60_000);
    child.on('error', reject);
    child.on('close', (code, signal) => {
      clearTimeout(timer);
      resolve({ code, signal, stdout, stderr });
    });
    child.stdin.end(opts.input ?? '');
  });
}

/** The JSON document a `--json` command printed (it must be exactly one). */
export function jsonOf<T = any>(r: CliRun): T {
  try {
    return JSON.parse(r.stdout) as T;
  } catch {
    throw new Error(`stdout is not one JSON document (exit ${r.code}):\n${r.stdout}\nstderr: ${r.stderr}`);
  }
}
