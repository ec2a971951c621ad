// Shared by the API tests: a configuration full of recognisable secrets, a real SQLite audit store filled through
// its own write API, and the dependencies the app is built from.
import { generateKeyPairSync } from 'node:crypto';
import { mkdtempSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { openAuditStore } from '../../src/audit/index.ts';
import type { Approval, AuditStore, ColumnInfo, NewEvent } from '../../src/audit/types.ts';
import { parseConfig } from '../../src/config/index.ts';
import type { Config } from '../../src/config/types.ts';
import { ApprovalService } from '../../src/gateway/approvals.ts';
import { Metrics } from '../../src/gateway/metrics.ts';
import { createIdentityVerifier } from '../../src/identity/index.ts';
import { silentLogger } from '../../src/log.ts';
import { createPolicyEngine } from '../../src/policy/index.ts';
import { buildApp, type ApiDeps, type ApiOptions } from '../../src/api/index.ts';
import type { FastifyInstance } from 'fastify';
import { binaryRow, column, textRow } from './audit.ts';

/** Every secret the configuration holds: none of them may ever appear in an answer. */
export const SECRETS = {
  upstreamPassword: 'UpstreamVaulted-9f3c1a7e',
  serviceSecret: 'ServiceSecret-4d2b8e61',
  aliceToken: 'alice-admin-token-71c0e5d2',
  bobToken: 'bob-admin-token-0a9d3f44',
  carolToken: 'carol-admin-token-e3b7c918',
  hashKey: 'MaskingHashKey-5f1e2d3c4b',
} as const;

export const CONFIG_YAML = `
targets:
  - name: app
    listen: 127.0.0.1:3307
    upstream: { host: 127.0.0.1, user: gw_app, password: "\${UPSTREAM_PW}", tls: disabled }
identity:
  serviceAccounts:
    - { name: agent, secret: "\${AGENT_SECRET}", groups: [agents] }
  admins:
    - { name: alice, token: "\${ALICE_TOKEN}", groups: [dba] }
    - { name: bob, token: "\${BOB_TOKEN}", groups: [dev] }
    - { name: carol, token: "\${CAROL_TOKEN}", groups: [dba] }
api:
  listen: 127.0.0.1:18080
approvals:
  approvers: [dba]
masking:
  hashKey: "\${HASH_KEY}"
policies:
  - name: agents
    groups: [agents]
    targets: ["*"]
    rules:
      - { kinds: [drop], action: approve }
`;

export function testConfig(dir: string): Config {
  return parseConfig(CONFIG_YAML, join(dir, 'agentgate.yaml'), {
    UPSTREAM_PW: SECRETS.upstreamPassword,
    AGENT_SECRET: SECRETS.serviceSecret,
    ALICE_TOKEN: SECRETS.aliceToken,
    BOB_TOKEN: SECRETS.bobToken,
    CAROL_TOKEN: SECRETS.carolToken,
    HASH_KEY: SECRETS.hashKey,
  });
}

const col = (name: string, type: number, masked: ColumnInfo['masked'] = null): ColumnInfo => column(name, type, { db: 'shop', masked });

export const USERS = [col('id', 3), col('email', 253, 'partial'), col('name', 253)];

const minutesAgo = (m: number, base = Date.now()) => new Date(base - m * 60_000).toISOString();

export interface Filled {
  /** Session ids: oldest first. */
  ids: { old: string; denied: string; recent: string };
  /** Approvals: requested by agent, and one requested by alice herself. */
  approvals: { byAgent: Approval; byAlice: Approval; other: Approval };
}

/**
 * A pending request held by another gateway instance: the approval service expires its own instance's pending
 * requests when it starts (their statements died with the previous process), and these must stay pending.
 */
export function approval(id: string, subject: string, over: Partial<Approval> = {}): Approval {
  const now = Date.now();
  return {
    id, sessionId: 's-recent', target: 'app', identity: { subject, groups: ['agents'], via: 'service_account' },
    sql: 'DROP TABLE shop.tmp', kinds: ['drop'], fingerprint: 'DROP TABLE shop.tmp', policy: 'agents', rule: '#1',
    status: 'pending', mode: 'hold', minApprovals: 1, votes: [], createdAt: new Date(now).toISOString(),
    expiresAt: new Date(now + 600_000).toISOString(), decidedAt: null, decidedBy: null, reason: null, instanceId: 'gw-elsewhere',
    ...over,
  };
}

/** Three sessions (two of agent, one of ci) and three approvals, written as the gateway writes them. */
export async function fill(store: AuditStore): Promise<Filled> {
  const ids = { old: 's-old', denied: 's-denied', recent: 's-recent' };
  const start = (id: string, subject: string, groups: string[], ago: number) => store.openSession({
    id, target: 'app', identity: { subject, groups, via: 'service_account' }, client: '127.0.0.1:50000', tls: false,
    startedAt: minutesAgo(ago), instanceId: 'api-test', policy: 'agents',
  });
  const ev = (sessionId: string, seq: number, ago: number, f: Partial<NewEvent>): NewEvent => ({ sessionId, seq, at: minutesAgo(ago), type: 'query', ...f });
  const allow = { action: 'allow' as const, policy: 'agents', rule: null };

  await start(ids.old, 'agent', ['agents'], 3 * 24 * 60);
  await store.append(ev(ids.old, 1, 3 * 24 * 60, { type: 'connect', db: 'shop', detail: { via: 'service_account' } }));
  await store.append(ev(ids.old, 2, 3 * 24 * 60 - 1, {
    sql: 'SELECT id, email, name FROM shop.users', kinds: ['select'], decision: allow, durationMs: 1.5,
    result: { columns: USERS, rows: { format: 'text', payloads: [textRow(['1', 'a****@example.com', 'Ann']), textRow(['2', 'b****@example.com', null])] }, rowCount: 2 },
  }));
  await store.append(ev(ids.old, 3, 3 * 24 * 60 - 2, { type: 'disconnect', detail: { cause: 'quit' } }));
  await store.closeSession(ids.old, minutesAgo(3 * 24 * 60 - 2), 'quit');

  await start(ids.denied, 'ci', ['ci'], 60);
  await store.append(ev(ids.denied, 1, 60, { type: 'connect', detail: { via: 'service_account' } }));
  await store.append(ev(ids.denied, 2, 59, {
    sql: 'DELETE FROM shop.users', kinds: ['delete'], decision: { action: 'deny', policy: 'agents', rule: '#2', reason: 'unbounded write' },
    result: { error: { code: 1227, sqlState: '42000', message: 'agentgate: denied by policy: unbounded write' } }, durationMs: 0.2,
  }));
  await store.closeSession(ids.denied, minutesAgo(58), 'quit');

  await start(ids.recent, 'agent', ['agents'], 5);
  await store.append(ev(ids.recent, 1, 5, { type: 'connect', detail: { via: 'service_account' } }));
  await store.append(ev(ids.recent, 2, 4, { type: 'prepare', sql: 'SELECT id, name FROM shop.users WHERE id = ?', kinds: ['select'], decision: allow, stmtId: 1 }));
  await store.append(ev(ids.recent, 3, 4, {
    type: 'execute', stmtId: 1, sql: 'SELECT id, name FROM shop.users WHERE id = ?', params: [{ type: 'LONGLONG', value: 7 }],
    kinds: ['select'], decision: allow, durationMs: 0.9,
    result: { columns: [USERS[0]!, USERS[2]!], rows: { format: 'binary', payloads: [binaryRow([USERS[0]!, USERS[2]!], [7, 'Grace'])] }, rowCount: 1 },
  }));

  const byAgent = approval('ap-agent', 'agent');
  const byAlice = approval('ap-alice', 'alice', { createdAt: minutesAgo(1) });
  const other = approval('ap-other', 'agent', { createdAt: minutesAgo(2) });
  for (const a of [byAgent, byAlice, other]) await store.createApproval(a);
  return { ids, approvals: { byAgent, byAlice, other } };
}

export interface Harness {
  dir: string;
  dbFile: string;
  config: Config;
  store: AuditStore;
  deps: ApiDeps;
  app: FastifyInstance;
  filled: Filled;
  close(): Promise<void>;
}

export async function harness(opts: ApiOptions = {}, wrapStore: (s: AuditStore) => AuditStore = (s) => s): Promise<Harness> {
  const dir = mkdtempSync(join(tmpdir(), 'agentgate-api-'));
  const config = testConfig(dir);
  const dbFile = join(dir, 'audit.db');
  const signingKeyPem = generateKeyPairSync('ed25519').privateKey.export({ type: 'pkcs8', format: 'pem' }).toString();
  const raw = openAuditStore(`sqlite:${dbFile}`, { instanceId: 'api-test', signingKeyPem });
  await raw.init();
  const filled = await fill(raw);
  const store = wrapStore(raw);
  const approvals = new ApprovalService(config, store, 'api-test', silentLogger);
  await approvals.start();
  const deps: ApiDeps = {
    config,
    store,
    identity: createIdentityVerifier(config.identity),
    policy: createPolicyEngine({ policies: config.policies, hashKey: Buffer.from(SECRETS.hashKey) }),
    approvals,
    metrics: new Metrics(),
    log: silentLogger,
    health: () => ({ ok: true, stopping: false, auditHealthy: store.healthy }),
  };
  const app = await buildApp(deps, opts);
  return {
    dir, dbFile, config, store, deps, app, filled,
    async close() {
      await app.close();
      await approvals.stop();
      await raw.close();
      rmSync(dir, { recursive: true, force: true });
    },
  };
}
