// `agentgate policy explain`: local, no gateway. Real configuration files, the command as a child process.
import assert from 'node:assert/strict';
import { mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { after, describe, test } from 'node:test';
import { cli, jsonOf } from '../helpers/cli.ts';

const dir = mkdtempSync(join(tmpdir(), 'agentgate-cli-policy-'));
after(() => rmSync(dir, { recursive: true, force: true }));

const CONFIG = `
targets:
  - name: app
    listen: 127.0.0.1:33070
    upstream: { host: 127.0.0.1, user: gw_app, password: "\${APP_DB_PASSWORD}" }
  - name: reporting
    listen: 127.0.0.1:33071
    upstream: { host: 127.0.0.1, user: gw_rep, password: "\${APP_DB_PASSWORD}" }
identity:
  serviceAccounts:
    - { name: agent, secret: agent-secret-0123456789, groups: [agents] }
approvals:
  approvers: [dba]
policies:
  - name: agents
    groups: [agents]
    targets: [app]
    rules:
      - { name: drops-need-approval, kinds: [drop, truncate], action: approve }
      - { unboundedWrite: true, action: deny }
      - { kinds: [update, delete], tables: [shop.payments], action: approve, minApprovals: 2 }
  - name: analysts
    groups: [analysts]
    targets: ["*"]
    rules:
      - { name: read-only, kinds: [insert, update, delete, replace, create, alter, drop, truncate], action: deny }
`;

function file(name: string, text: string): string {
  const p = join(dir, name);
  writeFileSync(p, text);
  return p;
}

const config = file('agentgate.yaml', CONFIG);
const env = { APP_DB_PASSWORD: 'not-used-by-explain-9f8e' };
const explain = (args: string[], e: Record<string, string> = env, input?: string) =>
  cli(['policy', 'explain', '--config', config, ...args], e, { input });

describe('agentgate policy explain', () => {
  test('approve: the deciding rule, the reason and the trace of every rule considered (--json)', async () => {
    const r = await explain(['--groups', 'agents', '--target', 'app', '--sql', 'DROP TABLE shop.sessions', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const d = jsonOf(r);
    assert.equal(d.policy, 'agents');
    assert.equal(d.target, 'app');
    assert.deepEqual(d.groups, ['agents']);
    assert.equal(d.decision.action, 'approve');
    assert.equal(d.decision.policy, 'agents');
    assert.equal(d.decision.rule, 'drops-need-approval');
    assert.equal(typeof d.decision.reason, 'string');
    assert.deepEqual(d.classification.kinds, ['drop']);
    assert.ok(Array.isArray(d.trace) && d.trace.length >= 1);
    assert.deepEqual(d.trace[0].rule, 'drops-need-approval');
    assert.equal(d.trace[0].matched, true);
    for (const t of d.trace) assert.deepEqual(Object.keys(t).sort(), ['matched', 'rule', 'why']);
  });

  test('deny: an unbounded write, with the rule that decided and every earlier rule in the trace', async () => {
    const r = await explain(['--groups', 'agents', '--target', 'app', '--db', 'shop', '--sql', 'DELETE FROM users']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^decision:\s+deny$/m);
    assert.match(r.stdout, /^policy:\s+agents \(the first policy for groups agents on target app\)$/m);
    assert.match(r.stdout, /^rule:\s+#2$/m);
    assert.match(r.stdout, /^tables written:\s+shop\.users$/m);
    assert.match(r.stdout, /^unbounded write:\s+yes/m);
    assert.match(r.stdout, /trace \(every rule considered, in order\):\nRULE\s+MATCHED\s+WHY\ndrops-need-approval\s+no\s+.+\n#2\s+yes\s+/);
  });

  test('--db resolves unqualified names: a rule on shop.payments matches only with it', async () => {
    const withDb = jsonOf(await explain(['--groups', 'agents', '--target', 'app', '--db', 'shop', '--sql', 'UPDATE payments SET state = 1 WHERE id = 7', '--json']));
    assert.equal(withDb.decision.action, 'approve');
    assert.equal(withDb.decision.rule, '#3');
    assert.equal(withDb.decision.minApprovals, 2);
    assert.equal(withDb.db, 'shop');
    const otherDb = jsonOf(await explain(['--groups', 'agents', '--target', 'app', '--db', 'crm', '--sql', 'UPDATE payments SET state = 1 WHERE id = 7', '--json']));
    assert.equal(otherDb.decision.action, 'allow');
  });

  test('allow by default: no rule matched', async () => {
    const r = await explain(['--groups', 'agents', '--target', 'app', '--sql', 'SELECT 1']);
    assert.equal(r.code, 0, r.stderr);
    assert.match(r.stdout, /^decision:\s+allow$/m);
    assert.match(r.stdout, /^rule:\s+none matched: the default allow$/m);
    assert.match(r.stdout, /drops-need-approval\s+no\s+/);
  });

  test('the SQL is read as the server reads it: executable comments and several statements', async () => {
    const hidden = jsonOf(await explain(['--groups', 'agents', '--target', 'app', '--sql', '/*!50000 DROP TABLE shop.t */', '--json']));
    assert.equal(hidden.decision.action, 'approve');
    assert.deepEqual(hidden.classification.kinds, ['drop']);
    const multi = jsonOf(await explain(['--groups', 'agents', '--target', 'app', '--sql', 'SELECT 1; TRUNCATE shop.logs', '--json']));
    assert.equal(multi.decision.rule, 'drops-need-approval');
    assert.equal(multi.classification.statements.length, 2);
    // From stdin.
    const stdin = jsonOf(await explain(['--groups', 'agents', '--target', 'app', '--sql', '-', '--json'], env, 'DROP TABLE shop.x\n'));
    assert.equal(stdin.decision.action, 'approve');
  });

  test('the first policy matching the groups and the target applies', async () => {
    const analyst = jsonOf(await explain(['--groups', 'analysts', '--target', 'reporting', '--sql', 'INSERT INTO a.b VALUES (1)', '--json']));
    assert.equal(analyst.policy, 'analysts');
    assert.equal(analyst.decision.action, 'deny');
    assert.equal(analyst.decision.rule, 'read-only');
    const both = jsonOf(await explain(['--groups', 'nobody,agents', '--target', 'app', '--sql', 'SELECT 1', '--json']));
    assert.equal(both.policy, 'agents');
  });

  test('no policy for those groups on that target: the login would be refused', async () => {
    const r = await explain(['--groups', 'agents', '--target', 'reporting', '--sql', 'SELECT 1', '--json']);
    assert.equal(r.code, 0, r.stderr);
    const d = jsonOf(r);
    assert.equal(d.policy, null);
    assert.equal(d.decision.action, 'deny');
    assert.match(d.decision.reason, /no policy matches groups \[agents\] on target "reporting": the login is refused/);
  });

  test('a bad configuration exits 2 naming the file, the key and the problem', async () => {
    const typo = file('typo.yaml', CONFIG.replace('policies:', 'polices:'));
    const t = await cli(['policy', 'explain', '--config', typo, '--groups', 'agents', '--target', 'app', '--sql', 'SELECT 1'], env);
    assert.equal(t.code, 2);
    assert.match(t.stderr, /typo\.yaml: polices: unknown key \(did you mean "policies"\?\)/);
    assert.equal(t.stdout, '');
    // Without the environment the secrets come from, both problems are named.
    const both = await cli(['policy', 'explain', '--config', typo, '--groups', 'agents', '--target', 'app', '--sql', 'SELECT 1'], {});
    assert.equal(both.code, 2);
    assert.match(both.stderr, /typo\.yaml: targets\[0\]\.upstream\.password: environment variable APP_DB_PASSWORD is not set/);
    assert.match(both.stderr, /typo\.yaml: polices: unknown key/);
    const badKind = file('kind.yaml', CONFIG.replace('kinds: [drop, truncate]', 'kinds: [drop, trunc]'));
    const k = await cli(['policy', 'explain', '--config', badKind, '--groups', 'agents', '--target', 'app', '--sql', 'SELECT 1'], env);
    assert.equal(k.code, 2);
    assert.match(k.stderr, /kind\.yaml: policies\[0\]\.rules\[0\]\.kinds\[1\]: "trunc" is not one of/);
    const missing = await cli(['policy', 'explain', '--config', join(dir, 'absent.yaml'), '--groups', 'a', '--target', 'app', '--sql', 'SELECT 1'], env);
    assert.equal(missing.code, 2);
    assert.match(missing.stderr, /absent\.yaml: cannot read the configuration: no such file/);
  });

  test('the secrets the file takes from the environment are not needed to explain', async () => {
    const r = await explain(['--groups', 'agents', '--target', 'app', '--sql', 'DROP TABLE shop.x', '--json'], {});
    assert.equal(r.code, 0, r.stderr);
    assert.equal(jsonOf(r).decision.rule, 'drops-need-approval');
    assert.ok(!r.stdout.includes('not-set-in-this-shell'));
  });

  test('bad usage exits 2', async () => {
    for (const [args, re] of [
      [['--groups', 'agents', '--target', 'nope', '--sql', 'SELECT 1'], /--target: .* has no target "nope" \(targets: app, reporting\)/],
      [['--groups', 'agents', '--target', 'app'], /required option '--sql <statement>' not specified/],
      [['--groups', ',', '--target', 'app', '--sql', 'SELECT 1'], /--groups: give at least one group/],
      [['--groups', 'agents', '--target', 'app', '--sql', 'SELECT 1', '--server-version', 'banana'], /"banana" is not a server version/],
    ] as const) {
      const r = await explain([...args]);
      assert.equal(r.code, 2, `${args.join(' ')}: ${r.stderr}`);
      assert.match(r.stderr, re);
    }
  });
});
