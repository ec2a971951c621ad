// Agents log in with their own JWT or service-account secret; every bad token is refused with the contract's 1045
// and a reason (never the token); a rotated JWKS key is picked up; and on a plaintext connection the gateway never
// asks for a secret in cleartext (checked on the wire).
import { after, before, describe, test } from 'node:test';
import assert from 'node:assert/strict';
import { createServer, connect, type Server } from 'node:net';
import { execFile } from 'node:child_process';
import { promisify } from 'node:util';
import { generateKeyPair } from 'jose';
import mysql from 'mysql2/promise';
import { startTestGateway, defaultYaml, type TestGateway } from '../helpers/gateway.ts';
import { startTestIssuer } from '../helpers/oidc.ts';

const run = promisify(execFile);

/** A TCP relay that records what each side sent: to inspect the login on the wire. */
async function wiretap(targetPort: number): Promise<{ port: number; fromClient: () => Buffer; fromServer: () => Buffer; close: () => void }> {
  const up: Buffer[] = [];
  const down: Buffer[] = [];
  const srv: Server = createServer((c) => {
    const s = connect({ host: '127.0.0.1', port: targetPort });
    c.on('data', (d) => { up.push(Buffer.from(d)); s.write(d); });
    s.on('data', (d) => { down.push(Buffer.from(d)); c.write(d); });
    c.on('close', () => s.destroy());
    s.on('close', () => c.destroy());
    c.on('error', () => s.destroy());
    s.on('error', () => c.destroy());
  });
  await new Promise<void>((r) => srv.listen(0, '127.0.0.1', () => r()));
  const port = (srv.address() as { port: number }).port;
  return { port, fromClient: () => Buffer.concat(up), fromServer: () => Buffer.concat(down), close: () => srv.close() };
}

describe('agent identity at login', () => {
  let gw: TestGateway;
  let idp: Awaited<ReturnType<typeof startTestIssuer>>;
  let other: Awaited<ReturnType<typeof startTestIssuer>>;

  before(async () => {
    idp = await startTestIssuer({ audience: 'agentgate' });
    other = await startTestIssuer({ audience: 'agentgate' });
    gw = await startTestGateway({
      yaml: (p) => defaultYaml(p, { identity: `  oidc:\n    - { issuer: "${idp.issuer}", audience: agentgate }` }),
    });
  });

  after(async () => {
    await gw?.stop();
    await idp?.close();
    await other?.close();
  });

  const login = (user: string, password: string, extra: Record<string, unknown> = {}) =>
    mysql.createConnection({ host: '127.0.0.1', port: gw.port(), user, password, ...extra });

  async function refused(password: string, reason: RegExp, user = 'agent-7'): Promise<void> {
    await assert.rejects(login(user, password), (e: { errno?: number; sqlState?: string; message: string }) => {
      assert.equal(e.errno, 1045);
      assert.equal(e.sqlState, '28000');
      assert.match(e.message, /^Access denied for user 'agent-7'/);
      assert.match(e.message, reason);
      assert.ok(!e.message.includes(password), 'the token is never echoed');
      return true;
    });
  }

  test('a valid token logs in with the subject and groups of its claims', async () => {
    const c = await login('agent-7', await idp.sign({ sub: 'agent-7', groups: ['agents'] }));
    const [rows] = await c.query('SELECT 1 AS ok');
    assert.deepEqual(rows, [{ ok: 1 }]);
    await c.end();
    const s = (await gw.gateway.store.listSessions({ subject: 'agent-7', limit: 1 }))[0]!;
    assert.deepEqual(s.identity.groups, ['agents']);
    assert.equal(s.identity.via, 'oidc');
  });

  test('expired, not-yet-valid, wrongly signed, wrong audience, unknown issuer: 1045 with the reason', async () => {
    const now = Math.floor(Date.now() / 1000);
    await refused(await idp.sign({ exp: now - 120, iat: now - 700 }), /expired/);
    await refused(await idp.sign({ nbf: now + 3600 }), /not (yet )?valid|before/i);
    const { privateKey } = await generateKeyPair('ES256');
    await refused(await idp.sign({}, { privateKey }), /signature/);
    await refused(await idp.sign({ aud: 'someone-else' }), /audience/);
    await refused(await other.sign({}), /issuer/);
    await refused('not-a-jwt', /not a JWT/);
    // A service account's name takes its secret only.
    await assert.rejects(login('ci', 'wrong-secret-0123456789'), (e: { errno?: number }) => e.errno === 1045);
  });

  test('a rotated JWKS key is picked up without restarting the gateway', async () => {
    const before = await idp.sign({ sub: 'agent-7' });
    (await login('agent-7', before)).destroy();
    await idp.rotate();
    // The gateway fetches keys for an unknown kid at most once a second.
    await new Promise((r) => setTimeout(r, 1_100));
    const after = await idp.sign({ sub: 'agent-7' });
    const c = await login('agent-7', after);
    await c.query('SELECT 1');
    await c.end();
  });

  test('a login without a matching policy is refused', async () => {
    await assert.rejects(login('agent-9', await idp.sign({ sub: 'agent-9', groups: ['nobody'] })), (e: { errno?: number; message: string }) => {
      assert.equal(e.errno, 1045);
      assert.match(e.message, /no policy/);
      return true;
    });
  });

  test('over plaintext the JWT never crosses the wire in clear (mysql2 and the mariadb CLI use the RSA exchange)', async () => {
    const jwt = await idp.sign({ sub: 'agent-7', groups: ['agents'] });
    const tap = await wiretap(gw.port());
    try {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: tap.port, user: 'agent-7', password: jwt });
      await c.query('SELECT 1');
      await c.end();
      // Even a client willing to send cleartext is never asked to.
      const c2 = await mysql.createConnection({ host: '127.0.0.1', port: tap.port, user: 'agent-7', password: jwt, enableCleartextPlugin: true } as never);
      await c2.query('SELECT 1');
      await c2.end();
      const r = await run('mariadb', ['-h127.0.0.1', `-P${tap.port}`, '-uagent-7', `-p${jwt}`, '--skip-ssl', '-e', 'SELECT 1']);
      assert.match(r.stdout, /1/);
      await new Promise((res) => setTimeout(res, 100));
      const sent = tap.fromClient();
      assert.ok(sent.length > 0);
      assert.equal(sent.indexOf(Buffer.from(jwt)), -1, 'the token appears in clear in what the client sent');
      assert.equal(sent.indexOf(Buffer.from(jwt.split('.')[1]!)), -1);
      assert.equal(tap.fromServer().indexOf(Buffer.from('mysql_clear_password')), -1, 'the gateway asked for a cleartext password');
    } finally {
      tap.close();
    }
  });

  test('a service account logs in with mysql_native_password over plaintext, and its secret never crosses in clear', async () => {
    const tap = await wiretap(gw.port());
    try {
      const c = await mysql.createConnection({ host: '127.0.0.1', port: tap.port, user: 'ci', password: 'ci-secret-0123456789' });
      await c.query('SELECT 1');
      await c.end();
      assert.equal(tap.fromClient().indexOf(Buffer.from('ci-secret-0123456789')), -1);
    } finally {
      tap.close();
    }
  });

  test('with tls.require, plaintext clients are refused and TLS clients admitted', async () => {
    const strict = await startTestGateway({
      upstream: gw.upstream,
      yaml: (p) => defaultYaml(p).replace(`  key: ${p.certs.key}`, `  key: ${p.certs.key}\n  require: true`),
    });
    try {
      await assert.rejects(mysql.createConnection({ host: '127.0.0.1', port: strict.port(), user: 'ci', password: 'ci-secret-0123456789' }),
        (e: { errno?: number; message: string }) => e.errno === 1045 && /TLS/.test(e.message));
      const c = await mysql.createConnection({ host: '127.0.0.1', port: strict.port(), user: 'ci', password: 'ci-secret-0123456789', ssl: { rejectUnauthorized: false } });
      await c.query('SELECT 1');
      await c.end();
    } finally {
      await strict.stop();
    }
  });
});
