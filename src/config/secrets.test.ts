import assert from 'node:assert/strict';
import { describe, test } from 'node:test';
import { stringify } from 'yaml';
import { parseConfig, redactConfig } from './index.ts';
import { baseConfig, FILE, memFiles, problemsOf, problemsOfText } from '../../test/helpers/config.ts';

/** Every problem line, checked for each secret fragment. */
function assertNoSecret(problems: string[], secrets: string[]): void {
  assert.ok(problems.length > 0, 'expected problems');
  for (const line of problems) for (const s of secrets) assert.ok(!line.includes(s), `"${s}" appears in: ${line}`);
}

describe('secrets never appear in error messages', () => {
  test('wrong types and lengths of secret values', () => {
    const problems = problemsOf((c) => {
      c.targets[0].upstream.password = 987654321;
      c.identity.serviceAccounts[0].secret = true;
      c.identity.admins = [{ name: 'a', token: 'TOKSECRET' }, { name: 'b', token: 'DUPTOKEN-SECRET-0001' }, { name: 'c', token: 'DUPTOKEN-SECRET-0001' }];
      c.masking = { hashKey: 'HASHSECRET' };
      c.approvals = { webhook: 'not a url HOOKSECRET', webhookSecret: 'WHSECRET' };
    });
    assert.deepEqual(problems, [
      'targets[0].upstream.password: the value must be a string, not a number (put it in quotes)',
      'identity.serviceAccounts[0].secret: the value must be a string, not true/false (put it in quotes)',
      'identity.admins[0].token: the value is 9 characters long; an admin token needs at least 16',
      'identity.admins[2].token: the value is the same as identity.admins[1].token (each admin needs their own)',
      'approvals.webhook: the value is not an http(s) URL',
      'masking.hashKey: the value is 10 characters long; a hash key needs at least 16',
    ]);
    assertNoSecret(problems, ['987654321', 'TOKSECRET', 'DUPTOKEN', 'HASHSECRET', 'HOOKSECRET', 'WHSECRET']);
  });

  test('audit store URLs, which carry a password', () => {
    assertNoSecret(problemsOf((c) => { c.audit = { store: 'mysql://root:PGSECRET@db/audit' }; }), ['PGSECRET', 'root']);
    assertNoSecret(problemsOf((c) => { c.audit = { store: 'postgres://root:PGSECRET@/audit' }; }), ['PGSECRET']);
  });

  test('malformed references inside a secret', () => {
    const problems = problemsOf((c) => { c.identity.serviceAccounts[0].secret = 'abc${NOT VALID}SASECRET'; });
    assert.deepEqual(problems, [
      'identity.serviceAccounts[0].secret: the value has an invalid variable reference (names are letters, digits and _; write $${ for a literal ${)',
    ]);
    assertNoSecret(problems, ['NOT VALID', 'SASECRET']);
  });

  test('YAML syntax errors on a secret line', () => {
    const text = stringify(baseConfig()).replace('password: pw', 'password: "UNTERMINATED-SECRET\n      x: 1');
    assertNoSecret(problemsOfText(text), ['UNTERMINATED-SECRET']);
    const text2 = stringify(baseConfig()).replace('password: pw', 'password: a: SECRET2');
    assertNoSecret(problemsOfText(text2), ['SECRET2']);
  });
});

describe('redactConfig', () => {
  test('returns a printable copy without any secret, and leaves the config alone', () => {
    const raw = baseConfig();
    raw.targets[0].upstream.password = 'UPSTREAM-SECRET';
    raw.tls = { cert: './certs/gateway.pem', key: './certs/gateway-key.pem' };
    raw.identity.admins = [{ name: 'alice', token: 'ADMIN-TOKEN-SECRET-123' }];
    raw.audit = { store: 'postgres://audit:PG-SECRET@db.example:5432/audit?sslpassword=PG-SECRET-2' };
    raw.approvals = { approvers: ['dba'], webhook: 'https://hooks.example.com/services/HOOK-SECRET', webhookSecret: 'WEBHOOK-SECRET' };
    raw.masking = { hashKey: 'HASH-KEY-SECRET-0123' };
    const config = parseConfig(stringify(raw), FILE, {}, memFiles());
    const printed = JSON.stringify(redactConfig(config));
    for (const s of ['UPSTREAM-SECRET', 's3cret-value-123', 'ADMIN-TOKEN-SECRET', 'PG-SECRET', 'HOOK-SECRET', 'WEBHOOK-SECRET', 'HASH-KEY-SECRET', 'PRIVATE KEY']) {
      assert.ok(!printed.includes(s), `${s} is printed`);
    }
    const r = redactConfig(config);
    assert.equal(r.targets[0]!.upstream.password, '***');
    assert.equal(r.audit.store, 'postgres://audit:***@db.example:5432/audit?***');
    assert.equal(r.approvals.webhook, 'https://hooks.example.com/***');
    assert.equal(r.identity.serviceAccounts[0]!.name, 'ci');
    assert.match(r.tls!.certPem, /BEGIN CERTIFICATE/);
    // The original keeps its secrets: the gateway still needs them.
    assert.equal(config.targets[0]!.upstream.password, 'UPSTREAM-SECRET');
    assert.equal(config.identity.admins[0]!.token, 'ADMIN-TOKEN-SECRET-123');
  });

  test('an empty upstream password stays visibly empty', () => {
    const config = parseConfig(stringify(baseConfig()).replace('password: pw', 'password: ""'), FILE, {}, memFiles());
    assert.equal(redactConfig(config).targets[0]!.upstream.password, '');
  });
});
