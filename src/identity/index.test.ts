import assert from 'node:assert/strict';
import { randomBytes } from 'node:crypto';
import { after, before, describe, test } from 'node:test';
import { startTestIssuer, type TestIssuer } from '../../test/helpers/oidc.ts';
import { DEFAULTS } from '../config/validate.ts';
import type { IdentityConfig } from '../config/types.ts';
import { createIdentityVerifier, LoginRefused } from './index.ts';
import { cachingSha2Scramble, nativeScramble as nativePasswordScramble } from '../protocol/auth.ts';

function reasonOf(fn: () => unknown): string {
  try {
    fn();
  } catch (err) {
    assert.ok(err instanceof LoginRefused);
    return err.reason;
  }
  assert.fail('expected a LoginRefused');
}

describe('createIdentityVerifier', () => {
  let idp: TestIssuer;
  let config: IdentityConfig;
  before(async () => {
    idp = await startTestIssuer();
    config = {
      oidc: [{ issuer: idp.issuer, audience: [idp.audience], groupsClaim: 'groups', algorithms: [...DEFAULTS.algorithms], clockTolerance: 30_000 }],
      serviceAccounts: [
        { name: 'ci-migrator', secret: 'ci-secret-91bd', groups: ['ci'] },
        { name: 'reporter', secret: 'another-secret', groups: [] },
      ],
      admins: [
        { name: 'alice', token: 'alice-token-0123456789', groups: ['dba'] },
        { name: 'bob', token: 'bob-token-0123456789ab', groups: [] },
      ],
    };
  });
  after(() => idp.close());

  test('serviceAccount looks up by exact MySQL user name', () => {
    const v = createIdentityVerifier(config);
    assert.equal(v.serviceAccount('ci-migrator')?.name, 'ci-migrator');
    assert.equal(v.serviceAccount('CI-MIGRATOR'), undefined);
    assert.equal(v.serviceAccount('agent-1'), undefined);
  });

  test('a service account logs in with its secret', async () => {
    const v = createIdentityVerifier(config);
    assert.deepEqual(await v.verifyPassword('ci-migrator', 'ci-secret-91bd'), { subject: 'ci-migrator', groups: ['ci'], via: 'service_account' });
    await assert.rejects(v.verifyPassword('ci-migrator', 'ci-secret-91be'), (e: LoginRefused) => {
      assert.equal(e.reason, 'wrong secret for service account "ci-migrator"');
      assert.ok(!e.message.includes('ci-secret'));
      return true;
    });
    // Its name takes its secret and nothing else, not even a valid token.
    await assert.rejects(v.verifyPassword('ci-migrator', await idp.sign()), { reason: 'wrong secret for service account "ci-migrator"' });
    await assert.rejects(v.verifyPassword('reporter', 'ci-secret-91bd'), { reason: 'wrong secret for service account "reporter"' });
  });

  test('any other user name logs in with a token', async () => {
    const v = createIdentityVerifier(config);
    const id = await v.verifyPassword('whatever', await idp.sign({ sub: 'agent-42', groups: ['agents'] }));
    assert.equal(id.via, 'oidc');
    assert.equal(id.subject, 'agent-42');
    assert.deepEqual(id.groups, ['agents']);
    await assert.rejects(v.verifyPassword('bob', 'hunter2'), { reason: '"bob" is not a service account and the password is not a JWT' });
    const noOidc = createIdentityVerifier({ ...config, oidc: [] });
    await assert.rejects(noOidc.verifyPassword('bob', await idp.sign()), { reason: '"bob" is not a service account and no OIDC issuer is configured' });
  });

  test('mysql_native_password and caching_sha2_password scrambles, for service accounts only', () => {
    const v = createIdentityVerifier(config);
    const nonce = randomBytes(20);
    assert.deepEqual(v.verifyNativeScramble('ci-migrator', nonce, nativePasswordScramble('ci-secret-91bd', nonce)),
      { subject: 'ci-migrator', groups: ['ci'], via: 'service_account' });
    assert.equal(reasonOf(() => v.verifyNativeScramble('ci-migrator', nonce, nativePasswordScramble('nope', nonce))),
      'wrong secret for service account "ci-migrator"');
    assert.equal(reasonOf(() => v.verifyNativeScramble('agent-1', nonce, nativePasswordScramble('x', nonce))),
      '"agent-1" is not a service account, and an OIDC token cannot be checked through mysql_native_password: '
      + 'the gateway needs the token itself (over TLS, or caching_sha2_password with RSA)');
    assert.equal(v.verifyCachingSha2Scramble('reporter', nonce, cachingSha2Scramble('another-secret', nonce)).subject, 'reporter');
    assert.equal(reasonOf(() => v.verifyCachingSha2Scramble('reporter', nonce, cachingSha2Scramble('x', nonce))),
      'wrong secret for service account "reporter"');
  });

  test('admin tokens', () => {
    const v = createIdentityVerifier(config);
    assert.deepEqual(v.verifyAdminToken('alice-token-0123456789'), { name: 'alice', groups: ['dba'] });
    assert.deepEqual(v.verifyAdminToken('bob-token-0123456789ab'), { name: 'bob', groups: [] });
    assert.equal(v.verifyAdminToken('alice-token-012345678'), null);
    assert.equal(v.verifyAdminToken(''), null);
    assert.equal(createIdentityVerifier({ ...config, admins: [] }).verifyAdminToken('alice-token-0123456789'), null);
    // The answer is a copy: changing it does not change who alice is.
    v.verifyAdminToken('alice-token-0123456789')!.groups.push('root');
    assert.deepEqual(v.verifyAdminToken('alice-token-0123456789'), { name: 'alice', groups: ['dba'] });
  });
});
