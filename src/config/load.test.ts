import assert from 'node:assert/strict';
import { mkdtempSync, mkdirSync, rmSync, writeFileSync, copyFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, relative } from 'node:path';
import { describe, test } from 'node:test';
import { testCerts } from '../../test/helpers/certs.ts';
import { ConfigError, loadConfig, parseConfig } from './index.ts';
import { FILE, memFiles, problemsOfText } from '../../test/helpers/config.ts';

// The example of the public contract, verbatim.
const CONTRACT_EXAMPLE = `
targets:
  - name: app                         # [a-z0-9-]+
    listen: 127.0.0.1:3307            # where agents connect
    upstream:
      host: 127.0.0.1
      port: 3306
      user: gw_app
      password: \${APP_DB_PASSWORD}    # the vaulted credential: never logged, never returned by API/CLI
      tls: preferred                  # disabled | preferred | required | verify
      ca: ./certs/ca.pem              # for verify
tls:                                  # client-facing TLS, for every target
  cert: ./certs/gateway.pem
  key: ./certs/gateway-key.pem
  require: false                      # true: plaintext clients are refused
identity:
  oidc:
    - issuer: https://idp.example.com
      audience: agentgate
      jwksUri: https://idp.example.com/jwks   # optional: otherwise OIDC discovery
      groupsClaim: groups                     # default: groups
  serviceAccounts:
    - name: ci-migrator               # the MySQL user name the account logs in with
      secret: \${CI_MIGRATOR_SECRET}   # its password
      groups: [ci]
  admins:                             # bearer tokens for the HTTP API, the CLI and the console
    - name: alice
      token: \${ALICE_TOKEN}
      groups: [dba]
audit:
  store: sqlite:./.agentgate/audit.db # or postgres://user:pass@host:port/db
  captureRows: 1000                   # result rows kept per result set; the full row count is always kept
api:
  listen: 127.0.0.1:8080
approvals:
  approvers: [dba]                    # groups allowed to approve or deny
  timeout: 300s
  webhook: https://hooks.example.com/x  # optional: a JSON POST for every new request
policies:                             # the first policy whose groups and targets match applies; none: login refused
  - name: agents
    groups: [agents]
    targets: [app]                    # or ["*"]
    rules:                            # the first matching rule decides; none matches: allow
      - kinds: [drop, truncate]
        action: approve               # allow | deny | approve
      - unboundedWrite: true          # UPDATE/DELETE that can touch every row of a table
        action: deny
      - kinds: [update, delete]
        tables: [app.payments]        # db.table, * allowed per part
        action: approve
    masking:
      - columns: [app.users.email, "*.*.ssn"]   # db.table.column, * allowed per part
        style: redact                 # redact | partial | hash | null
      - detect: [credit_card, email]
        style: partial
`;

const ENV = { APP_DB_PASSWORD: 'app-db-pw-7f3a', CI_MIGRATOR_SECRET: 'ci-secret-91bd', ALICE_TOKEN: 'alice-token-0123456789' };

describe('the contract example', () => {
  const config = parseConfig(CONTRACT_EXAMPLE, FILE, ENV, memFiles());

  test('loads with its environment variables substituted', () => {
    assert.equal(config.targets[0]!.upstream.password, ENV.APP_DB_PASSWORD);
    assert.equal(config.identity.serviceAccounts[0]!.secret, ENV.CI_MIGRATOR_SECRET);
    assert.equal(config.identity.admins[0]!.token, ENV.ALICE_TOKEN);
  });

  test('has every key in its validated shape, relative paths resolved against the file', () => {
    assert.equal(config.file, '/cfg/config.yaml');
    assert.equal(config.dir, '/cfg');
    assert.deepEqual(config.targets[0]!.listen, { host: '127.0.0.1', port: 3307 });
    const up = config.targets[0]!.upstream;
    assert.deepEqual({ ...up, caPem: undefined }, {
      host: '127.0.0.1', port: 3306, user: 'gw_app', password: ENV.APP_DB_PASSWORD, tls: 'preferred',
      ca: '/cfg/certs/ca.pem', caPem: undefined, connectTimeout: 10_000,
    });
    assert.match(up.caPem!, /BEGIN CERTIFICATE/);
    assert.equal(config.tls!.cert, '/cfg/certs/gateway.pem');
    assert.equal(config.tls!.key, '/cfg/certs/gateway-key.pem');
    assert.match(config.tls!.certPem, /BEGIN CERTIFICATE/);
    assert.match(config.tls!.keyPem, /PRIVATE KEY/);
    assert.equal(config.tls!.require, false);
    assert.deepEqual(config.identity.oidc, [{
      issuer: 'https://idp.example.com', audience: ['agentgate'], jwksUri: 'https://idp.example.com/jwks', groupsClaim: 'groups',
      algorithms: ['RS256', 'RS384', 'RS512', 'PS256', 'PS384', 'PS512', 'ES256', 'ES384', 'ES512', 'EdDSA'], clockTolerance: 30_000,
    }]);
    assert.deepEqual(config.identity.serviceAccounts, [{ name: 'ci-migrator', secret: ENV.CI_MIGRATOR_SECRET, groups: ['ci'] }]);
    assert.deepEqual(config.identity.admins, [{ name: 'alice', token: ENV.ALICE_TOKEN, groups: ['dba'] }]);
    assert.deepEqual(config.audit, {
      store: 'sqlite:/cfg/.agentgate/audit.db', captureRows: 1000, fsync: false, checkpointEvery: 1000, checkpointInterval: 60_000,
    });
    assert.deepEqual(config.api, { listen: { host: '127.0.0.1', port: 8080 } });
    assert.deepEqual(config.approvals, { approvers: ['dba'], timeout: 300_000, minApprovals: 1, webhook: 'https://hooks.example.com/x' });
    assert.equal(config.dataDir, '/cfg/.agentgate');
    assert.deepEqual(config.masking, {});
    assert.deepEqual(config.log, { level: 'info' });
  });

  test('policies get their defaults and rules their #N names', () => {
    assert.deepEqual(config.policies, [{
      name: 'agents', groups: ['agents'], targets: ['app'], guardrails: 'none',
      rules: [
        { name: '#1', kinds: ['drop', 'truncate'], action: 'approve', minApprovals: 1 },
        { name: '#2', unboundedWrite: true, action: 'deny' },
        { name: '#3', kinds: ['update', 'delete'], tables: ['app.payments'], action: 'approve', minApprovals: 1 },
      ],
      masking: [
        { columns: ['app.users.email', '*.*.ssn'], style: 'redact' },
        { detect: ['credit_card', 'email'], style: 'partial' },
      ],
      maskedColumnUse: 'deny', approvalMode: 'hold', retryValidity: 15 * 60_000,
    }]);
  });

  test('without its environment variables, each missing one is named with its key', () => {
    assert.deepEqual(problemsOfText(CONTRACT_EXAMPLE, {}), [
      'targets[0].upstream.password: environment variable APP_DB_PASSWORD is not set',
      'identity.serviceAccounts[0].secret: environment variable CI_MIGRATOR_SECRET is not set',
      'identity.admins[0].token: environment variable ALICE_TOKEN is not set',
    ]);
  });
});

describe('loadConfig', () => {
  test('reads the file and the files it names, relative to its folder', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentgate-config-'));
    try {
      const certs = testCerts();
      mkdirSync(join(dir, 'certs'));
      copyFileSync(certs.cert, join(dir, 'certs/gateway.pem'));
      copyFileSync(certs.key, join(dir, 'certs/gateway-key.pem'));
      copyFileSync(certs.ca, join(dir, 'certs/ca.pem'));
      writeFileSync(join(dir, 'agentgate.yaml'), CONTRACT_EXAMPLE);
      const config = loadConfig(join(dir, 'agentgate.yaml'), ENV);
      assert.equal(config.tls!.cert, join(dir, 'certs/gateway.pem'));
      assert.equal(config.audit.store, `sqlite:${join(dir, '.agentgate/audit.db')}`);
      assert.equal(config.dataDir, join(dir, '.agentgate'));
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  test('names the file as it was given, and says when it cannot be read', () => {
    const dir = mkdtempSync(join(tmpdir(), 'agentgate-config-'));
    try {
      const given = relative(process.cwd(), join(dir, 'nope.yaml'));
      assert.throws(() => loadConfig(given, {}), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.equal(err.message, `${given}: cannot read the configuration: no such file`);
        return true;
      });
      writeFileSync(join(dir, 'bad.yaml'), 'targets: 3\n');
      const bad = relative(process.cwd(), join(dir, 'bad.yaml'));
      assert.throws(() => loadConfig(bad, {}), (err: unknown) => {
        assert.ok(err instanceof ConfigError);
        assert.ok(err.problems.length > 1);
        for (const line of err.problems) assert.ok(line.startsWith(`${bad}: `), line);
        assert.ok(err.problems.includes(`${bad}: targets: must be a list, not a number`));
        return true;
      });
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

test('a minimal config gets the documented defaults', () => {
  const text = `
targets: [{name: app, listen: "127.0.0.1:3307", upstream: {host: db, user: gw}}]
identity: {serviceAccounts: [{name: ci, secret: s3cret-value-123}]}
policies: [{groups: [ci], targets: ["*"], rules: [{kinds: [drop], action: deny}]}]
`;
  const c = parseConfig(text, FILE, {}, memFiles());
  assert.deepEqual(c.targets[0]!.upstream, { host: 'db', port: 3306, user: 'gw', password: '', tls: 'preferred', connectTimeout: 10_000 });
  assert.equal(c.tls, undefined);
  assert.deepEqual(c.identity, { oidc: [], serviceAccounts: [{ name: 'ci', secret: 's3cret-value-123', groups: [] }], admins: [] });
  assert.deepEqual(c.audit, { store: 'sqlite:/cfg/.agentgate/audit.db', captureRows: 1000, fsync: false, checkpointEvery: 1000, checkpointInterval: 60_000 });
  assert.deepEqual(c.api, { listen: { host: '127.0.0.1', port: 8080 } });
  assert.deepEqual(c.approvals, { approvers: [], timeout: 300_000, minApprovals: 1 });
  assert.deepEqual(c.policies[0], {
    name: '#1', groups: ['ci'], targets: ['*'], guardrails: 'none', rules: [{ name: '#1', kinds: ['drop'], action: 'deny' }], masking: [],
    maskedColumnUse: 'deny', approvalMode: 'hold', retryValidity: 900_000,
  });
  assert.equal(c.dataDir, '/cfg/.agentgate');
  assert.deepEqual(c.masking, {});
  assert.deepEqual(c.log, { level: 'info' });
});
