// The benchmark's world: a throwaway MariaDB with the sysbench tables and a 1M-row table, an OIDC issuer, the bare
// relay and agentgate, each as its own process. Everything lives in one temporary folder removed at the end.
import { spawn, execFile, type ChildProcess } from 'node:child_process';
import { closeSync, mkdirSync, mkdtempSync, openSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { promisify } from 'node:util';
import mysql from 'mysql2/promise';
import { freePort, listening, startLocalMariaDB, type LocalMariaDB } from '../../src/cli/local-mariadb.ts';
import { makeCerts, type TestCerts } from '../../test/helpers/certs.ts';
import { testRsaKeyPath } from '../../test/helpers/gateway.ts';
import { startTestIssuer, type TestIssuer } from '../../test/helpers/oidc.ts';
import type { Endpoint } from './client.ts';
import { sleep } from './stats.ts';

const run = promisify(execFile);
export const repoRoot = join(dirname(fileURLToPath(import.meta.url)), '..', '..');

export type Path = 'direct' | 'relay' | 'agentgate';
export const PATHS: readonly Path[] = ['direct', 'relay', 'agentgate'];

/** Sizes of the data each run creates. */
export interface DataSize {
  tables: number;
  tableSize: number;
  streamRows: number;
}

export interface Proc {
  name: string;
  pid: number;
  port: number;
  logFile: string;
  /** SIGTERM, then SIGKILL after 20 s. */
  stop(): Promise<void>;
  readonly exited: boolean;
}

/** Starts `node <args>` (the Node running this script) with its output in `logFile`; ready once `port` accepts. */
export async function spawnNode(name: string, args: string[], o: { port: number; logFile: string; env?: Record<string, string>; cwd?: string }): Promise<Proc> {
  const fd = openSync(o.logFile, 'a');
  const child: ChildProcess = spawn(process.execPath, args, { cwd: o.cwd ?? repoRoot, env: { ...process.env, ...o.env }, stdio: ['ignore', fd, fd] });
  closeSync(fd);
  let exited = false;
  const gone = new Promise<void>((r) => child.once('exit', () => {
    exited = true;
    r();
  }));
  const deadline = Date.now() + 60_000;
  while (!(await listening('127.0.0.1', o.port))) {
    if (exited || Date.now() > deadline) {
      child.kill('SIGKILL');
      throw new Error(`${name} did not start; its log (${o.logFile}):\n${readFileSync(o.logFile, 'utf8').slice(-3000)}`);
    }
    await sleep(50);
  }
  return {
    name,
    pid: child.pid!,
    port: o.port,
    logFile: o.logFile,
    get exited() {
      return exited;
    },
    async stop() {
      if (exited) return;
      child.kill('SIGTERM');
      const t = setTimeout(() => child.kill('SIGKILL'), 20_000);
      await gone;
      clearTimeout(t);
    },
  };
}

export type GatewayKind = 'agentgate' | 'nostore';

export interface GatewayOptions {
  kind?: GatewayKind;
  /** Extra flags for node (e.g. --cpu-prof). */
  nodeFlags?: string[];
  /** Run the gateway of another checkout (its bin/ and src/), e.g. to compare a change with main in one run. */
  root?: string;
}

const SERVICE_ACCOUNT = { user: 'bench-agent', password: 'bench-agent-secret-0123456789' };
const DB_ACCOUNT = { user: 'bench', password: 'bench-db-pw-0123456789' };

export class BenchEnv {
  readonly dir: string;
  readonly db: LocalMariaDB;
  readonly certs: TestCerts;
  readonly idp: TestIssuer;
  readonly size: DataSize;
  /** A JWT of the test issuer for subject `agent-jwt` in group `agents`, valid for 12 hours. */
  jwt = '';
  relay: Proc | null = null;
  gateway: Proc | null = null;
  gatewayKind: GatewayKind = 'agentgate';
  /** The checkout whose gateway runs when startGateway is given no root (default: this one). */
  gatewayRoot: string | undefined = undefined;
  /** Flags for the gateway's node, before those a startGateway call adds (e.g. --use-largepages=on). */
  gatewayNodeFlags: string[] = [];
  private gatewayDir: string | null = null;
  private gateways = 0;

  private constructor(dir: string, db: LocalMariaDB, certs: TestCerts, idp: TestIssuer, size: DataSize) {
    this.dir = dir;
    this.db = db;
    this.certs = certs;
    this.idp = idp;
    this.size = size;
  }

  static async start(size: DataSize, log: (s: string) => void): Promise<BenchEnv> {
    const dir = mkdtempSync(join(tmpdir(), 'agentgate-bench-'));
    const certs = makeCerts(join(dir, 'certs'));
    log('starting MariaDB…');
    const db = await startLocalMariaDB({
      tls: { ca: certs.ca, cert: certs.cert, key: certs.key },
      // Room for 2,000 clients through the gateway (each also opens an upstream connection) and the whole data set
      // in memory; the rest as the shared launcher sets it (flush-log-at-trx-commit=2, no binlog).
      extraArgs: ['--max-connections=3000', '--innodb-buffer-pool-size=1G', '--thread-cache-size=256', '--open-files-limit=20000'],
    });
    const idp = await startTestIssuer({ audience: 'agentgate' });
    const env = new BenchEnv(dir, db, certs, idp, size);
    env.jwt = await idp.sign({ sub: 'agent-jwt', groups: ['agents'] }, { expiresIn: 12 * 3600 });
    testRsaKeyPath(); // made once per machine (8192 bits, the size the gateway makes for itself)
    await env.createData(log);
    return env;
  }

  private async createData(log: (s: string) => void): Promise<void> {
    const root = await mysql.createConnection({ host: this.db.host, port: this.db.port, user: 'root', multipleStatements: true });
    await root.query(`
      CREATE DATABASE sbtest; CREATE DATABASE bench CHARACTER SET utf8mb4;
      CREATE USER '${DB_ACCOUNT.user}'@'%' IDENTIFIED VIA mysql_native_password USING PASSWORD('${DB_ACCOUNT.password}');
      GRANT ALL ON sbtest.* TO '${DB_ACCOUNT.user}'@'%'; GRANT ALL ON bench.* TO '${DB_ACCOUNT.user}'@'%';
      CREATE TABLE bench.people (id INT PRIMARY KEY, name VARCHAR(40), email VARCHAR(60), ssn CHAR(11), city VARCHAR(20),
        note VARCHAR(60)) ENGINE=InnoDB;`);
    log(`creating ${this.size.streamRows.toLocaleString('en-US')} rows of bench.people…`);
    // About 100 bytes per row on the wire; the ssn column is the one masked by name.
    await root.query(`INSERT INTO bench.people
      SELECT seq, CONCAT('Person ', seq), CONCAT('user', seq, '@example.com'),
             CONCAT(LPAD(100 + seq % 800, 3, '0'), '-', LPAD(10 + seq % 89, 2, '0'), '-', LPAD(seq % 10000, 4, '0')),
             ELT(1 + seq % 5, 'Lisbon', 'Osaka', 'Toronto', 'Nairobi', 'Lyon'),
             CONCAT('Customer since ', 2000 + seq % 25, ', prefers email; account ref ', seq * 7)
      FROM bench.seq_1_to_${this.size.streamRows}`);
    await root.end();
    log(`sysbench prepare: ${this.size.tables} tables of ${this.size.tableSize.toLocaleString('en-US')} rows…`);
    await run('sysbench', ['oltp_read_write', ...this.sysbenchConnArgs('direct'), `--tables=${this.size.tables}`,
      `--table-size=${this.size.tableSize}`, `--threads=${Math.min(4, this.size.tables)}`, 'prepare'], { maxBuffer: 64 << 20 });
  }

  /** sysbench's connection options for a path (the same client, options and prepared statements on every path). */
  sysbenchConnArgs(path: Path): string[] {
    const e = this.endpoint(path);
    return [`--mysql-host=${e.host}`, `--mysql-port=${e.port}`, `--mysql-user=${e.user}`, `--mysql-password=${e.password}`,
      '--mysql-db=sbtest', '--mysql-ssl=off'];
  }

  /** Where a client connects for a path, with the credential it uses there. */
  endpoint(path: Path): Endpoint {
    if (path === 'direct') return { host: this.db.host, port: this.db.port, ...DB_ACCOUNT };
    if (path === 'relay') return { host: '127.0.0.1', port: this.relay!.port, ...DB_ACCOUNT };
    return { host: '127.0.0.1', port: this.gateway!.port, ...SERVICE_ACCOUNT };
  }

  /** The agentgate endpoint with the JWT as password (the user name is the token's subject). */
  jwtEndpoint(): Endpoint {
    return { host: '127.0.0.1', port: this.gateway!.port, user: 'agent-jwt', password: this.jwt };
  }

  /** The process behind a path (null for direct). */
  proc(path: Path): Proc | null {
    return path === 'relay' ? this.relay : path === 'agentgate' ? this.gateway : null;
  }

  /** mariadbd's pid (from its pid file). */
  get dbPid(): number {
    return Number(readFileSync(join(this.db.dir, 'mysqld.pid'), 'utf8').trim());
  }

  async startRelay(): Promise<Proc> {
    await this.relay?.stop();
    const port = await freePort();
    this.relay = await spawnNode('relay', ['bench/relay.ts', '--to', `${this.db.host}:${this.db.port}`, '--port', String(port)],
      { port, logFile: join(this.dir, 'relay.log') });
    return this.relay;
  }

  /**
   * (Re)starts agentgate as its own process, with a fresh folder and audit store: `serve` as shipped, or `nostore`
   * (bench/gateway-nostore.ts: the same gateway whose store accepts statement events without writing them).
   */
  async startGateway(o: GatewayOptions = {}): Promise<Proc> {
    await this.stopGateway();
    const kind = o.kind ?? 'agentgate';
    const n = ++this.gateways;
    const dir = join(this.dir, `gateway-${n}`);
    mkdirSync(dir, { recursive: true });
    const port = await freePort();
    const apiPort = await freePort();
    const configFile = join(dir, 'agentgate.yaml');
    writeFileSync(configFile, this.gatewayYaml(dir, port, apiPort));
    // The no-store gateway does not start through bin/agentgate.js: give it the launcher's young-generation cap.
    const script = kind === 'agentgate'
      ? ['bin/agentgate.js', 'serve', '--config', configFile]
      : ['--max-semi-space-size=8', 'bench/gateway-nostore.ts', '--config', configFile];
    this.gateway = await spawnNode(kind, [...this.gatewayNodeFlags, ...(o.nodeFlags ?? []), ...script], {
      port, cwd: o.root ?? this.gatewayRoot ?? repoRoot, logFile: join(dir, 'gateway.log'), env: { BENCH_DB_PASSWORD: DB_ACCOUNT.password, BENCH_AGENT_SECRET: SERVICE_ACCOUNT.password },
    });
    this.gatewayDir = dir;
    this.gatewayKind = kind;
    return this.gateway;
  }

  get gatewayFolder(): string | null {
    return this.gatewayDir;
  }

  async stopGateway(keepFiles = false): Promise<void> {
    await this.gateway?.stop();
    this.gateway = null;
    if (this.gatewayDir && !keepFiles) rmSync(this.gatewayDir, { recursive: true, force: true });
    this.gatewayDir = null;
  }

  /**
   * A realistic policy: agents through one target, the recommended guardrails, a few rules of the kind a team writes
   * (no DDL, no unbounded writes, approval for deleting customers), masking of one column by name and a content
   * detector on every value. Recording with the store's defaults (SQLite in WAL, group commit, 1,000 rows kept per
   * result), client TLS available, JWT logins from the test issuer.
   */
  gatewayYaml(dir: string, port: number, apiPort: number): string {
    return `# Written by bench/run.ts
targets:
  - name: bench
    listen: 127.0.0.1:${port}
    upstream:
      host: ${this.db.host}
      port: ${this.db.port}
      user: ${DB_ACCOUNT.user}
      password: \${BENCH_DB_PASSWORD}
      tls: disabled
tls:
  cert: ${this.certs.cert}
  key: ${this.certs.key}
identity:
  rsaKey: ${testRsaKeyPath()}
  oidc:
    - { issuer: "${this.idp.issuer}", audience: agentgate, jwksUri: "${this.idp.jwksUri}" }
  serviceAccounts:
    - { name: ${SERVICE_ACCOUNT.user}, secret: "\${BENCH_AGENT_SECRET}", groups: [agents] }
  admins:
    - { name: bench-admin, token: bench-admin-token-0123456789abcdef, groups: [dba] }
audit:
  store: sqlite:${join(dir, 'audit.db')}
  captureRows: 1000
api:
  listen: 127.0.0.1:${apiPort}
approvals:
  approvers: [dba]
  timeout: 60s
policies:
  - name: agents
    groups: [agents]
    targets: [bench]
    guardrails: recommended
    rules:
      - name: no-schema-changes
        kinds: [create, alter, drop, truncate, rename]
        action: deny
      - name: no-unbounded-writes
        unboundedWrite: true
        action: deny
      - name: customer-deletes-need-approval
        kinds: [delete]
        tables: [bench.people]
        action: approve
    masking:
      - columns: [bench.people.ssn]
        style: partial
      - detect: [credit_card]
        style: partial
`;
  }

  async stop(): Promise<void> {
    await this.stopGateway().catch(() => {});
    await this.relay?.stop().catch(() => {});
    await this.idp.close().catch(() => {});
    await this.db.stop().catch(() => {});
    rmSync(this.dir, { recursive: true, force: true });
  }

  /** Synchronous clean-up for an interrupted run. */
  killNow(): void {
    for (const p of [this.gateway, this.relay]) if (p && !p.exited) try { process.kill(p.pid, 'SIGKILL'); } catch { /* gone */ }
    this.db.killNow();
    rmSync(this.dir, { recursive: true, force: true });
  }
}
