import type { Command } from 'commander';
import { randomBytes } from 'node:crypto';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import mysql from 'mysql2/promise';
import type { Gateway } from '../gateway/server.ts';
import { loadConfig } from '../config/index.ts';
import { presentEvent, presentSession } from '../audit/present.ts';
import { createLogger, silentLogger } from '../log.ts';
import { failed } from './errors.ts';
import { freePort, listening, mariadbInstalled, startLocalMariaDB, type LocalMariaDB } from './local-mariadb.ts';
import { replaySession } from './replay.ts';
import { out, table, cell } from './output.ts';

/**
 * `agentgate demo`: the one-command tour on the embedded default. It creates a demo schema on a MariaDB or MySQL
 * server (127.0.0.1:3306 as root without a password, DEMO_MYSQL_URL, or a throwaway MariaDB it starts itself when
 * none runs and one is installed), runs the gateway with the SQLite store in ./.agentgate/demo, prints how to
 * connect a stock client, plays a short agent session (a masked read, a denied statement, an approval), replays it,
 * and keeps serving until Ctrl-C (`--once` exits after the tour).
 */
export function registerDemo(program: Command): void {
  program
    .command('demo')
    .description('the one-command tour: a demo schema, a running gateway, a scripted agent session and its replay')
    .option('--once', 'exit after the tour instead of serving until Ctrl-C')
    .option('--port <port>', 'where agents connect (default 3307, or a free port if taken)')
    .option('--api-port <port>', 'where the HTTP API listens (default 8080, or a free port if taken)')
    .option('--dir <dir>', 'where the demo keeps its configuration, keys and audit store', '.agentgate/demo')
    .addHelpText('after', `
The upstream server is DEMO_MYSQL_URL (mysql://user:password@host:port), else 127.0.0.1:3306 as root without a
password; when nothing listens there and MariaDB is installed, the demo starts a throwaway server of its own.`)
    .action(async (o: { once?: boolean; port?: string; apiPort?: string; dir: string }) => {
      await runDemo(o);
    });
}

interface Upstream {
  host: string;
  port: number;
  user: string;
  password: string;
  local: LocalMariaDB | null;
}

async function findUpstream(): Promise<Upstream> {
  const url = process.env.DEMO_MYSQL_URL;
  if (url) {
    const u = new URL(url);
    return { host: u.hostname, port: Number(u.port || 3306), user: decodeURIComponent(u.username || 'root'), password: decodeURIComponent(u.password), local: null };
  }
  if (await listening('127.0.0.1', 3306)) return { host: '127.0.0.1', port: 3306, user: 'root', password: '', local: null };
  if (!mariadbInstalled()) {
    throw failed('no MariaDB or MySQL server at 127.0.0.1:3306 and none installed: install one (apt-get install mariadb-server) or set DEMO_MYSQL_URL');
  }
  out('No server at 127.0.0.1:3306: starting a throwaway MariaDB for the demo…');
  const local = await startLocalMariaDB();
  return { host: local.host, port: local.port, user: 'root', password: '', local };
}

async function pickPort(wanted: string | undefined, preferred: number): Promise<number> {
  if (wanted) return Number(wanted);
  return (await listening('127.0.0.1', preferred)) ? freePort() : preferred;
}

const SCHEMA = [
  'CREATE DATABASE IF NOT EXISTS agentgate_demo CHARACTER SET utf8mb4',
  'DROP TABLE IF EXISTS agentgate_demo.customers, agentgate_demo.payments, agentgate_demo.scratch',
  `CREATE TABLE agentgate_demo.customers (
     id INT PRIMARY KEY, name VARCHAR(60), email VARCHAR(100), ssn CHAR(11), card VARCHAR(25), city VARCHAR(40))`,
  `INSERT INTO agentgate_demo.customers VALUES
     (1, 'Ada Lovelace', 'ada@example.com', '123-45-6789', '4111 1111 1111 1111', 'London'),
     (2, 'Grace Hopper', 'grace@example.org', '234-56-7890', '5555 5555 5555 4444', 'Arlington'),
     (3, 'Alan Turing', 'alan@example.net', '345-67-8901', '3782 822463 10005', 'Wilmslow')`,
  `CREATE TABLE agentgate_demo.payments (
     id INT PRIMARY KEY, customer_id INT, amount DECIMAL(10,2), status VARCHAR(20))`,
  `INSERT INTO agentgate_demo.payments VALUES (1, 1, 120.00, 'paid'), (2, 2, 75.50, 'paid'), (3, 3, 9.99, 'pending')`,
  'CREATE TABLE agentgate_demo.scratch (id INT PRIMARY KEY, note VARCHAR(100))',
];

function demoYaml(p: { port: number; apiPort: number; upstream: Upstream; dir: string }): string {
  return `# The demo's configuration, written by \`agentgate demo\`. The vaulted credential comes from the environment.
targets:
  - name: demo
    listen: 127.0.0.1:${p.port}
    upstream:
      host: ${p.upstream.host}
      port: ${p.upstream.port}
      user: agentgate_demo
      password: \${AGENTGATE_DEMO_DB_PASSWORD}
      tls: disabled
identity:
  serviceAccounts:
    - name: demo-agent
      secret: \${AGENTGATE_DEMO_AGENT_SECRET}
      groups: [agents]
  admins:
    - name: demo-approver
      token: \${AGENTGATE_DEMO_ADMIN_TOKEN}
      groups: [dba]
audit:
  store: sqlite:${join(p.dir, 'audit.db')}
  captureRows: 1000
api:
  listen: 127.0.0.1:${p.apiPort}
approvals:
  approvers: [dba]
  timeout: 120s
policies:
  - name: agents
    groups: [agents]
    targets: [demo]
    guardrails: recommended
    rules:
      - name: no-unbounded-writes
        unboundedWrite: true
        action: deny
      - name: payments-changes-need-approval
        kinds: [update, delete]
        tables: [agentgate_demo.payments]
        action: approve
    masking:
      - columns: [agentgate_demo.customers.ssn]
        style: redact
      - columns: [agentgate_demo.customers.email]
        style: partial
      - detect: [credit_card]
        style: partial
`;
}

async function runDemo(o: { once?: boolean; port?: string; apiPort?: string; dir: string }): Promise<void> {
  const up = await findUpstream();
  const cleanup: (() => Promise<void>)[] = [];
  if (up.local) cleanup.push(() => up.local!.stop());
  let gateway: Gateway | null = null;
  try {
    // The demo schema and the gateway's own account on the server: the credential agents never see.
    const dbPassword = randomBytes(18).toString('base64url');
    const root = await mysql.createConnection({ host: up.host, port: up.port, user: up.user, password: up.password, multipleStatements: false });
    for (const s of SCHEMA) await root.query(s);
    await root.query("CREATE USER IF NOT EXISTS 'agentgate_demo'@'%' IDENTIFIED BY ?", [dbPassword]);
    await root.query("ALTER USER 'agentgate_demo'@'%' IDENTIFIED BY ?", [dbPassword]);
    await root.query("GRANT SELECT, INSERT, UPDATE, DELETE, CREATE, DROP, ALTER, INDEX ON agentgate_demo.* TO 'agentgate_demo'@'%'");
    await root.end();

    const dir = resolve(o.dir);
    mkdirSync(dir, { recursive: true, mode: 0o700 });
    const port = await pickPort(o.port, 3307);
    const apiPort = await pickPort(o.apiPort, 8080);
    const configFile = join(dir, 'agentgate.yaml');
    writeFileSync(configFile, demoYaml({ port, apiPort, upstream: up, dir }));
    const agentSecret = `demo-${randomBytes(12).toString('base64url')}`;
    const adminToken = `demo-admin-${randomBytes(16).toString('base64url')}`;
    const env = { AGENTGATE_DEMO_DB_PASSWORD: dbPassword, AGENTGATE_DEMO_AGENT_SECRET: agentSecret, AGENTGATE_DEMO_ADMIN_TOKEN: adminToken };
    const config = loadConfig(configFile, { ...process.env, ...env });
    const { Gateway } = await import('../gateway/server.ts');
    gateway = await Gateway.start(config, { log: o.once ? silentLogger : createLogger('warn') });
    const g = gateway;
    const api = `http://127.0.0.1:${g.api.port()}`;

    out('');
    out(`agentgate is running on the demo target: agents connect to 127.0.0.1:${port}; the API is ${api}.`);
    out(`Upstream ${up.host}:${up.port} as "agentgate_demo", a credential only the gateway holds.`);
    out('');
    out('Connect a stock client as the demo agent (its own secret, not the database password):');
    out(`  mariadb -h127.0.0.1 -P${port} -udemo-agent -p'${agentSecret}' --skip-ssl agentgate_demo`);
    out('Look at what was recorded, as the demo approver:');
    out(`  export AGENTGATE_TOKEN='${adminToken}'`);
    out(`  npx agentgate sessions list --api ${api}`);
    out(`  npx agentgate approvals list --api ${api}`);
    out(`Configuration: ${configFile}`);
    out('');

    const sessionId = await playAgent(g, port, agentSecret);
    out('');
    out('The session as recorded, replayed (npx agentgate sessions replay ID):');
    out('');
    const s = await g.store.getSession(sessionId);
    if (s) {
      const p = presentSession(s);
      await replaySession({ ...p, events: s.events.map(presentEvent) }, { speed: 1, wait: false, maxPause: 0, maxRows: 10 });
    }
    out('');
    if (o.once) return;
    out(`Serving until Ctrl-C (agents: 127.0.0.1:${port}, API: ${api}).`);
    await new Promise<void>((resolveStop) => {
      const stop = () => resolveStop();
      process.once('SIGINT', stop);
      process.once('SIGTERM', stop);
    });
    out('Stopping…');
  } finally {
    if (gateway) await gateway.stop();
    for (const c of cleanup) await c();
  }
}

/** The scripted agent: a stock client (mysql2) through the gateway. Returns its session id. */
async function playAgent(g: Gateway, port: number, secret: string): Promise<string> {
  const agent = await mysql.createConnection({ host: '127.0.0.1', port, user: 'demo-agent', password: secret, database: 'agentgate_demo' });
  const step = (n: number, text: string) => out(`${n}. ${text}`);

  step(1, 'The agent reads customers: ssn and email are masked by column, card numbers by content.');
  const [rows] = (await agent.query('SELECT id, name, email, ssn, card FROM customers ORDER BY id')) as unknown as [Record<string, unknown>[]];
  out(table(['id', 'name', 'email', 'ssn', 'card'], rows.map((r) => [String(r.id), String(r.name), cell(r.email as string), cell(r.ssn as string), cell(r.card as string)])));
  out('');

  step(2, 'The agent tries to empty the payments table: denied by policy.');
  try {
    await agent.query('DELETE FROM payments');
    out('   (unexpectedly allowed)');
  } catch (e) {
    out(`   ERROR ${(e as { errno?: number }).errno}: ${(e as Error).message}`);
  }
  out('');

  step(3, 'The agent refunds one payment: the statement waits for a human; the demo approver approves it.');
  const waiting = agent.query("UPDATE payments SET status = 'refunded' WHERE id = 2");
  let approvalId = '';
  for (let i = 0; i < 100 && !approvalId; i++) {
    const pending = await g.store.listApprovals({ status: 'pending' });
    const mine = pending.find((a) => a.identity.subject === 'demo-agent');
    if (mine) approvalId = mine.id;
    else await new Promise((r) => setTimeout(r, 50));
  }
  if (!approvalId) throw failed('the approval request did not appear');
  out(`   approval ${approvalId} is pending (npx agentgate approvals approve ${approvalId} would do the same)`);
  await g.approvals.decide(approvalId, { name: 'demo-approver', groups: ['dba'] }, 'approve', 'refund confirmed with the customer');
  const [res] = (await waiting) as unknown as [{ affectedRows: number }];
  out(`   approved by demo-approver; the agent's UPDATE completed: ${res.affectedRows} row changed`);
  out('');

  step(4, 'The agent tries to guess a masked value with a WHERE clause: refused, masking is not an oracle.');
  try {
    await agent.query("SELECT id FROM customers WHERE ssn LIKE '123%'");
    out('   (unexpectedly allowed)');
  } catch (e) {
    out(`   ERROR ${(e as { errno?: number }).errno}: ${(e as Error).message}`);
  }
  await agent.end();
  // The session is closed (its disconnect recorded) a moment after the client quits.
  for (let i = 0; ; i++) {
    const [s] = await g.store.listSessions({ subject: 'demo-agent', limit: 1 });
    if (s && (s.endedAt || i >= 40)) return s.id;
    await new Promise((r) => setTimeout(r, 50));
  }
}
