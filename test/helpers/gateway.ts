import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync, writeFileSync, copyFileSync, existsSync, mkdirSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, dirname } from 'node:path';
import { fileURLToPath } from 'node:url';
import mysql from 'mysql2/promise';
import { loadConfig } from '../../src/config/index.ts';
import { Gateway } from '../../src/gateway/server.ts';
import { silentLogger, createLogger } from '../../src/log.ts';
import { freePort } from './ports.ts';
import { testMariaDB, rootSql } from './mariadb.ts';
import { testCerts, type TestCerts } from './certs.ts';

const here = dirname(fileURLToPath(import.meta.url));

/**
 * A pre-made 8192-bit RSA key for the caching_sha2_password exchange, so tests do not spend seconds generating one
 * per gateway. Made once per machine in the temp folder (a key for tests only).
 */
export function testRsaKeyPath(): string {
  const p = join(tmpdir(), 'agentgate-test-rsa-8192.pem');
  if (!existsSync(p)) {
    const { privateKey } = generateKeyPairSync('rsa', { modulusLength: 8192 });
    const tmp = `${p}.${process.pid}`;
    writeFileSync(tmp, privateKey.export({ type: 'pkcs8', format: 'pem' }), { mode: 0o600 });
    try {
      copyFileSync(tmp, p);
    } finally {
      rmSync(tmp, { force: true });
    }
  }
  return p;
}

export interface UpstreamAccount {
  user: string;
  password: string;
  /** The schema created for this gateway's tests. */
  database: string;
  host: string;
  port: number;
}

let counter = 0;

/**
 * A fresh database and a `mysql_native_password` user on the test MariaDB, owning that database (and able to read
 * `mysql.seq_*` sequence tables), as the vaulted upstream credential of a test gateway.
 */
export async function upstreamAccount(prefix = 'gw'): Promise<UpstreamAccount> {
  const srv = await testMariaDB();
  const n = `${prefix}_${process.pid}_${++counter}`;
  const password = `pw-${n}-Secr3t`;
  rootSql(srv, [
    `DROP DATABASE IF EXISTS ${n}`,
    `CREATE DATABASE ${n} CHARACTER SET utf8mb4`,
    `DROP USER IF EXISTS '${n}'@'%'`,
    `CREATE USER '${n}'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('${password}')`,
    `GRANT ALL ON ${n}.* TO '${n}'@'%'`,
    `GRANT SELECT ON mysql.* TO '${n}'@'%'`,
    `GRANT PROCESS ON *.* TO '${n}'@'%'`,
  ].join('; '));
  return { user: n, password, database: n, host: srv.host, port: srv.port };
}

/** Runs statements, in order, on the account's database directly (not through a gateway): a test's setup. */
export async function upstreamSetup(u: UpstreamAccount, ...sql: string[]): Promise<void> {
  const c = await mysql.createConnection({ host: u.host, port: u.port, user: u.user, password: u.password, database: u.database });
  try {
    for (const s of sql) await c.query(s);
  } finally {
    await c.end();
  }
}

export interface TestGateway {
  gateway: Gateway;
  config: ReturnType<typeof loadConfig>;
  dir: string;
  configFile: string;
  upstream: UpstreamAccount;
  certs: TestCerts;
  /** Where agents connect for target `name` (default the first). */
  port(name?: string): number;
  apiUrl: string;
  adminToken: string;
  stop(): Promise<void>;
}

export interface ConfigParts {
  /** Ports to use: one per target name. */
  ports: Record<string, number>;
  apiPort: number;
  upstream: UpstreamAccount;
  certs: TestCerts;
  dir: string;
  rsaKey: string;
  adminToken: string;
}

/** The default test configuration: target `app`, service accounts `ci` (group ci) and `agent` (group agents). */
export function defaultYaml(p: ConfigParts, extra: { policies?: string; identity?: string; approvals?: string; audit?: string } = {}): string {
  return `
targets:
  - name: app
    listen: 127.0.0.1:${p.ports.app}
    upstream:
      host: ${p.upstream.host}
      port: ${p.upstream.port}
      user: ${p.upstream.user}
      password: \${UPSTREAM_PASSWORD}
      tls: disabled
tls:
  cert: ${p.certs.cert}
  key: ${p.certs.key}
identity:
  rsaKey: ${p.rsaKey}
${extra.identity ?? ''}
  serviceAccounts:
    - { name: ci, secret: ci-secret-0123456789, groups: [ci] }
    - { name: agent, secret: agent-secret-0123456789, groups: [agents] }
    - { name: dba-bot, secret: dba-secret-0123456789, groups: [dba] }
  admins:
    - { name: alice, token: ${p.adminToken}, groups: [dba] }
    - { name: bob, token: bob-token-0123456789abcdef, groups: [dev] }
    - { name: carol, token: carol-token-0123456789abcdef, groups: [dba] }
audit:
  store: sqlite:${join(p.dir, 'audit.db')}
${extra.audit ?? ''}
api:
  listen: 127.0.0.1:${p.apiPort}
approvals:
  approvers: [dba]
${extra.approvals ?? '  timeout: 30s'}
policies:
${extra.policies ?? `  - name: open
    groups: [ci, agents, dba]
    targets: ["*"]`}
`;
}

export interface StartOptions {
  yaml?: (p: ConfigParts) => string;
  /** Extra target names (each gets a port). */
  targets?: string[];
  env?: Record<string, string>;
  /** Log to stderr (debugging). */
  verbose?: boolean;
  upstream?: UpstreamAccount;
}

export interface WrittenConfig {
  dir: string;
  configFile: string;
  parts: ConfigParts;
  upstream: UpstreamAccount;
  /** Environment the config needs (the vaulted password). */
  env: Record<string, string>;
}

/** Writes a test configuration (and its folder) without starting anything: for gateways run as a child process. */
export async function writeTestConfig(opts: StartOptions = {}): Promise<WrittenConfig> {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-gw-'));
  mkdirSync(join(dir, '.agentgate'), { recursive: true });
  const upstream = opts.upstream ?? (await upstreamAccount());
  const names = ['app', ...(opts.targets ?? [])];
  const ports: Record<string, number> = {};
  for (const n of names) ports[n] = await freePort();
  const parts: ConfigParts = {
    ports,
    apiPort: await freePort(),
    upstream,
    certs: testCerts(),
    dir,
    rsaKey: testRsaKeyPath(),
    adminToken: 'alice-token-0123456789abcdef',
  };
  const yaml = (opts.yaml ?? ((p) => defaultYaml(p)))(parts);
  const configFile = join(dir, 'agentgate.yaml');
  writeFileSync(configFile, yaml);
  return { dir, configFile, parts, upstream, env: { UPSTREAM_PASSWORD: upstream.password, ...opts.env } };
}

/** Starts a real gateway in this process from a YAML config written to a temp folder. */
export async function startTestGateway(opts: StartOptions = {}): Promise<TestGateway> {
  const { dir, configFile, parts, upstream, env } = await writeTestConfig(opts);
  const ports = parts.ports;
  const config = loadConfig(configFile, env);
  const gateway = await Gateway.start(config, { log: opts.verbose ? createLogger('debug') : silentLogger });
  return {
    gateway,
    config,
    dir,
    configFile,
    upstream,
    certs: parts.certs,
    port: (name = 'app') => ports[name]!,
    apiUrl: `http://127.0.0.1:${parts.apiPort}`,
    adminToken: parts.adminToken,
    async stop() {
      await gateway.stop();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

export const repoRoot = join(here, '..', '..');
