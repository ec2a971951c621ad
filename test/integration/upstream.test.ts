// The gateway's side towards the server: its login with the vaulted credential (mysql_native_password, MariaDB's
// client_ed25519), the upstream TLS modes, several targets each on its own address, metrics, and a credential that
// never shows.
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import mysql from 'mysql2/promise';
import { startTestGateway, defaultYaml, upstreamAccount, type TestGateway, type UpstreamAccount } from '../helpers/gateway.ts';
import { rootSql, testMariaDB } from '../helpers/mariadb.ts';
import { startTestIssuer } from '../helpers/oidc.ts';

const CI = { user: 'ci', password: 'ci-secret-0123456789' };

/** A second target `other` on the same server with its own upstream settings. */
function withTarget(p: { ports: Record<string, number> }, upstream: string): (yaml: string) => string {
  return (yaml) => yaml.replace('tls:\n  cert:', `  - name: other
    listen: 127.0.0.1:${p.ports.other}
    upstream:
${upstream}
tls:
  cert:`);
}

describe('the gateway towards the server', () => {
  let ed: UpstreamAccount;
  let gw: TestGateway;
  // Every gateway a test starts is stopped at the end, also when an assertion failed half-way.
  const started: TestGateway[] = [];
  const start = async (o: Parameters<typeof startTestGateway>[0]) => {
    const g = await startTestGateway(o);
    started.push(g);
    return g;
  };

  before(async () => {
    const srv = await testMariaDB();
    ed = await upstreamAccount('ed');
    // MariaDB's ed25519 plugin, for an account of its own.
    if (!/ed25519/.test(rootSql(srv, "SELECT PLUGIN_NAME FROM information_schema.PLUGINS WHERE PLUGIN_NAME = 'ed25519'"))) {
      rootSql(srv, "INSTALL SONAME 'auth_ed25519'");
    }
    rootSql(srv, `ALTER USER '${ed.user}'@'%' IDENTIFIED VIA ed25519 USING PASSWORD('${ed.password}')`);
  });

  after(async () => {
    for (const g of started) await g.stop();
  });

  test('logs in with client_ed25519; a second target serves on its own address', async () => {
    gw = await start({
      targets: ['other'],
      yaml: (p) => withTarget(p, `      host: ${ed.host}
      port: ${ed.port}
      user: ${ed.user}
      password: "${ed.password}"
      tls: disabled`)(defaultYaml(p)),
    });
    const c = await mysql.createConnection({ host: '127.0.0.1', port: gw.port('other'), ...CI });
    const [[row]] = (await c.query('SELECT CURRENT_USER() AS u')) as unknown as [[{ u: string }]];
    assert.equal(row.u, `${ed.user}@%`);
    await c.end();
    const a = await mysql.createConnection({ host: '127.0.0.1', port: gw.port('app'), ...CI });
    const [[row2]] = (await a.query('SELECT CURRENT_USER() AS u')) as unknown as [[{ u: string }]];
    assert.equal(row2.u, `${gw.upstream.user}@%`);
    await a.end();
    const sessions = await gw.gateway.store.listSessions({ subject: 'ci', limit: 10 });
    assert.deepEqual(new Set(sessions.map((s) => s.target)), new Set(['app', 'other']));
    await gw.stop();
  });

  test('logs in with caching_sha2_password: full authentication, the RSA exchange over plaintext and the secret over TLS', async () => {
    // MariaDB has no caching_sha2_password; MySQL 8 makes it the default. The server here is an agentgate (which
    // speaks it as MySQL 8 does, always asking for full authentication), logged in to with a JWT as the password.
    const idp = await startTestIssuer({ audience: 'agentgate' });
    try {
      const front = await start({ yaml: (p) => defaultYaml(p, { identity: `  oidc:\n    - { issuer: "${idp.issuer}", audience: agentgate }` }) });
      const token = await idp.sign({ sub: 'agent-7', groups: ['agents'] });
      for (const mode of ['disabled', 'required'] as const) {
        const back = await start({
          targets: ['other'],
          yaml: (p) => withTarget(p, `      host: 127.0.0.1
      port: ${front.port()}
      user: agent-7
      password: "${token}"
      tls: ${mode}`)(defaultYaml(p)),
        });
        const c = await mysql.createConnection({ host: '127.0.0.1', port: back.port('other'), ...CI });
        const [[row]] = (await c.query('SELECT CURRENT_USER() AS u')) as unknown as [[{ u: string }]];
        assert.equal(row.u, `${front.upstream.user}@%`, `tls ${mode}: the statement went through both gateways`);
        await c.end();
        await back.stop();
      }
      // Each back gateway logged in to the front one (as agent-7) for its client, and once before that to learn
      // the server's version: every one of those logins used caching_sha2_password, over plaintext and over TLS.
      const sessions = await front.gateway.store.listSessions({ subject: 'agent-7', limit: 10 });
      const logins = new Set<string>();
      for (const s of sessions) {
        const connect = (await front.gateway.store.getSession(s.id))!.events.find((e) => e.type === 'connect')!;
        logins.add(`${connect.detail!.plugin} tls=${connect.detail!.tls}`);
      }
      assert.deepEqual([...logins].sort(), ['caching_sha2_password tls=false', 'caching_sha2_password tls=true']);
    } finally {
      await idp.close();
    }
  });

  test('upstream TLS: required and verify (against the right CA) encrypt; verify against another CA is refused clearly', async () => {
    for (const [mode, ca, ok] of [['required', null, true], ['verify', 'ca', true], ['verify', 'otherCa', false]] as const) {
      gw = await start({
        targets: ['other'],
        yaml: (p) => withTarget(p, `      host: 127.0.0.1
      port: ${ed.port}
      user: ${ed.user}
      password: "${ed.password}"
      tls: ${mode}${ca ? `\n      ca: ${ca === 'ca' ? p.certs.ca : p.certs.otherCa}` : ''}`)(defaultYaml(p)),
      });
      if (ok) {
        const c = await mysql.createConnection({ host: '127.0.0.1', port: gw.port('other'), ...CI });
        const [[row]] = (await c.query("SHOW SESSION STATUS LIKE 'Ssl_cipher'")) as unknown as [[{ Value: string }]];
        assert.ok(row.Value.length > 0, `${mode}: the upstream connection is encrypted`);
        await c.end();
      } else {
        await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port: gw.port('other'), ...CI }), (e: { errno?: number; message: string }) => {
          assert.equal(e.errno, 2013);
          assert.match(e.message, /^agentgate: upstream unavailable: target "other": .*TLS/);
          return true;
        });
      }
      await gw.stop();
    }
  });

  test('metrics count connections, statements, bytes and login failures; the vaulted credential appears nowhere', async () => {
    gw = await start({});
    const c = await mysql.createConnection({ host: '127.0.0.1', port: gw.port(), ...CI });
    await c.query('SELECT 1');
    await c.end();
    await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port: gw.port(), user: 'ci', password: 'wrong-0123456789' }));
    const text = await (await fetch(`${gw.apiUrl}/metrics`)).text();
    assert.match(text, /agentgate_connections_total\{target="app"\} [1-9]/);
    assert.match(text, /agentgate_statements_total\{target="app",action="allow"\} [1-9]/);
    assert.match(text, /agentgate_client_bytes_sent_total\{target="app"\} [1-9]/);
    assert.match(text, /agentgate_login_failures_total\{target="app"\} [1-9]/);
    assert.ok(!text.includes(gw.upstream.password));
    const health = (await (await fetch(`${gw.apiUrl}/healthz`)).json()) as { ok: boolean };
    assert.equal(health.ok, true);
    await gw.stop();
  });
});

